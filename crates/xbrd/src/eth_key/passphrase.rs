//! Where a keystore's passphrase comes from: a file, an environment variable or a systemd credential.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::config::KeyFileError;
use crate::config::secret::{credential_path, read_private_file};

pub use crate::config::secret::CREDENTIALS_DIRECTORY;

/// One passphrase source (the three are mutually exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    /// A file (mode 0600); one trailing newline (`\n` or `\r\n`) is not part of the passphrase.
    File(PathBuf),
    /// An environment variable's value, as is.
    Env(String),
    /// A systemd credential: the file `$CREDENTIALS_DIRECTORY/<name>`, read like [`PassphraseSource::File`].
    Credential(String),
}

impl fmt::Display for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassphraseSource::File(p) => write!(f, "file {}", p.display()),
            PassphraseSource::Env(var) => write!(f, "environment variable {var}"),
            PassphraseSource::Credential(name) => write!(f, "systemd credential {name:?}"),
        }
    }
}

impl PassphraseSource {
    /// Reads the passphrase; `env` is the process environment (explicit for tests).
    pub fn read(&self, env: &BTreeMap<String, String>) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let unusable = |reason: String| KeyFileError::Passphrase {
            from: self.to_string(),
            reason,
        };
        match self {
            PassphraseSource::File(path) => read_passphrase_file(path),
            PassphraseSource::Env(var) => env
                .get(var)
                .map(|v| Zeroizing::new(v.as_bytes().to_vec()))
                .ok_or_else(|| unusable("the variable is not set".into())),
            PassphraseSource::Credential(name) => {
                read_passphrase_file(&credential_path(name, env).map_err(unusable)?)
            }
        }
    }
}

fn read_passphrase_file(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let bytes = read_private_file(path)?;
    let mut text = bytes.expose().as_slice();
    if let Some(rest) = text.strip_suffix(b"\n") {
        text = rest.strip_suffix(b"\r").unwrap_or(rest);
    }
    Ok(Zeroizing::new(text.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_file(dir: &std::path::Path, name: &str, content: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    #[test]
    fn file_strips_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::new();
        for (content, want) in [
            (&b"pass word\n"[..], &b"pass word"[..]),
            (b"crlf\r\n", b"crlf"),
            (b"two\n\n", b"two\n"),
            (b" spaced ", b" spaced "),
        ] {
            let p = private_file(dir.path(), "p", content);
            let got = PassphraseSource::File(p).read(&env).unwrap();
            assert_eq!(got.as_slice(), want);
        }
    }

    #[test]
    fn file_mode_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = private_file(dir.path(), "p", b"x");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = PassphraseSource::File(p)
            .read(&BTreeMap::new())
            .unwrap_err();
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o640, .. }),
            "{err}"
        );
    }

    #[test]
    fn env_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        private_file(dir.path(), "xbrd-key", b"from systemd\n");
        let mut env = BTreeMap::new();
        let var = PassphraseSource::Env("XBRD_TEST_PASS".into());
        let cred = PassphraseSource::Credential("xbrd-key".into());
        let err = var.read(&env).unwrap_err().to_string();
        assert!(
            err.contains("XBRD_TEST_PASS") && err.contains("not set"),
            "{err}"
        );
        let err = cred.read(&env).unwrap_err().to_string();
        assert!(err.contains("CREDENTIALS_DIRECTORY"), "{err}");
        env.insert("XBRD_TEST_PASS".into(), "from env\n".into());
        env.insert(
            CREDENTIALS_DIRECTORY.into(),
            dir.path().display().to_string(),
        );
        assert_eq!(var.read(&env).unwrap().as_slice(), b"from env\n");
        assert_eq!(cred.read(&env).unwrap().as_slice(), b"from systemd");
        let err = PassphraseSource::Credential("../xbrd-key".into())
            .read(&env)
            .unwrap_err();
        assert!(matches!(err, KeyFileError::Passphrase { .. }), "{err}");
    }
}

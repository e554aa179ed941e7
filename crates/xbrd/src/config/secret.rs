//! Secret values and key files: redacted `Debug`, zeroed on drop, strict file modes.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// A secret value (private key, ticket, token). `Debug` and `Display` never show it; memory is zeroed on drop.
#[derive(Clone)]
pub struct Secret<T: zeroize::Zeroize>(Zeroizing<T>);

impl<T: zeroize::Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret value. Call sites are the only places a secret is read; keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: zeroize::Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Group or others may read the file.
    #[error(
        "key file {path} is readable by group or others (mode {mode:04o}); restrict it with `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The content is not in an accepted form.
    #[error("key file {path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the content).
        reason: String,
    },
    // Keystore files and their passphrases (see `crate::eth_key`).
    /// A JSON key file that is not a usable Ethereum keystore v3.
    #[error("keystore {path}: {reason}")]
    Keystore {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The passphrase does not open the keystore (its MAC does not match).
    #[error("keystore {path}: wrong passphrase")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// A keystore, but no passphrase source was given.
    #[error("{path} is an encrypted keystore but no passphrase is given: set {hint}")]
    PassphraseMissing {
        /// The keystore file.
        path: PathBuf,
        /// The settings that give one.
        hint: String,
    },
    /// A passphrase source was given for a plain (unencrypted) key file.
    #[error("{path} is a plain key file, not a keystore: it takes no passphrase")]
    PassphraseUnused {
        /// The key file.
        path: PathBuf,
    },
    /// The passphrase source cannot be read (an unset variable, no credentials directory).
    #[error("cannot read the passphrase from {from}: {reason}")]
    Passphrase {
        /// The source, e.g. `environment variable XBRD_KEY_PASSPHRASE` (never the value).
        from: String,
        /// Why.
        reason: String,
    },
}

/// The environment variable systemd sets to the directory of the unit's credentials (`LoadCredential=`).
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The file of the systemd credential `name`: `$CREDENTIALS_DIRECTORY/<name>` (`env` is the
/// process environment). `Err` says why there is none (a bad name, no credentials directory).
pub fn credential_path(
    name: &str,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<PathBuf, String> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err("a credential name is a plain file name".into());
    }
    let dir = env.get(CREDENTIALS_DIRECTORY).ok_or_else(|| {
        format!(
            "${CREDENTIALS_DIRECTORY} is not set (run under systemd with \
             `LoadCredential={name}:<file>` or `SetCredentialEncrypted=`)"
        )
    })?;
    Ok(PathBuf::from(dir).join(name))
}

/// Refuses files that group or others can read or write (mode & 0o077 != 0).
pub fn check_private_file_mode(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Reads a private file after checking its mode.
pub fn read_private_file(path: &Path) -> Result<Secret<Vec<u8>>, KeyFileError> {
    check_private_file_mode(path)?;
    let bytes = std::fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Secret::new(bytes))
}

/// Reads a text secret (ticket, WAMP-CRA secret, admin token): the file's content, surrounding whitespace trimmed.
pub fn read_text_secret(path: &Path) -> Result<Secret<String>, KeyFileError> {
    let bytes = read_private_file(path)?;
    let text = std::str::from_utf8(bytes.expose()).map_err(|_| KeyFileError::Format {
        path: path.to_owned(),
        reason: "expected UTF-8 text".into(),
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyFileError::Format {
            path: path.to_owned(),
            reason: "the file is empty".into(),
        });
    }
    Ok(Secret::new(text.to_owned()))
}

/// Which key a tagged key file entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// secp256k1 Ethereum private key (tag `private-key-eth`).
    Ethereum,
    /// Ed25519 WAMP-cryptosign seed (tag `private-key-ed25519`).
    Cryptosign,
}

impl KeyKind {
    fn tag(self) -> &'static str {
        match self {
            KeyKind::Ethereum => "private-key-eth",
            KeyKind::Cryptosign => "private-key-ed25519",
        }
    }
}

/// Reads a 32-byte private key from a file in one of the accepted forms:
/// - 32 raw bytes (the reference market maker's `.xbrmm.key`),
/// - hex text, optionally `0x`-prefixed,
/// - an Autobahn/XBR tagged key file (`tag: value` lines; `private-key-eth` / `private-key-ed25519`).
pub fn read_key_file(path: &Path, kind: KeyKind) -> Result<Secret<[u8; 32]>, KeyFileError> {
    let bytes = read_private_file(path)?;
    parse_key(bytes.expose(), kind).map_err(|reason| KeyFileError::Format {
        path: path.to_owned(),
        reason,
    })
}

pub(crate) fn parse_key(bytes: &[u8], kind: KeyKind) -> Result<Secret<[u8; 32]>, String> {
    if bytes.len() == 32 && std::str::from_utf8(bytes).is_err() {
        let mut key = [0u8; 32];
        key.copy_from_slice(bytes);
        return Ok(Secret::new(key));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "expected 32 raw bytes, hex text or a tagged key file".to_string())?;
    let hex_text = if text.contains(':') {
        let tag = kind.tag();
        text.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(k, _)| k.trim() == tag)
            .map(|(_, v)| v.trim())
            .ok_or_else(|| format!("tagged key file has no `{tag}` line"))?
    } else {
        text.trim()
    };
    decode_key_hex(hex_text)
}

/// Decodes a 32-byte key from hex (optionally `0x`-prefixed). The error never contains the input.
pub fn decode_key_hex(text: &str) -> Result<Secret<[u8; 32]>, String> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    let mut key = [0u8; 32];
    hex::decode_to_slice(digits, &mut key).map_err(|_| {
        "expected a 32-byte key as 64 hex digits (optionally 0x-prefixed)".to_string()
    })?;
    Ok(Secret::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn debug_redacts() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
    }

    #[test]
    fn key_forms() {
        let raw = [7u8; 32];
        // 0x07 repeated is valid UTF-8, so raw detection needs non-UTF-8 bytes; use 0xff.
        let raw_ff = [0xffu8; 32];
        assert_eq!(
            parse_key(&raw_ff, KeyKind::Ethereum).unwrap().expose(),
            &raw_ff
        );
        let hex = format!("0x{}\n", hex::encode(raw));
        assert_eq!(
            parse_key(hex.as_bytes(), KeyKind::Ethereum)
                .unwrap()
                .expose(),
            &raw
        );
        let tagged = format!(
            "creator: test\npublic-adr-eth: 0xabc\nprivate-key-ed25519: {}\nprivate-key-eth: {}\n",
            hex::encode([1u8; 32]),
            hex::encode([2u8; 32])
        );
        assert_eq!(
            parse_key(tagged.as_bytes(), KeyKind::Ethereum)
                .unwrap()
                .expose(),
            &[2u8; 32]
        );
        assert_eq!(
            parse_key(tagged.as_bytes(), KeyKind::Cryptosign)
                .unwrap()
                .expose(),
            &[1u8; 32]
        );
        let err = parse_key(b"zz", KeyKind::Ethereum).unwrap_err();
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn world_readable_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, hex::encode([3u8; 32])).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_key_file(&p, KeyKind::Ethereum).unwrap_err();
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_key_file(&p, KeyKind::Ethereum).unwrap().expose(),
            &[3u8; 32]
        );
    }
}

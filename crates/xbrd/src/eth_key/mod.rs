//! Ethereum keys as operators hold them, for every command and the configuration loader: a raw
//! key file (hex, 32 bytes or a tagged key file, see [`crate::config::secret::read_key_file`]) or
//! an Ethereum keystore v3 JSON file ([`keystore`]) opened with a passphrase from a file, an
//! environment variable or a systemd credential ([`PassphraseSource`]).
//!
//! Key files and passphrase files must be private (mode 0600). Neither the key nor the passphrase
//! ever reaches a log, an error message or a `Debug` rendering.

pub mod keystore;
pub mod passphrase;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use xbr_core::eth::EthPrivateKey;

pub use passphrase::{CREDENTIALS_DIRECTORY, PassphraseSource};

use crate::config::secret::{KeyKind, parse_key, read_private_file};
use crate::config::{ConfigError, KeyFileError};

/// The names under which the key file and the passphrase sources were given, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFields {
    /// The key file, e.g. `--key-file`.
    pub key_file: &'static str,
    /// The passphrase file.
    pub passphrase_file: &'static str,
    /// The passphrase environment variable.
    pub passphrase_env: &'static str,
    /// The passphrase credential.
    pub passphrase_credential: &'static str,
}

impl KeyFields {
    /// The command-line flags of [`EthKeyArgs`].
    pub const CLI: KeyFields = KeyFields {
        key_file: "--key-file",
        passphrase_file: "--passphrase-file",
        passphrase_env: "--passphrase-env",
        passphrase_credential: "--passphrase-credential",
    };
    /// The daemon configuration's `[ethereum]` fields.
    pub const CONFIG: KeyFields = KeyFields {
        key_file: "ethereum.private_key_file",
        passphrase_file: "ethereum.private_key_passphrase_file",
        passphrase_env: "ethereum.private_key_passphrase_env",
        passphrase_credential: "ethereum.private_key_passphrase_credential",
    };

    fn of(&self, source: &PassphraseSource) -> &'static str {
        match source {
            PassphraseSource::File(_) => self.passphrase_file,
            PassphraseSource::Env(_) => self.passphrase_env,
            PassphraseSource::Credential(_) => self.passphrase_credential,
        }
    }
}

/// Where an Ethereum key is: the key file and, for a keystore, the passphrase source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthKeySource {
    /// The key file (raw key or keystore v3 JSON).
    pub key_file: PathBuf,
    /// The keystore's passphrase; `None` for a raw key file.
    pub passphrase: Option<PassphraseSource>,
    /// The names the settings were given under (errors name them).
    pub fields: KeyFields,
}

/// Loads the key `source` names; `env` is the process environment (passphrase variables and
/// `CREDENTIALS_DIRECTORY`). A keystore without a passphrase source, a passphrase source for a
/// raw key, a wrong passphrase or a keystore whose `address` does not match its key are errors.
pub fn load_eth_key(
    source: &EthKeySource,
    env: &BTreeMap<String, String>,
) -> Result<EthPrivateKey, ConfigError> {
    let fields = source.fields;
    let path = &source.key_file;
    let key_error = |field: &str| {
        let field = field.to_owned();
        move |source: KeyFileError| ConfigError::KeyFile { field, source }
    };
    let bytes = read_private_file(path).map_err(key_error(fields.key_file))?;
    let (key, expected_address) = if keystore::looks_like_keystore(bytes.expose()) {
        let Some(from) = &source.passphrase else {
            return Err(key_error(fields.key_file)(
                KeyFileError::PassphraseMissing {
                    path: path.clone(),
                    hint: format!(
                        "one of {}, {} or {}",
                        fields.passphrase_file, fields.passphrase_env, fields.passphrase_credential
                    ),
                },
            ));
        };
        let passphrase = from.read(env).map_err(key_error(fields.of(from)))?;
        tracing::debug!(key_file = %path.display(), passphrase = %from, "decrypting keystore");
        keystore::decrypt(path, bytes.expose(), &passphrase).map_err(key_error(fields.key_file))?
    } else {
        if let Some(from) = &source.passphrase {
            return Err(key_error(fields.of(from))(KeyFileError::PassphraseUnused {
                path: path.clone(),
            }));
        }
        let key = parse_key(bytes.expose(), KeyKind::Ethereum).map_err(|reason| {
            key_error(fields.key_file)(KeyFileError::Format {
                path: path.clone(),
                reason,
            })
        })?;
        (zeroize::Zeroizing::new(*key.expose()), None)
    };
    let format_error = |reason: &str| {
        key_error(fields.key_file)(KeyFileError::Format {
            path: path.clone(),
            reason: reason.into(),
        })
    };
    let key = EthPrivateKey::from_bytes(&key)
        .map_err(|_| format_error("the key is not a valid secp256k1 private key"))?;
    if expected_address.is_some_and(|a| a != key.address()) {
        return Err(format_error(
            "the keystore's `address` does not match the key it holds (a corrupt or edited file)",
        ));
    }
    Ok(key)
}

/// The key flags every `xbrd chain` command that signs takes: `--key-file` and at most one of
/// `--passphrase-file`, `--passphrase-env`, `--passphrase-credential` (for a keystore).
#[derive(Debug, Clone, Default, Args)]
pub struct EthKeyArgs {
    /// Ethereum key file (mode 0600): a keystore v3 JSON file (geth, `cast wallet new`, a MetaMask
    /// export) or a raw key (64 hex digits, 32 bytes, or a tagged key file from `xbrd keygen`).
    #[arg(long = "key-file", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Read the keystore's passphrase from this file (mode 0600; one trailing newline is ignored).
    #[arg(long, value_name = "FILE", requires = "key_file",
          conflicts_with_all = ["passphrase_env", "passphrase_credential"])]
    pub passphrase_file: Option<PathBuf>,
    /// Read the keystore's passphrase from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        requires = "key_file",
        conflicts_with = "passphrase_credential"
    )]
    pub passphrase_env: Option<String>,
    /// Read the keystore's passphrase from this systemd credential (`$CREDENTIALS_DIRECTORY/NAME`,
    /// e.g. from `LoadCredential=NAME:/etc/xbrd/passphrase`).
    #[arg(long, value_name = "NAME", requires = "key_file")]
    pub passphrase_credential: Option<String>,
}

impl EthKeyArgs {
    /// The passphrase source given, if any.
    pub fn passphrase(&self) -> Option<PassphraseSource> {
        match (
            &self.passphrase_file,
            &self.passphrase_env,
            &self.passphrase_credential,
        ) {
            (Some(f), _, _) => Some(PassphraseSource::File(f.clone())),
            (None, Some(v), _) => Some(PassphraseSource::Env(v.clone())),
            (None, None, Some(c)) => Some(PassphraseSource::Credential(c.clone())),
            (None, None, None) => None,
        }
    }

    /// The key source, when `--key-file` was given.
    pub fn source(&self) -> Option<EthKeySource> {
        Some(EthKeySource {
            key_file: self.key_file.clone()?,
            passphrase: self.passphrase(),
            fields: KeyFields::CLI,
        })
    }

    /// Loads the key with the process environment; `--key-file` missing is an error.
    pub fn load(&self) -> Result<EthPrivateKey, ConfigError> {
        let source = self.source().ok_or_else(|| ConfigError::Missing {
            field: KeyFields::CLI.key_file.into(),
            expected: "an Ethereum key file: a keystore v3 JSON file or a raw key (mode 0600)"
                .into(),
        })?;
        let env: BTreeMap<String, String> = std::env::vars().collect();
        load_eth_key(&source, &env)
    }
}

#[cfg(test)]
mod tests;

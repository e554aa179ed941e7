//! `[authentication]`: the WAMP authentication method, its authid and its credential file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::parse::{invalid, key_file_error, missing, resolve};
use crate::config::raw::RawAuthentication;
use crate::config::secret::{self, KeyKind};
use crate::config::{AuthMethod, Authentication, ConfigError, Secret};

/// The cryptosign key given as a systemd credential.
const CREDENTIAL: &str = "authentication.private_key_credential";

const FORM: &str = "one of \"anonymous\", \"ticket\", \"wampcra\", \"cryptosign\"";

/// Validates `[authentication]`, reading the credential from its file (relative to `base`), or
/// from the systemd credentials directory named in `env`.
pub(super) fn parse_authentication(
    raw: &RawAuthentication,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Authentication, ConfigError> {
    let file = |name: &str, value: &Option<String>, what: &str| -> Result<PathBuf, ConfigError> {
        value
            .as_deref()
            .map(|p| resolve(base, p))
            .ok_or_else(|| missing(format!("authentication.{name}"), what.to_string()))
    };
    let need_authid = |method: &str| -> Result<(), ConfigError> {
        if raw.authid.is_none() {
            return Err(missing(
                "authentication.authid",
                format!("the authid to log in with ({method})"),
            ));
        }
        Ok(())
    };
    // Ticket and WAMP-CRA: an authid and a text secret from the file in field `name`.
    let text_secret = |method: &str,
                       name: &str,
                       value: &Option<String>,
                       what: &str|
     -> Result<Secret<String>, ConfigError> {
        need_authid(method)?;
        let field = format!("authentication.{name}");
        secret::read_text_secret(&file(name, value, what)?).map_err(key_file_error(&field))
    };
    let method = match raw.method.as_deref().map(str::trim) {
        None | Some("anonymous") => AuthMethod::Anonymous,
        Some("ticket") => AuthMethod::Ticket(text_secret(
            "ticket",
            "ticket_file",
            &raw.ticket_file,
            "a file holding the ticket (mode 0600)",
        )?),
        Some("wampcra") => AuthMethod::Wampcra(text_secret(
            "wampcra",
            "secret_file",
            &raw.secret_file,
            "a file holding the WAMP-CRA secret (mode 0600)",
        )?),
        Some("cryptosign") => {
            let (p, field) = match &raw.private_key_credential {
                None => (
                    file(
                        "private_key_file",
                        &raw.private_key_file,
                        "a file holding the Ed25519 seed: 64 hex digits or a tagged key file (mode 0600) \
                         (or private_key_credential, a systemd credential)",
                    )?,
                    "authentication.private_key_file",
                ),
                Some(_) if raw.private_key_file.is_some() => {
                    return Err(invalid(
                        CREDENTIAL,
                        "at most one of authentication.private_key_file and authentication.private_key_credential",
                        "both are set",
                    ));
                }
                Some(name) => (
                    secret::credential_path(name, env).map_err(|reason| {
                        invalid(
                            CREDENTIAL,
                            "the name of a systemd credential holding the key (LoadCredential=)",
                            format!("{name:?}: {reason}"),
                        )
                    })?,
                    CREDENTIAL,
                ),
            };
            AuthMethod::Cryptosign(
                secret::read_key_file(&p, KeyKind::Cryptosign).map_err(key_file_error(field))?,
            )
        }
        Some(other) => return Err(invalid("authentication.method", FORM, format!("{other:?}"))),
    };
    Ok(Authentication {
        authid: raw.authid.clone(),
        authrole: raw.authrole.clone(),
        authextra: raw.authextra.clone(),
        method,
    })
}

//! Client-side authentication computations (anonymous, ticket, WAMP-CRA, cryptosign, SCRAM).
//!
//! Pure and sans-IO: the session state machine drives one [`AuthAttempt`] per HELLO.
//!
//! ```text
//! let attempt = client_auth.start(nonce);          // nonce: 32 random bytes from the caller
//! HELLO  details.authmethods = client_auth.authmethods(), authid/authrole from ClientAuth,
//!        details.authextra   = attempt.hello_authextra()
//! CHALLENGE(method, extra)  → attempt.on_challenge(method, &extra)? → AUTHENTICATE(signature, extra)
//! WELCOME(details)          → attempt.on_welcome(&details)?   (SCRAM verifies the router here)
//! ```
//! Any `Err(AuthError)` means: abort the join (the router cannot be answered or is not trusted).
//!
//! Per method:
//! - `anonymous`: no challenge expected; one is an error.
//! - `ticket`: the ticket is the AUTHENTICATE signature.
//! - `wampcra`: `base64(HMAC-SHA256(key, challenge))`, the key being the secret or, when the
//!   challenge carries `salt`/`iterations`/`keylen`, the base64 text of the PBKDF2-derived key
//!   (see [`wampcra`]).
//! - `cryptosign`: HELLO `authextra.pubkey` = hex public key; the answer is
//!   `hex(ed25519_signature(challenge) ‖ challenge)` (see [`cryptosign`]). Channel binding
//!   (`tls-unique`) is not offered: rustls exposes no `tls-unique` value (and TLS 1.3 has none), so a
//!   CHALLENGE naming a binding is refused with [`AuthError::UnsupportedChannelBinding`].
//! - `scram`: HELLO `authextra` = `{"nonce": base64(nonce), "channel_binding": null}`; the answer is
//!   `base64(ClientProof)` with extra `{"nonce", "channel_binding": null}`; WELCOME
//!   `authextra.scram_server_signature` must verify (see [`scram`]).
//!
//! Method-specific HELLO `authextra` keys override the same keys in [`ClientAuth::authextra`].

pub mod cryptosign;
mod error;
pub mod scram;
mod secret;
pub mod wampcra;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use cryptosign::CryptosignKey;
pub use error::AuthError;
pub use secret::Secret;

use crate::value::{Dict, Value};

/// The credentials of one authentication method.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `anonymous`: no secret.
    Anonymous,
    /// `ticket`: a static ticket (password or token) sent as is.
    Ticket {
        /// The ticket.
        ticket: Secret,
    },
    /// `wampcra`: a shared secret; salted secrets are derived with the challenge's PBKDF2 parameters.
    WampCra {
        /// The secret.
        secret: Secret,
    },
    /// `cryptosign`: an Ed25519 key.
    Cryptosign {
        /// The private key.
        key: CryptosignKey,
    },
    /// `scram`: a password (argon2id or PBKDF2, as the router's challenge says).
    Scram {
        /// The password.
        password: Secret,
    },
}

impl Credentials {
    /// The authmethod string of these credentials.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Ticket { .. } => "ticket",
            Self::WampCra { .. } => wampcra::METHOD,
            Self::Cryptosign { .. } => cryptosign::METHOD,
            Self::Scram { .. } => scram::METHOD,
        }
    }
}

/// How a client authenticates: identity, requested role, credentials and extra HELLO `authextra`.
///
/// `Debug` never shows secrets.
#[derive(Clone, Debug)]
pub struct ClientAuth {
    /// HELLO `authid`.
    pub authid: Option<String>,
    /// HELLO `authrole`.
    pub authrole: Option<String>,
    /// The method and its secret.
    pub credentials: Credentials,
    /// Extra HELLO `authextra` entries (method-specific entries are added by [`AuthAttempt`]).
    pub authextra: Dict,
}

impl ClientAuth {
    fn with_credentials(authid: Option<String>, credentials: Credentials) -> Self {
        Self {
            authid,
            authrole: None,
            credentials,
            authextra: Dict::new(),
        }
    }

    /// Anonymous authentication (no authid).
    pub fn anonymous() -> Self {
        Self::with_credentials(None, Credentials::Anonymous)
    }

    /// Ticket authentication.
    pub fn ticket(authid: impl Into<String>, ticket: impl Into<Secret>) -> Self {
        Self::with_credentials(
            Some(authid.into()),
            Credentials::Ticket {
                ticket: ticket.into(),
            },
        )
    }

    /// WAMP-CRA authentication (plain or salted secret: the router's challenge says which).
    pub fn wampcra(authid: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Self::with_credentials(
            Some(authid.into()),
            Credentials::WampCra {
                secret: secret.into(),
            },
        )
    }

    /// WAMP-cryptosign authentication with an Ed25519 key.
    pub fn cryptosign(authid: impl Into<String>, key: CryptosignKey) -> Self {
        Self::with_credentials(Some(authid.into()), Credentials::Cryptosign { key })
    }

    /// WAMP-SCRAM authentication.
    pub fn scram(authid: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::with_credentials(
            Some(authid.into()),
            Credentials::Scram {
                password: password.into(),
            },
        )
    }

    /// Sets the requested `authrole`.
    pub fn with_authrole(mut self, authrole: impl Into<String>) -> Self {
        self.authrole = Some(authrole.into());
        self
    }

    /// Sets extra HELLO `authextra` entries.
    pub fn with_authextra(mut self, authextra: Dict) -> Self {
        self.authextra = authextra;
        self
    }

    /// HELLO `authmethods`: the single method of the credentials, e.g. `["wampcra"]`.
    pub fn authmethods(&self) -> Vec<String> {
        vec![self.credentials.method().to_owned()]
    }

    /// Starts one authentication attempt (one per HELLO). `nonce` is fresh randomness from the
    /// caller; SCRAM uses it as its client nonce.
    pub fn start(&self, nonce: [u8; 32]) -> AuthAttempt {
        AuthAttempt {
            auth: self.clone(),
            client_nonce: STANDARD.encode(nonce),
            client_nonce_bytes: nonce,
            scram: None,
        }
    }
}

/// The state of one authentication attempt: from HELLO to WELCOME.
pub struct AuthAttempt {
    auth: ClientAuth,
    /// base64 of `client_nonce_bytes`, as sent in HELLO (SCRAM).
    client_nonce: String,
    client_nonce_bytes: [u8; 32],
    /// The SCRAM exchange once a challenge was answered.
    scram: Option<scram::ClientFinal>,
}

impl fmt::Debug for AuthAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthAttempt")
            .field("authmethod", &self.auth.credentials.method())
            .field("authid", &self.auth.authid)
            .field("challenge_answered", &self.scram.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthAttempt {
    /// The method this attempt authenticates with.
    pub fn authmethod(&self) -> &'static str {
        self.auth.credentials.method()
    }

    /// HELLO `details.authextra`: [`ClientAuth::authextra`] plus what the method needs
    /// (cryptosign: `pubkey`; SCRAM: `nonce` and `channel_binding: null`).
    pub fn hello_authextra(&self) -> Dict {
        let mut extra = self.auth.authextra.clone();
        match &self.auth.credentials {
            Credentials::Cryptosign { key } => {
                extra.insert("pubkey".into(), Value::from(key.public_key_hex()));
            }
            Credentials::Scram { .. } => {
                extra.insert("nonce".into(), Value::from(self.client_nonce.clone()));
                extra.insert("channel_binding".into(), Value::Null);
            }
            Credentials::Anonymous | Credentials::Ticket { .. } | Credentials::WampCra { .. } => {}
        }
        extra
    }

    /// Answers a CHALLENGE: returns the AUTHENTICATE `(signature, extra)`.
    pub fn on_challenge(
        &mut self,
        authmethod: &str,
        extra: &Dict,
    ) -> Result<(String, Dict), AuthError> {
        let offered = self.auth.credentials.method();
        if authmethod != offered {
            return Err(AuthError::UnsupportedMethod {
                got: authmethod.to_owned(),
                offered,
            });
        }
        match &self.auth.credentials {
            Credentials::Anonymous => Err(AuthError::UnsupportedMethod {
                got: authmethod.to_owned(),
                offered,
            }),
            Credentials::Ticket { ticket } => Ok((ticket.expose().to_owned(), Dict::new())),
            Credentials::WampCra { secret } => Ok((answer_wampcra(secret, extra)?, Dict::new())),
            Credentials::Cryptosign { key } => Ok((answer_cryptosign(key, extra)?, Dict::new())),
            Credentials::Scram { password } => {
                let fields = ScramChallenge::parse(extra)?;
                if !scram::nonce_extends(fields.nonce, &self.client_nonce, &self.client_nonce_bytes)
                {
                    return Err(AuthError::NonceMismatch);
                }
                let authid = self.auth.authid.as_deref().ok_or(AuthError::MissingField {
                    method: scram::METHOD,
                    field: "authid",
                })?;
                let answer = scram::client_final(
                    authid,
                    password.as_bytes(),
                    &self.client_nonce,
                    fields.nonce,
                    fields.salt,
                    &fields.kdf,
                )?;
                let signature = answer.proof.clone();
                let mut reply = Dict::new();
                reply.insert("nonce".into(), Value::from(fields.nonce));
                reply.insert("channel_binding".into(), Value::Null);
                self.scram = Some(answer);
                Ok((signature, reply))
            }
        }
    }

    /// Checks WELCOME `details`: for SCRAM, `authextra.scram_server_signature` must verify against
    /// the answered challenge (mutual authentication). Other methods accept any WELCOME.
    pub fn on_welcome(&self, details: &Dict) -> Result<(), AuthError> {
        if !matches!(self.auth.credentials, Credentials::Scram { .. }) {
            return Ok(());
        }
        let answer = self.scram.as_ref().ok_or(AuthError::ServerNotVerified)?;
        let missing = AuthError::MissingField {
            method: scram::METHOD,
            field: "scram_server_signature",
        };
        let authextra = match details.get("authextra") {
            None | Some(Value::Null) => return Err(missing),
            Some(Value::Dict(authextra)) => authextra,
            Some(other) => {
                return Err(AuthError::InvalidField {
                    method: scram::METHOD,
                    field: "authextra",
                    reason: format!("expected a dict, got {}", other.kind()),
                });
            }
        };
        let signature = required_str(authextra, scram::METHOD, "scram_server_signature")?;
        answer.verify_server_signature(signature)
    }
}

/// WAMP-CRA: `challenge` (string), optional `salt` (string or bytes) with `iterations` and `keylen`.
fn answer_wampcra(secret: &Secret, extra: &Dict) -> Result<String, AuthError> {
    const M: &str = wampcra::METHOD;
    let challenge = required_str(extra, M, "challenge")?;
    let salt = match present(extra, "salt") {
        None => None,
        Some(Value::Str(s)) => Some(s.as_bytes()),
        Some(Value::Bytes(b)) => Some(b.as_slice()),
        Some(other) => return Err(wrong_type(M, "salt", "a string", other)),
    };
    match salt {
        None => Ok(wampcra::compute_signature(
            secret.as_bytes(),
            challenge.as_bytes(),
        )),
        Some(salt) => {
            let iterations = required_u64(extra, M, "iterations")?;
            let keylen = required_u64(extra, M, "keylen")?;
            let iterations = u32::try_from(iterations).map_err(|_| AuthError::InvalidField {
                method: M,
                field: "iterations",
                reason: format!("{iterations} is too large"),
            })?;
            let keylen = usize::try_from(keylen).unwrap_or(usize::MAX);
            let key = wampcra::derive_key(secret.as_bytes(), salt, iterations, keylen)?;
            Ok(wampcra::compute_signature(
                key.as_bytes(),
                challenge.as_bytes(),
            ))
        }
    }
}

/// Cryptosign: `challenge` (64 hex digits); `channel_binding` must be absent or null.
fn answer_cryptosign(key: &CryptosignKey, extra: &Dict) -> Result<String, AuthError> {
    const M: &str = cryptosign::METHOD;
    reject_channel_binding(extra, M)?;
    let challenge = cryptosign::parse_challenge(required_str(extra, M, "challenge")?)?;
    Ok(key.sign_challenge(&challenge, None))
}

/// The fields of a SCRAM CHALLENGE extra.
struct ScramChallenge<'a> {
    nonce: &'a str,
    salt: &'a str,
    kdf: scram::Kdf,
}

impl<'a> ScramChallenge<'a> {
    fn parse(extra: &'a Dict) -> Result<Self, AuthError> {
        const M: &str = scram::METHOD;
        reject_channel_binding(extra, M)?;
        let nonce = required_str(extra, M, "nonce")?;
        let salt = required_str(extra, M, "salt")?;
        let kdf = required_str(extra, M, "kdf")?;
        let iterations = required_u64(extra, M, "iterations")?;
        let memory = match present(extra, "memory") {
            None => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .ok_or_else(|| wrong_type(M, "memory", "a non-negative integer", value))?,
            ),
        };
        let kdf = scram::Kdf::from_challenge(kdf, iterations, memory)?;
        Ok(Self { nonce, salt, kdf })
    }
}

/// Refuses a CHALLENGE that names a channel binding (none is offered; see the module docs).
fn reject_channel_binding(extra: &Dict, method: &'static str) -> Result<(), AuthError> {
    match present(extra, "channel_binding") {
        None => Ok(()),
        Some(Value::Str(s)) if s.is_empty() => Ok(()),
        Some(Value::Str(binding)) => Err(AuthError::UnsupportedChannelBinding {
            method,
            binding: binding.clone(),
        }),
        Some(other) => Err(wrong_type(
            method,
            "channel_binding",
            "a string or null",
            other,
        )),
    }
}

/// The field's value, treating `null` as absent.
fn present<'a>(extra: &'a Dict, field: &str) -> Option<&'a Value> {
    extra.get(field).filter(|v| !v.is_null())
}

fn required<'a>(
    extra: &'a Dict,
    method: &'static str,
    field: &'static str,
) -> Result<&'a Value, AuthError> {
    present(extra, field).ok_or(AuthError::MissingField { method, field })
}

fn required_str<'a>(
    extra: &'a Dict,
    method: &'static str,
    field: &'static str,
) -> Result<&'a str, AuthError> {
    let value = required(extra, method, field)?;
    value
        .as_str()
        .ok_or_else(|| wrong_type(method, field, "a string", value))
}

fn required_u64(extra: &Dict, method: &'static str, field: &'static str) -> Result<u64, AuthError> {
    let value = required(extra, method, field)?;
    value
        .as_u64()
        .ok_or_else(|| wrong_type(method, field, "a non-negative integer", value))
}

fn wrong_type(method: &'static str, field: &'static str, expected: &str, got: &Value) -> AuthError {
    let got = match got {
        Value::Int(i) => format!("integer {i}"),
        other => other.kind().to_owned(),
    };
    AuthError::InvalidField {
        method,
        field,
        reason: format!("expected {expected}, got {got}"),
    }
}

#[cfg(test)]
mod tests;

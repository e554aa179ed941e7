//! [`AuthError`]: why a challenge could not be answered or a WELCOME was not trusted.

/// An authentication step failed. The session should ABORT (or close) the join; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The router sent a CHALLENGE for a method this client did not offer (or cannot answer).
    #[error("router challenged with authmethod {got:?}, but this client offered {offered:?}")]
    UnsupportedMethod {
        /// The authmethod of the CHALLENGE.
        got: String,
        /// The authmethod this client offered in HELLO.
        offered: &'static str,
    },
    /// A required field is absent from a CHALLENGE extra or WELCOME details.
    #[error("{method}: {field:?} is missing")]
    MissingField {
        /// The authmethod being answered.
        method: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// A field is present but has the wrong type or an unusable value.
    #[error("{method}: {field:?} is invalid: {reason}")]
    InvalidField {
        /// The authmethod being answered.
        method: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The router asked for a channel binding this client does not provide.
    #[error("{method}: channel binding {binding:?} is not supported")]
    UnsupportedChannelBinding {
        /// The authmethod being answered.
        method: &'static str,
        /// The binding type the router named.
        binding: String,
    },
    /// The SCRAM challenge nonce does not extend the nonce this client sent in HELLO.
    #[error("scram: the challenge nonce does not start with the client nonce")]
    NonceMismatch,
    /// The router's SCRAM server signature in WELCOME does not verify: it does not know our credentials.
    #[error("scram: the router's server signature does not verify")]
    BadServerSignature,
    /// WELCOME arrived for SCRAM without a challenge having been answered, so the router was never verified.
    #[error("scram: WELCOME arrived before any challenge was answered; the router is unverified")]
    ServerNotVerified,
    /// A private key could not be parsed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

//! [`Secret`]: a string credential that is wiped from memory on drop and never printed.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string (ticket, WAMP-CRA secret, SCRAM password).
///
/// The bytes are overwritten with zeros when the value is dropped, and `Debug` prints only
/// `Secret(..)`, so a `Secret` inside a config or error struct cannot leak into logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the computation that needs it. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret as UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let secret = Secret::new("alice-ticket-secret");
        let printed = format!("{secret:?} {secret:#?}");
        assert!(!printed.contains("alice"), "{printed}");
        assert!(printed.contains("Secret(..)"));
    }

    #[test]
    fn exposes_the_value_for_computation() {
        let secret = Secret::from("s3cr3t");
        assert_eq!(secret.expose(), "s3cr3t");
        assert_eq!(secret.as_bytes(), b"s3cr3t");
        assert_eq!(secret.clone(), Secret::new(String::from("s3cr3t")));
    }
}

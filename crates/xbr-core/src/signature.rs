//! The 65-byte `r ‖ s ‖ v` signature as a value: what the wire carries (`b65`), the stores keep
//! and the admin API shows as `0x` + 130 lowercase hex digits.
//!
//! This type only holds the bytes; [`crate::eth`] signs and recovers (a stored signature may be
//! any 65 bytes, e.g. the reference's random offer signatures). It dereferences to `[u8]`, so
//! it can be passed where [`crate::eth::recover_digest`] or
//! [`crate::eip712::recover_typed`] take `&[u8]`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use alloy_primitives::hex;

use crate::eth::SIGNATURE_LEN;
use crate::ids::{IdError, TextOrBytes, array_from_slice, decode_hex_exact};

/// A 65-byte secp256k1 signature `r(32) ‖ s(32) ‖ v(1)`.
///
/// Displays and serialises as `0x` + 130 lowercase hex digits; parses with or without the
/// `0x` prefix, hex digits of either case.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; SIGNATURE_LEN]);

impl Signature {
    /// From a wire value (`b65`) that must be 65 bytes.
    pub fn from_slice(raw: &[u8]) -> Result<Self, IdError> {
        array_from_slice(raw).map(Self)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn into_bytes(self) -> [u8; SIGNATURE_LEN] {
        self.0
    }
}

impl From<[u8; SIGNATURE_LEN]> for Signature {
    fn from(bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self(bytes)
    }
}

impl From<Signature> for [u8; SIGNATURE_LEN] {
    fn from(sig: Signature) -> Self {
        sig.0
    }
}

impl TryFrom<&[u8]> for Signature {
    type Error = IdError;
    fn try_from(raw: &[u8]) -> Result<Self, IdError> {
        Self::from_slice(raw)
    }
}

impl Deref for Signature {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::str::FromStr for Signature {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        let mut out = [0u8; SIGNATURE_LEN];
        decode_hex_exact(digits, &mut out)?;
        Ok(Self(out))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextOrBytes(
            "a signature: 0x and 130 hex digits",
            PhantomData,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eip712::{EIP712MarketMemberLogin, recover_typed, sign_typed};
    use crate::eth::EthPrivateKey;

    fn signed() -> (EIP712MarketMemberLogin, EthPrivateKey, Signature) {
        let key = EthPrivateKey::from_hex(
            "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
        )
        .unwrap();
        let msg = EIP712MarketMemberLogin::new(key.address(), [3; 32]);
        let sig = sign_typed(&key, &msg);
        (msg, key, sig)
    }

    #[test]
    fn text_is_0x_and_130_lowercase_hex_digits() {
        let (_, _, sig) = signed();
        let text = sig.to_string();
        assert_eq!(text.len(), 132);
        assert!(text.starts_with("0x"));
        assert_eq!(text[2..], hex::encode(sig.as_bytes()));
        assert_eq!(text.parse::<Signature>(), Ok(sig));
        assert_eq!(text[2..].to_uppercase().parse::<Signature>(), Ok(sig));
        assert_eq!(format!("{sig:?}"), format!("Signature({text})"));
    }

    #[test]
    fn recovers_through_deref() {
        let (msg, key, sig) = signed();
        assert_eq!(recover_typed(&msg, &sig).unwrap(), key.address());
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert!(matches!(sig[64], 27 | 28));
    }

    #[test]
    fn bad_lengths_and_hex_are_rejected() {
        assert_eq!(
            Signature::from_slice(&[0; 64]),
            Err(IdError::BadLength {
                expected: 65,
                got: 64
            })
        );
        assert_eq!(Signature::from_slice(&[9; 65]), Ok(Signature([9; 65])));
        assert_eq!(
            "0x1234".parse::<Signature>(),
            Err(IdError::BadDigitCount {
                expected: 130,
                got: 4
            })
        );
        let not_hex = format!("0x{}", "z".repeat(130));
        assert_eq!(
            not_hex.parse::<Signature>(),
            Err(IdError::NotHex { ch: 'z' })
        );
    }

    #[test]
    fn serde_uses_the_hex_string() {
        let (_, _, sig) = signed();
        let json = serde_json::to_string(&sig).unwrap();
        assert_eq!(json, format!("\"{sig}\""));
        assert_eq!(serde_json::from_str::<Signature>(&json).unwrap(), sig);
        let err = serde_json::from_str::<Signature>("\"0xab\"").unwrap_err();
        assert!(err.to_string().contains("expected 130 hex digits"), "{err}");
    }
}

//! Payload encryption: CBOR serialisation compatible with the reference (`cbor2.dumps`) and NaCl
//! `crypto_secretbox` (XSalsa20-Poly1305) in the wire layout `nonce(24) ‖ tag(16) ‖ ct`.

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Nonce, Tag, XSalsa20Poly1305};
use rand_core::CryptoRngCore;
use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;

use crate::keys::DataKey;

/// Nonce length of XSalsa20-Poly1305.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Bytes added to the plaintext on the wire: nonce and tag.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// The only payload serializer of the protocol (`enc_ser`).
pub const ENC_SER_CBOR: &str = "cbor";

/// Why a payload could not be encrypted, decrypted or (de)serialised.
#[derive(Debug, Error)]
pub enum PayloadError {
    /// Shorter than nonce and tag.
    #[error("ciphertext too short: {len} bytes, need at least {OVERHEAD}")]
    TooShort {
        /// The length that was given.
        len: usize,
    },
    /// Authentication failed: wrong key, or tampered/corrupted data.
    #[error("payload authentication failed (wrong key or tampered ciphertext)")]
    Authentication,
    /// An `enc_ser` other than `"cbor"`.
    #[error("unsupported payload serializer {0:?} (only \"cbor\")")]
    UnsupportedSerializer(String),
    /// The value cannot be encoded as CBOR.
    #[error("CBOR encoding failed: {0}")]
    Encode(String),
    /// The plaintext is not valid CBOR for the requested type.
    #[error("CBOR decoding failed: {0}")]
    Decode(String),
}

/// Encodes a value as CBOR the way the reference's `cbor2.dumps` does for the same data model:
/// maps keep their (serialisation) order, byte strings stay byte strings (use
/// `serialize_bytes`-style types or `ciborium::Value::Bytes`), integers use the shortest form
/// and integers of 2^64 and above become tag-2 bignums.
///
/// One difference that any CBOR decoder (including `cbor2`) absorbs: floats are written in the
/// shortest width that keeps their value (`cbor2` always writes float64).
pub fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PayloadError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|e| PayloadError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes CBOR into a value.
pub fn from_cbor<T: DeserializeOwned>(cbor: &[u8]) -> Result<T, PayloadError> {
    ciborium::from_reader(cbor).map_err(|e| PayloadError::Decode(e.to_string()))
}

/// Encrypts `plaintext` with `nonce`: returns `nonce ‖ tag ‖ ciphertext` (libsodium "easy"
/// layout with the nonce prepended), `plaintext.len() + 40` bytes.
pub fn seal_with_nonce(key: &DataKey, nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XSalsa20Poly1305::new(key.as_bytes().into());
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&[0u8; TAG_LEN]);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", &mut out[OVERHEAD..])
        .expect("XSalsa20-Poly1305 accepts any in-memory plaintext length");
    out[NONCE_LEN..OVERHEAD].copy_from_slice(&tag);
    out
}

/// Encrypts `plaintext` with a fresh random nonce; see [`seal_with_nonce`].
pub fn seal(key: &DataKey, plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    seal_with_nonce(key, &nonce, plaintext)
}

/// Decrypts `nonce ‖ tag ‖ ciphertext`; fails with a typed error on short input, a wrong key
/// or any modification.
pub fn open(key: &DataKey, wire: &[u8]) -> Result<Vec<u8>, PayloadError> {
    if wire.len() < OVERHEAD {
        return Err(PayloadError::TooShort { len: wire.len() });
    }
    let cipher = XSalsa20Poly1305::new(key.as_bytes().into());
    let nonce = Nonce::from_slice(&wire[..NONCE_LEN]);
    let tag = Tag::from_slice(&wire[NONCE_LEN..OVERHEAD]);
    let mut plaintext = wire[OVERHEAD..].to_vec();
    cipher
        .decrypt_in_place_detached(nonce, b"", &mut plaintext, tag)
        .map_err(|_| PayloadError::Authentication)?;
    Ok(plaintext)
}

/// Checks the `enc_ser` value of a received triple; only `"cbor"` exists.
pub fn check_serializer(enc_ser: &str) -> Result<(), PayloadError> {
    if enc_ser == ENC_SER_CBOR {
        Ok(())
    } else {
        Err(PayloadError::UnsupportedSerializer(enc_ser.to_owned()))
    }
}

/// Serialises `value` as CBOR and encrypts it (the seller's `wrap` without the key choice).
pub fn encrypt_value<T: Serialize + ?Sized>(
    key: &DataKey,
    value: &T,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>, PayloadError> {
    Ok(seal(key, &to_cbor(value)?, rng))
}

/// Decrypts and decodes a CBOR payload (the buyer's `unwrap` after it has the key).
pub fn decrypt_value<T: DeserializeOwned>(key: &DataKey, wire: &[u8]) -> Result<T, PayloadError> {
    from_cbor(&open(key, wire)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_a_typed_error() {
        let key = DataKey::from_bytes([1; 32]);
        assert!(matches!(
            open(&key, &[0u8; 39]),
            Err(PayloadError::TooShort { len: 39 })
        ));
        // exactly nonce + tag of garbage: authentication error, no panic
        assert!(matches!(
            open(&key, &[0u8; 40]),
            Err(PayloadError::Authentication)
        ));
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let key = DataKey::from_bytes([2; 32]);
        let wire = seal_with_nonce(&key, &[3; 24], b"");
        assert_eq!(wire.len(), OVERHEAD);
        assert_eq!(open(&key, &wire).unwrap(), b"");
    }

    #[test]
    fn big_integers_become_bignums_like_cbor2() {
        // spec §2.4: 35e18 goes out as c2 49 01e5b8fa8fe2ac0000
        let cbor = to_cbor(&35_000_000_000_000_000_000u128).unwrap();
        assert_eq!(
            cbor,
            alloy_primitives::hex::decode("c24901e5b8fa8fe2ac0000").unwrap()
        );
        assert_eq!(
            from_cbor::<u128>(&cbor).unwrap(),
            35_000_000_000_000_000_000u128
        );
        assert_eq!(to_cbor(&1u64).unwrap(), [0x01]);
        assert!(matches!(
            from_cbor::<u64>(b"\xff"),
            Err(PayloadError::Decode(_))
        ));
    }

    #[test]
    fn only_cbor_serializer() {
        check_serializer("cbor").unwrap();
        assert!(matches!(
            check_serializer("json"),
            Err(PayloadError::UnsupportedSerializer(s)) if s == "json"
        ));
    }
}

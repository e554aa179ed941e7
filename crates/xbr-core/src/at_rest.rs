//! Keys at rest: data keys encrypted under a local key-encryption key (KEK) with
//! XChaCha20-Poly1305, for storing a seller's key archive.
//!
//! Blob layout: `version(1) ‖ nonce(24) ‖ ciphertext ‖ tag(16)`. The version byte and the
//! caller's associated data (e.g. the key id) are authenticated, so a blob cannot be moved to
//! another key id or reinterpreted under another format version.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::CryptoRngCore;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::{DATA_KEY_LEN, DataKey};

/// Current blob format version.
pub const AT_REST_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Length of a wrapped data key blob.
pub const WRAPPED_DATA_KEY_LEN: usize = 1 + NONCE_LEN + DATA_KEY_LEN + TAG_LEN;

/// Why a blob could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AtRestError {
    /// Shorter than version, nonce and tag (or not a wrapped data key's length).
    #[error("encrypted blob has a bad length: {len} bytes")]
    BadLength {
        /// The length that was given.
        len: usize,
    },
    /// A version byte this code does not know.
    #[error("unsupported at-rest format version {0}")]
    UnsupportedVersion(u8),
    /// Wrong KEK, wrong associated data, or tampered blob.
    #[error("at-rest authentication failed (wrong KEK, wrong associated data or tampered blob)")]
    Authentication,
}

/// A 32-byte key-encryption key. Wiped on drop; `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Kek([u8; 32]);

impl Kek {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Kek(bytes)
    }

    /// A fresh random KEK.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Kek(k)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

fn aad_with_version(aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + aad.len());
    v.push(AT_REST_VERSION);
    v.extend_from_slice(aad);
    v
}

/// Encrypts arbitrary secret bytes under `kek`, binding `aad`.
pub fn encrypt(kek: &Kek, aad: &[u8], plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(kek.as_bytes().into());
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad_with_version(aad),
            },
        )
        .expect("XChaCha20-Poly1305 accepts any in-memory plaintext length");
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    out.push(AT_REST_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Decrypts a blob made by [`encrypt`] with the same `kek` and `aad`.
pub fn decrypt(kek: &Kek, aad: &[u8], blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, AtRestError> {
    if blob.len() < 1 + NONCE_LEN + TAG_LEN {
        return Err(AtRestError::BadLength { len: blob.len() });
    }
    if blob[0] != AT_REST_VERSION {
        return Err(AtRestError::UnsupportedVersion(blob[0]));
    }
    let cipher = XChaCha20Poly1305::new(kek.as_bytes().into());
    cipher
        .decrypt(
            XNonce::from_slice(&blob[1..1 + NONCE_LEN]),
            Payload {
                msg: &blob[1 + NONCE_LEN..],
                aad: &aad_with_version(aad),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| AtRestError::Authentication)
}

/// Wraps a data key for storage; `aad` should identify it (e.g. the 16-byte key id).
pub fn wrap_data_key(
    kek: &Kek,
    aad: &[u8],
    key: &DataKey,
    rng: &mut impl CryptoRngCore,
) -> Vec<u8> {
    encrypt(kek, aad, key.as_bytes(), rng)
}

/// Unwraps a stored data key made by [`wrap_data_key`].
pub fn unwrap_data_key(kek: &Kek, aad: &[u8], blob: &[u8]) -> Result<DataKey, AtRestError> {
    if blob.len() != WRAPPED_DATA_KEY_LEN {
        return Err(AtRestError::BadLength { len: blob.len() });
    }
    let plain = decrypt(kek, aad, blob)?;
    DataKey::from_slice(&plain).ok_or(AtRestError::BadLength { len: blob.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct CountingRng(u8);
    impl rand_core::RngCore for CountingRng {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for CountingRng {}

    #[test]
    fn wrap_unwrap_and_errors() {
        let kek = Kek::from_bytes([9; 32]);
        let key = DataKey::from_bytes([7; 32]);
        let mut rng = CountingRng(0);
        let blob = wrap_data_key(&kek, b"key-id-1", &key, &mut rng);
        assert_eq!(blob.len(), WRAPPED_DATA_KEY_LEN);
        assert_eq!(blob[0], AT_REST_VERSION);
        assert_eq!(unwrap_data_key(&kek, b"key-id-1", &blob).unwrap(), key);
        assert_eq!(
            unwrap_data_key(&kek, b"key-id-2", &blob).unwrap_err(),
            AtRestError::Authentication
        );
        assert_eq!(
            unwrap_data_key(&Kek::from_bytes([8; 32]), b"key-id-1", &blob).unwrap_err(),
            AtRestError::Authentication
        );
        let mut versioned = blob.clone();
        versioned[0] = 2;
        assert_eq!(
            unwrap_data_key(&kek, b"key-id-1", &versioned).unwrap_err(),
            AtRestError::UnsupportedVersion(2)
        );
        assert_eq!(
            unwrap_data_key(&kek, b"key-id-1", &blob[..72]).unwrap_err(),
            AtRestError::BadLength { len: 72 }
        );
        assert_eq!(
            decrypt(&kek, b"", &blob[..40]).unwrap_err(),
            AtRestError::BadLength { len: 40 }
        );
        assert_eq!(format!("{kek:?}"), "Kek(<redacted>)");
    }
}

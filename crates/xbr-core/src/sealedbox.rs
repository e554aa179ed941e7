//! Sealed delivery of a data key to a buyer: libsodium `crypto_box_seal`.
//!
//! Layout: `epk(32) ‖ tag(16) ‖ ct(32)`, exactly 80 bytes for a 32-byte key; the nonce is
//! `BLAKE2b-24(epk ‖ buyer_pk)` and the box is X25519 + XSalsa20-Poly1305.

use crypto_box::{PublicKey, SecretKey};
use rand_core::CryptoRngCore;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::keys::{DATA_KEY_LEN, DataKey};

/// Length of a sealed data key.
pub const SEALED_KEY_LEN: usize = 80;

/// Why a sealed key could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealedBoxError {
    /// Not 80 bytes.
    #[error("sealed key must be {SEALED_KEY_LEN} bytes, got {len}")]
    BadLength {
        /// The length that was given.
        len: usize,
    },
    /// Wrong receive key, or tampered data.
    #[error("sealed key authentication failed (wrong receive key or tampered data)")]
    Authentication,
}

/// The buyer's X25519 receive key (the reference's `nacl.public.PrivateKey`). The buyer sends
/// [`BuyerReceiveKey::public`] as `buyer_pubkey`. Wiped on drop; `Debug` shows only the public key.
#[derive(Clone)]
pub struct BuyerReceiveKey {
    secret: SecretKey,
}

impl BuyerReceiveKey {
    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self {
            secret: SecretKey::generate(rng),
        }
    }

    /// From 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            secret: SecretKey::from(bytes),
        }
    }

    /// The 32 secret bytes (wiped when the returned value is dropped).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The X25519 public key sent on the wire as `buyer_pubkey`.
    pub fn public(&self) -> [u8; 32] {
        *self.secret.public_key().as_bytes()
    }

    /// Opens a sealed data key addressed to this key.
    pub fn open(&self, sealed: &[u8]) -> Result<DataKey, SealedBoxError> {
        open(sealed, self)
    }
}

impl std::fmt::Debug for BuyerReceiveKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuyerReceiveKey")
            .field("public", &alloy_primitives::hex::encode(self.public()))
            .finish_non_exhaustive()
    }
}

/// Seals a 32-byte key to the buyer's X25519 public key (fresh ephemeral key from `rng`).
pub fn seal(
    key: &[u8; DATA_KEY_LEN],
    buyer_pk: &[u8; 32],
    rng: &mut impl CryptoRngCore,
) -> [u8; SEALED_KEY_LEN] {
    let sealed = PublicKey::from(*buyer_pk)
        .seal(rng, key)
        .expect("sealing a 32-byte key cannot fail");
    sealed
        .try_into()
        .expect("crypto_box_seal of 32 bytes is 80 bytes")
}

/// Opens an 80-byte sealed key with the buyer's receive key.
pub fn open(sealed: &[u8], buyer_sk: &BuyerReceiveKey) -> Result<DataKey, SealedBoxError> {
    if sealed.len() != SEALED_KEY_LEN {
        return Err(SealedBoxError::BadLength { len: sealed.len() });
    }
    let plain = Zeroizing::new(
        buyer_sk
            .secret
            .unseal(sealed)
            .map_err(|_| SealedBoxError::Authentication)?,
    );
    DataKey::from_slice(&plain).ok_or(SealedBoxError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_public() {
        let k = BuyerReceiveKey::from_bytes([0x42; 32]);
        let dbg = format!("{k:?}");
        assert!(dbg.contains(&alloy_primitives::hex::encode(k.public())));
        assert!(!dbg.contains(&"42".repeat(32)));
    }

    #[test]
    fn wrong_length_is_typed() {
        let k = BuyerReceiveKey::from_bytes([0x42; 32]);
        assert_eq!(
            open(&[0u8; 79], &k).unwrap_err(),
            SealedBoxError::BadLength { len: 79 }
        );
        assert_eq!(
            open(&[0u8; 80], &k).unwrap_err(),
            SealedBoxError::Authentication
        );
    }
}

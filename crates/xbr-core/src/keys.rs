//! Data-encryption key identifiers and keys.

use alloy_primitives::hex;
use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a data key (a NaCl `SecretBox` key).
pub const DATA_KEY_LEN: usize = 32;

/// A 16-byte key id: 16 random bytes (not a UUID-v4, although it is displayed like one).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// A fresh random key id.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        KeyId(id)
    }

    /// From a wire value that must be 16 bytes.
    pub fn from_slice(raw: &[u8]) -> Option<Self> {
        raw.try_into().ok().map(KeyId)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Display for KeyId {
    /// UUID form, `8-4-4-4-12` hex, as the reference displays key ids.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte data-encryption key. Wiped on drop; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        DataKey(bytes)
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(raw: &[u8]) -> Option<Self> {
        raw.try_into().ok().map(DataKey)
    }

    /// A fresh random key.
    pub fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = [0u8; DATA_KEY_LEN];
        rng.fill_bytes(&mut key);
        DataKey(key)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_displays_as_uuid() {
        let id = KeyId(
            hex::decode("5bfb8216c79a8a0babc0f9b8bde5fe74")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert_eq!(id.to_string(), "5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74");
        assert_eq!(KeyId::from_slice(&[1u8; 15]), None);
    }

    #[test]
    fn data_key_debug_is_redacted() {
        let k = DataKey::from_bytes([0xab; 32]);
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "DataKey(<redacted>)");
        assert!(DataKey::from_slice(&[0u8; 31]).is_none());
    }
}

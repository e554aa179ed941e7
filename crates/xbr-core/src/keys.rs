//! Data-encryption keys. Their ids ([`KeyId`]) live with the other typed ids in [`crate::ids`].

use rand_core::CryptoRngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a data key (a NaCl `SecretBox` key).
pub const DATA_KEY_LEN: usize = 32;

pub use crate::ids::KeyId;

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
    fn data_key_debug_is_redacted() {
        let k = DataKey::from_bytes([0xab; 32]);
        let dbg = format!("{k:?}");
        assert_eq!(dbg, "DataKey(<redacted>)");
        assert!(DataKey::from_slice(&[0u8; 31]).is_none());
    }
}

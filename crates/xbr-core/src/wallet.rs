//! Wallet keys: BIP39 mnemonics, BIP32 secp256k1 derivation of Ethereum keys and of WAMP
//! cryptosign (Ed25519) seeds, and raw key files (spec §8.1, §8.4).
//!
//! * Ethereum accounts: `m/44'/60'/0'/0/{i}` (the ganache dev accounts, spec §4.5).
//! * WAMP-cryptosign: `m/44'/655'/0'/0/{i}`; the 32-byte secp256k1 BIP32 child key is used
//!   directly as the Ed25519 seed (as the reference does; this is not SLIP-0010).
//! * The BIP39 seed is PBKDF2-HMAC-SHA512 over the mnemonic words joined by single spaces. The
//!   reference applies no NFKD normalisation; for the English word list (ASCII) that is the same.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use alloy_primitives::hex;
use bip32::{DerivationPath, XPrv};
use rand_core::CryptoRngCore;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::eth::{EthPrivateKey, KeyError};

/// BIP44 path template of Ethereum accounts.
pub const ETH_PATH_PREFIX: &str = "m/44'/60'/0'/0";
/// BIP44 path template of WAMP-cryptosign keys.
pub const CRYPTOSIGN_PATH_PREFIX: &str = "m/44'/655'/0'/0";

/// Wallet errors.
#[derive(Debug, Error)]
pub enum WalletError {
    /// Not a valid English BIP39 mnemonic (unknown word, wrong word count, bad checksum).
    #[error("invalid BIP39 mnemonic: {0}")]
    Mnemonic(String),
    /// Entropy of a length BIP39 does not allow (16, 20, 24, 28 or 32 bytes).
    #[error("BIP39 entropy must be 16, 20, 24, 28 or 32 bytes, got {len}")]
    BadEntropy {
        /// The length that was given.
        len: usize,
    },
    /// A derivation path that does not parse.
    #[error("invalid BIP32 derivation path {0:?}")]
    BadPath(String),
    /// BIP32 derivation failed (astronomically unlikely invalid child key).
    #[error("BIP32 derivation failed: {0}")]
    Derivation(String),
    /// The derived or loaded key is not a valid secp256k1 key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A key file that could not be read.
    #[error("cannot read key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file readable by group or others.
    #[error(
        "key file {path} has mode {mode:o}; it must not be accessible by group or others (chmod 600)"
    )]
    InsecurePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file that is neither 32 raw bytes nor 64 hex digits.
    #[error("key file {path} holds neither 32 raw bytes nor 64 hex digits")]
    BadKeyFile {
        /// The file.
        path: PathBuf,
    },
}

/// A BIP39 mnemonic (English). Wiped on drop; `Debug` never shows the words.
#[derive(Clone, PartialEq, Eq)]
pub struct Mnemonic(bip39::Mnemonic);

impl Mnemonic {
    /// Parses and checks a phrase (words separated by whitespace).
    pub fn parse(phrase: &str) -> Result<Self, WalletError> {
        bip39::Mnemonic::parse_in_normalized(bip39::Language::English, phrase)
            .map(Mnemonic)
            .map_err(|e| WalletError::Mnemonic(e.to_string()))
    }

    /// Builds the mnemonic of the given entropy (16 bytes → 12 words … 32 bytes → 24 words).
    pub fn from_entropy(entropy: &[u8]) -> Result<Self, WalletError> {
        if !matches!(entropy.len(), 16 | 20 | 24 | 28 | 32) {
            return Err(WalletError::BadEntropy { len: entropy.len() });
        }
        bip39::Mnemonic::from_entropy_in(bip39::Language::English, entropy)
            .map(Mnemonic)
            .map_err(|e| WalletError::Mnemonic(e.to_string()))
    }

    /// A new random mnemonic of `entropy_bytes` bytes of entropy from `rng` (16 → 12 words,
    /// the reference's default strength of 128 bits).
    pub fn generate(
        entropy_bytes: usize,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, WalletError> {
        if !matches!(entropy_bytes, 16 | 20 | 24 | 28 | 32) {
            return Err(WalletError::BadEntropy { len: entropy_bytes });
        }
        let mut entropy = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(&mut entropy[..entropy_bytes]);
        Self::from_entropy(&entropy[..entropy_bytes])
    }

    /// The phrase, words joined by single spaces.
    pub fn phrase(&self) -> Zeroizing<String> {
        Zeroizing::new(self.0.to_string())
    }

    /// Number of words.
    pub fn word_count(&self) -> usize {
        self.0.word_count()
    }

    /// The 64-byte BIP39 seed for `passphrase` (the reference uses `""`).
    pub fn to_seed(&self, passphrase: &str) -> Zeroizing<[u8; 64]> {
        Zeroizing::new(self.0.to_seed_normalized(passphrase))
    }

    /// The Ethereum key at `m/44'/60'/0'/0/{index}` (empty passphrase).
    pub fn eth_key(&self, index: u32) -> Result<EthPrivateKey, WalletError> {
        let raw = derive_secp256k1(&self.to_seed("")[..], &format!("{ETH_PATH_PREFIX}/{index}"))?;
        Ok(EthPrivateKey::from_bytes(&raw)?)
    }

    /// The 32-byte Ed25519 seed of the cryptosign key at `m/44'/655'/0'/0/{index}`.
    pub fn cryptosign_seed(&self, index: u32) -> Result<Zeroizing<[u8; 32]>, WalletError> {
        derive_secp256k1(
            &self.to_seed("")[..],
            &format!("{CRYPTOSIGN_PATH_PREFIX}/{index}"),
        )
    }
}

impl std::fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mnemonic(<{} words redacted>)", self.word_count())
    }
}

/// Derives the 32-byte secp256k1 private key at a BIP32 `path` (e.g. `m/44'/60'/0'/0/0`) from
/// a BIP39 seed.
pub fn derive_secp256k1(seed: &[u8], path: &str) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let path = DerivationPath::from_str(path).map_err(|_| WalletError::BadPath(path.to_owned()))?;
    let xprv =
        XPrv::derive_from_path(seed, &path).map_err(|e| WalletError::Derivation(e.to_string()))?;
    Ok(Zeroizing::new(xprv.private_key().to_bytes().into()))
}

/// Parses key-file content: exactly 32 raw bytes, or 64 hex digits with or without `0x`
/// (surrounding whitespace ignored).
pub fn parse_raw_key(content: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if content.len() == 32 {
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(content);
        return Some(key);
    }
    let text = std::str::from_utf8(content).ok()?.trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, key.as_mut()).ok()?;
    Some(key)
}

/// Loads a raw 32-byte key file (32 raw bytes, or hex with/without `0x`). On Unix the file
/// must not be accessible by group or others.
pub fn load_raw_key_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, WalletError> {
    let io = |source| WalletError::Io {
        path: path.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(WalletError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let content = Zeroizing::new(std::fs::read(path).map_err(io)?);
    parse_raw_key(&content).ok_or_else(|| WalletError::BadKeyFile {
        path: path.to_owned(),
    })
}

/// Loads an Ethereum private key from a raw key file (see [`load_raw_key_file`]).
pub fn load_eth_key_file(path: &Path) -> Result<EthPrivateKey, WalletError> {
    let raw = load_raw_key_file(path)?;
    Ok(EthPrivateKey::from_bytes(&raw)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GANACHE: &str =
        "myth like bonus scare over problem client lizard pioneer submit female collect";

    #[test]
    fn mnemonic_debug_is_redacted() {
        let m = Mnemonic::parse(GANACHE).unwrap();
        assert_eq!(format!("{m:?}"), "Mnemonic(<12 words redacted>)");
        assert_eq!(m.phrase().as_str(), GANACHE);
    }

    #[test]
    fn invalid_mnemonics_are_rejected() {
        assert!(matches!(
            Mnemonic::parse("9 nn \0 kk$"),
            Err(WalletError::Mnemonic(_))
        ));
        // valid words, wrong checksum
        let bad = GANACHE.replace("collect", "myth");
        assert!(matches!(
            Mnemonic::parse(&bad),
            Err(WalletError::Mnemonic(_))
        ));
        assert!(matches!(
            Mnemonic::from_entropy(&[0u8; 15]),
            Err(WalletError::BadEntropy { len: 15 })
        ));
    }

    #[test]
    fn entropy_round_trip() {
        // BIP39 test vector: 16 zero bytes
        let m = Mnemonic::from_entropy(&[0u8; 16]).unwrap();
        assert_eq!(
            m.phrase().as_str(),
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
        );
        assert_eq!(Mnemonic::parse(&m.phrase()).unwrap(), m);
    }

    #[test]
    fn bad_path_is_typed() {
        assert!(matches!(
            derive_secp256k1(&[0u8; 64], "m/x"),
            Err(WalletError::BadPath(_))
        ));
    }

    #[test]
    fn raw_key_parsing() {
        let hex_key = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";
        let want = hex::decode(hex_key).unwrap();
        assert_eq!(&parse_raw_key(hex_key.as_bytes()).unwrap()[..], &want[..]);
        assert_eq!(
            &parse_raw_key(format!("0x{hex_key}\n").as_bytes()).unwrap()[..],
            &want[..]
        );
        assert_eq!(&parse_raw_key(&want).unwrap()[..], &want[..]);
        assert!(parse_raw_key(&want[..31]).is_none());
        assert!(parse_raw_key(b"0xzz").is_none());
    }
}

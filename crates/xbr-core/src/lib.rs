//! # xbr-core
//!
//! The pure cryptography of the XBR data market, byte-exact with the reference implementation
//! (Autobahn|Python's XBR code): no I/O (except [`wallet::load_raw_key_file`]), no clock reads
//! (time is an argument), randomness only through `rand_core::CryptoRngCore` arguments.
//!
//! | module | what |
//! |---|---|
//! | [`address`] | EIP-55 address parsing/formatting ([`address::parse_address`], [`address::format_address`]) |
//! | [`uint256`] | 32-byte big-endian `uint256` packing ([`uint256::pack_uint256`], [`uint256::unpack_uint256`]) and tolerant [`uint256::Amount`] parsing |
//! | [`eth`] | secp256k1 keys ([`eth::EthPrivateKey`]): address, `provider_id`, 65-byte `r‖s‖v` signatures |
//! | [`eip712`] | the 17 XBR typed-data types, [`eip712::sign_typed`], [`eip712::recover_typed`] |
//! | [`keyseries`] | rotating data-encryption keys ([`keyseries::KeySeries`]) |
//! | [`payload`] | CBOR + XSalsa20-Poly1305 payload encryption (`nonce ‖ tag ‖ ct`) |
//! | [`sealedbox`] | libsodium `crypto_box_seal` delivery of data keys to buyers |
//! | [`at_rest`] | XChaCha20-Poly1305 wrapping of data keys under a local key-encryption key |
//! | [`wallet`] | BIP39/BIP32 derivation of Ethereum and cryptosign keys, key files |
//!
//! Secret-holding types ([`eth::EthPrivateKey`], [`DataKey`], [`at_rest::Kek`],
//! [`sealedbox::BuyerReceiveKey`], [`wallet::Mnemonic`]) wipe themselves on drop and never
//! print their secret in `Debug`.
#![deny(unsafe_code)]

pub use alloy_primitives::{Address, B256, U256};

pub mod address;
pub mod at_rest;
pub mod eip712;
pub mod eth;
pub mod keys;
pub mod keyseries;
pub mod payload;
pub mod sealedbox;
pub mod uint256;
pub mod wallet;

pub use keys::{DataKey, KeyId};

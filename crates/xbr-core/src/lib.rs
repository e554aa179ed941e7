//! # xbr-core
//!
//! The pure cryptography of the XBR data market, byte-exact with the reference implementation
//! (Autobahn|Python's XBR code): no I/O (except [`wallet::load_raw_key_file`]), no clock reads
//! (time is an argument), randomness only through `rand_core::CryptoRngCore` arguments.
//!
//! | module | what |
//! |---|---|
//! | [`ids`] | typed 16-byte ids ([`KeyId`], [`ApiId`], [`ChannelId`], [`MarketId`], [`MemberId`], [`OfferId`], [`TxId`]) and the one UUID parser ([`ids::parse_uuid`]) |
//! | [`signature`] | the 65-byte `r‖s‖v` [`Signature`] value (`0x` + 130 hex digits as text) |
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
//! ## Example: the seller's side of a sale
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use rand_core::OsRng;
//! use xbr_core::eip712::{EIP712ChannelClose, recover_typed, sign_typed};
//! use xbr_core::eth::EthPrivateKey;
//! use xbr_core::keyseries::{KeySeries, RotationPolicy};
//! use xbr_core::sealedbox::BuyerReceiveKey;
//! use xbr_core::{Address, ApiId, ChannelId, MarketId, U256};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut series = KeySeries::new(ApiId([7; 16]), U256::from(35u64), RotationPolicy::Interval(Duration::from_secs(10))).unwrap();
//! let rotation = series.start(now, &mut OsRng).expect("first key"); // caller places the offer
//! let wrapped = series.encrypt(&("hello", 1u8), now, &mut OsRng).unwrap();
//! assert_eq!((wrapped.key_id, wrapped.enc_ser), (rotation.key_id, "cbor"));
//!
//! // the market maker's signed balance proof arrives with `sell`; verify it ...
//! let mm = EthPrivateKey::from_hex("e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52").unwrap();
//! let close = EIP712ChannelClose::new(5777, Address::repeat_byte(0xc8), 1, MarketId([1; 16]), ChannelId([2; 16]), 2, U256::from(965u64), false);
//! let sig = sign_typed(&mm, &close);
//! assert_eq!(recover_typed(&close, &sig).unwrap(), mm.address());
//!
//! // ... and seal the key to the buyer's X25519 key
//! let buyer = BuyerReceiveKey::generate(&mut OsRng);
//! let sealed = series.seal_key(&wrapped.key_id, &buyer.public(), &mut OsRng).unwrap();
//! let key = buyer.open(&sealed).unwrap();
//! let payload: (String, u8) = xbr_core::payload::decrypt_value(&key, &wrapped.ciphertext).unwrap();
//! assert_eq!(payload.0, "hello");
//! ```
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
pub mod ids;
pub mod keys;
pub mod keyseries;
pub mod payload;
pub mod sealedbox;
pub mod signature;
pub mod uint256;
pub mod wallet;

pub use ids::{ApiId, ChannelId, IdError, KeyId, MarketId, MemberId, OfferId, TxId};
pub use keys::DataKey;
pub use signature::Signature;

//! Typed 16-byte identifiers of the data market, and the one UUID parser and formatter.
//!
//! The wire carries every id as 16 raw bytes (`b16`); people, logs, configuration and the
//! admin API see them as UUID strings, `8-4-4-4-12` lowercase hex, which is what the reference
//! prints (`str(uuid.UUID(bytes=...))`). Each role of an id has its own type, so a key id
//! cannot be passed where a channel id is expected:
//!
//! ```compile_fail,E0308
//! use xbr_core::ids::{ChannelId, KeyId};
//! fn sell(_key: KeyId) {}
//! sell(ChannelId::from([0; 16])); // a channel id is not a key id
//! ```
//!
//! ```
//! use xbr_core::ids::{ChannelId, KeyId};
//! fn sell(_key: KeyId) {}
//! sell(KeyId::from([0; 16]));
//! let channel: ChannelId = "7a4d8b96-8f5f-4e5f-9f0e-3d5c2b1a0f11".parse().unwrap();
//! assert_eq!(channel.to_string(), "7a4d8b96-8f5f-4e5f-9f0e-3d5c2b1a0f11");
//! ```
//!
//! [`parse_uuid`] accepts, with hex digits of either case and nothing around them:
//! * the hyphenated form `627f1b5c-58c2-43b1-8422-a34f7d3f5a04` (what [`format_uuid`] writes);
//! * 32 bare hex digits `627f1b5c58c243b18422a34f7d3f5a04` (Python's `uuid.hex`);
//! * `0x` + 32 hex digits, the Solidity `bytes16` form of on-chain ids (market ids in
//!   deployment files and EIP-712 messages).
//!
//! Anything else is rejected with an [`IdError`]: hyphens elsewhere than `8-4-4-4-12`,
//! braces or `urn:uuid:` (which Python accepts but nothing in the market writes), and
//! surrounding whitespace (callers that read user files trim first).

use std::fmt;
use std::marker::PhantomData;

use alloy_primitives::{FixedBytes, hex};
use thiserror::Error;

/// Length of every id: 16 bytes.
pub const ID_LEN: usize = 16;

/// Why bytes or a string are not an id or a signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Raw bytes of the wrong length (a wire `b16` or `b65` that is not 16 or 65 bytes).
    #[error("expected {expected} bytes, got {got}")]
    BadLength {
        /// The required length.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// A string with the wrong number of hex digits (prefix and hyphens not counted).
    #[error("expected {expected} hex digits, got {got}")]
    BadDigitCount {
        /// The required number of digits.
        expected: usize,
        /// The number of characters that were given.
        got: usize,
    },
    /// A character that is not a hex digit.
    #[error("{ch:?} is not a hex digit")]
    NotHex {
        /// The first offending character.
        ch: char,
    },
    /// Hyphens that do not split a UUID as `8-4-4-4-12`.
    #[error("hyphens must split a UUID as 8-4-4-4-12 hex digits")]
    MisplacedHyphen,
}

/// Parses a UUID string in one of the forms listed in the [module docs](self) into 16 bytes.
pub fn parse_uuid(s: &str) -> Result<[u8; ID_LEN], IdError> {
    let mut out = [0u8; ID_LEN];
    if let Some(digits) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        decode_hex_exact(digits, &mut out)?;
    } else if s.contains('-') {
        let groups: Vec<&str> = s.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(IdError::MisplacedHyphen);
        }
        decode_hex_exact(&groups.concat(), &mut out)?;
    } else {
        decode_hex_exact(s, &mut out)?;
    }
    Ok(out)
}

/// Formats 16 bytes as a hyphenated lowercase UUID, `8-4-4-4-12` (the reference's form).
pub fn format_uuid(bytes: &[u8; ID_LEN]) -> String {
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Formats 16 bytes in the Solidity `bytes16` form, `0x` + 32 lowercase hex digits: what
/// deployment files and bootstrap reports write for on-chain ids ([`parse_uuid`] reads it back).
pub fn format_bytes16(bytes: &[u8; ID_LEN]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Decodes exactly `2 * out.len()` hex digits (either case) into `out`.
pub(crate) fn decode_hex_exact(digits: &str, out: &mut [u8]) -> Result<(), IdError> {
    if let Some(ch) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(IdError::NotHex { ch });
    }
    if digits.len() != 2 * out.len() {
        return Err(IdError::BadDigitCount {
            expected: 2 * out.len(),
            got: digits.len(),
        });
    }
    hex::decode_to_slice(digits, out).map_err(|_| IdError::NotHex { ch: '?' })
}

/// Copies a wire value that must be exactly `N` bytes.
pub(crate) fn array_from_slice<const N: usize>(raw: &[u8]) -> Result<[u8; N], IdError> {
    raw.try_into().map_err(|_| IdError::BadLength {
        expected: N,
        got: raw.len(),
    })
}

/// serde visitor shared by the ids and [`crate::Signature`]: a string in the type's text form,
/// or (for binary formats) the raw bytes.
pub(crate) struct TextOrBytes<T>(pub(crate) &'static str, pub(crate) PhantomData<T>);

impl<'de, T> serde::de::Visitor<'de> for TextOrBytes<T>
where
    T: std::str::FromStr<Err = IdError> + for<'a> TryFrom<&'a [u8], Error = IdError>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
        T::try_from(v).map_err(E::custom)
    }
}

/// Defines a 16-byte id type: UUID text form, wire bytes, serde as the UUID string.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Displays, parses ([`parse_uuid`]) and serialises as a UUID string; the wire carries
        /// the 16 raw bytes. `Default` is the nil id (all zero).
        #[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; ID_LEN]);

        impl $name {
            /// Wraps 16 bytes.
            pub const fn new(bytes: [u8; ID_LEN]) -> Self {
                Self(bytes)
            }

            /// A fresh random id.
            pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
                let mut id = [0u8; ID_LEN];
                rng.fill_bytes(&mut id);
                Self(id)
            }

            /// From a wire value (`b16`) that must be 16 bytes.
            pub fn from_slice(raw: &[u8]) -> Result<Self, IdError> {
                array_from_slice(raw).map(Self)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }

            /// The raw bytes, by value.
            pub const fn into_bytes(self) -> [u8; ID_LEN] {
                self.0
            }
        }

        impl From<[u8; ID_LEN]> for $name {
            fn from(bytes: [u8; ID_LEN]) -> Self {
                Self(bytes)
            }
        }

        impl From<$name> for [u8; ID_LEN] {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl From<FixedBytes<ID_LEN>> for $name {
            fn from(bytes: FixedBytes<ID_LEN>) -> Self {
                Self(bytes.0)
            }
        }

        impl From<$name> for FixedBytes<ID_LEN> {
            fn from(id: $name) -> Self {
                FixedBytes(id.0)
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = IdError;
            fn try_from(raw: &[u8]) -> Result<Self, IdError> {
                Self::from_slice(raw)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_uuid(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            /// UUID form, `8-4-4-4-12` lowercase hex, as the reference displays ids.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&format_uuid(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextOrBytes("a UUID string", PhantomData))
            }
        }
    };
}

uuid_id! {
    /// A data-encryption key id: 16 random bytes (not a UUID-v4, although displayed like one).
    KeyId
}
uuid_id! {
    /// An API id (`api_id`): the API a seller's key series and offers belong to.
    ApiId
}
uuid_id! {
    /// A payment or paying channel id (`channel_oid`, on chain `channelId`).
    ChannelId
}
uuid_id! {
    /// A market id (`market_oid`, on chain `marketId`).
    MarketId
}
uuid_id! {
    /// A market member id (`member_oid`).
    MemberId
}
uuid_id! {
    /// An offer id (`offer_id`), chosen by the market maker when an offer is placed.
    OfferId
}
uuid_id! {
    /// A transaction id (`tx_id`): one sale of a key through the market maker.
    TxId
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPHENATED: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";
    const BYTES: [u8; 16] = [
        0x62, 0x7f, 0x1b, 0x5c, 0x58, 0xc2, 0x43, 0xb1, 0x84, 0x22, 0xa3, 0x4f, 0x7d, 0x3f, 0x5a,
        0x04,
    ];

    #[test]
    fn every_accepted_form_parses_to_the_same_bytes() {
        for form in [
            HYPHENATED,
            "627F1B5C-58C2-43B1-8422-A34F7D3F5A04",
            "627f1b5c58c243b18422a34f7d3f5a04",
            "0x627f1b5c58c243b18422a34f7d3f5a04",
            "0X627F1B5C58C243B18422A34F7D3F5A04",
        ] {
            assert_eq!(parse_uuid(form), Ok(BYTES), "{form}");
        }
        assert_eq!(format_uuid(&BYTES), HYPHENATED);
    }

    #[test]
    fn bad_forms_are_rejected_with_typed_errors() {
        let cases: [(&str, IdError); 9] = [
            (
                "",
                IdError::BadDigitCount {
                    expected: 32,
                    got: 0,
                },
            ),
            (
                "627f1b5c",
                IdError::BadDigitCount {
                    expected: 32,
                    got: 8,
                },
            ),
            (
                "627f1b5c58c243b18422a34f7d3f5a0400",
                IdError::BadDigitCount {
                    expected: 32,
                    got: 34,
                },
            ),
            (
                "0x627f1b5c",
                IdError::BadDigitCount {
                    expected: 32,
                    got: 8,
                },
            ),
            (
                "627f1b5c-58c2-43b1-8422-a34f7d3f5a0g",
                IdError::NotHex { ch: 'g' },
            ),
            (
                "627f1b5c-58c2-43b1-8422a34f7d3f5a04",
                IdError::MisplacedHyphen,
            ),
            (
                "627f-1b5c-58c2-43b1-8422a34f7d3f5a04",
                IdError::MisplacedHyphen,
            ),
            (
                "0x627f1b5c-58c2-43b1-8422-a34f7d3f5a04",
                IdError::NotHex { ch: '-' },
            ),
            (
                " 627f1b5c58c243b18422a34f7d3f5a04",
                IdError::NotHex { ch: ' ' },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse_uuid(input), Err(want), "{input:?}");
        }
        assert!(parse_uuid("{627f1b5c-58c2-43b1-8422-a34f7d3f5a04}").is_err());
        assert!(parse_uuid("urn:uuid:627f1b5c-58c2-43b1-8422-a34f7d3f5a04").is_err());
        assert_eq!(
            IdError::MisplacedHyphen.to_string(),
            "hyphens must split a UUID as 8-4-4-4-12 hex digits"
        );
    }

    #[test]
    fn key_id_displays_as_the_reference_uuid() {
        // `str(uuid.UUID(bytes=bytes.fromhex("5bfb8216c79a8a0babc0f9b8bde5fe74")))` in Python
        let id =
            KeyId::from_slice(&hex::decode("5bfb8216c79a8a0babc0f9b8bde5fe74").unwrap()).unwrap();
        assert_eq!(id.to_string(), "5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74");
        assert_eq!(
            format!("{id:?}"),
            "KeyId(5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74)"
        );
        assert_eq!("5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74".parse(), Ok(id));
        assert_eq!(
            KeyId::from_slice(&[1u8; 15]),
            Err(IdError::BadLength {
                expected: 16,
                got: 15
            })
        );
    }

    #[test]
    fn ids_round_trip_through_bytes_and_text() {
        let channel = ChannelId::from(BYTES);
        assert_eq!(ChannelId::from_slice(channel.as_ref()), Ok(channel));
        assert_eq!(<[u8; 16]>::from(channel), BYTES);
        assert_eq!(channel.into_bytes(), *channel.as_bytes());
        assert_eq!(channel.to_string().parse::<ChannelId>(), Ok(channel));
        let fixed: FixedBytes<16> = channel.into();
        assert_eq!(ChannelId::from(fixed), channel);
        assert_eq!(
            MarketId::default().to_string(),
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            OfferId::from_slice(&[0; 15]),
            Err(IdError::BadLength {
                expected: 16,
                got: 15
            })
        );
        assert_eq!(
            TxId::try_from(&[0u8; 17][..]),
            Err(IdError::BadLength {
                expected: 16,
                got: 17
            })
        );
    }

    #[test]
    fn bytes16_form_is_what_alloy_displays_and_parses_back() {
        let market = MarketId::from(BYTES);
        let text = format_bytes16(market.as_bytes());
        assert_eq!(text, "0x627f1b5c58c243b18422a34f7d3f5a04");
        assert_eq!(text, FixedBytes::<16>::from(market).to_string());
        assert_eq!(text.parse::<MarketId>(), Ok(market));
    }

    #[test]
    fn ids_order_and_hash_by_their_bytes() {
        let a = ApiId::new([1; 16]);
        let b = ApiId::new([2; 16]);
        assert!(a < b);
        let set: std::collections::HashSet<ApiId> = [a, b, a].into_iter().collect();
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn serde_uses_the_uuid_string() {
        let id = MemberId::from(BYTES);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{HYPHENATED}\""));
        assert_eq!(serde_json::from_str::<MemberId>(&json).unwrap(), id);
        let bare: MemberId =
            serde_json::from_str("\"0x627f1b5c58c243b18422a34f7d3f5a04\"").unwrap();
        assert_eq!(bare, id);
        let err = serde_json::from_str::<MemberId>("\"627f1b5c\"").unwrap_err();
        assert!(
            err.to_string().contains("expected 32 hex digits, got 8"),
            "{err}"
        );
        let err = serde_json::from_str::<MemberId>("7").unwrap_err();
        assert!(err.to_string().contains("a UUID string"), "{err}");
    }

    #[test]
    fn random_ids_differ() {
        let mut rng = rand_core::OsRng;
        assert_ne!(KeyId::random(&mut rng), KeyId::random(&mut rng));
    }
}

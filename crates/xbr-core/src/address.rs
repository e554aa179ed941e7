//! Ethereum addresses: EIP-55 checksum parsing and formatting.
//!
//! The wire carries addresses as 20 raw bytes (`b20`); configuration and the market maker's
//! `get_config` carry them as `"0x…"` strings, usually EIP-55 checksummed.

use alloy_primitives::{Address, hex};
use thiserror::Error;

/// Why a string or byte slice is not an Ethereum address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// Not 40 hex digits (after an optional `0x`).
    #[error("address must be 40 hex digits after an optional 0x prefix, got {len} characters")]
    BadLength {
        /// The number of characters after the prefix.
        len: usize,
    },
    /// A character is not a hex digit.
    #[error("address contains a non-hex character")]
    NotHex,
    /// Mixed-case input whose capitalisation is not the EIP-55 checksum.
    #[error("address {input} fails its EIP-55 checksum (expected {expected})")]
    BadChecksum {
        /// The string that was given.
        input: String,
        /// The correctly checksummed form.
        expected: String,
    },
    /// A raw address that is not 20 bytes long.
    #[error("raw address must be 20 bytes, got {len}")]
    BadByteLength {
        /// The length that was given.
        len: usize,
    },
}

/// Parses `0x`-prefixed (or bare) hex into an [`Address`].
///
/// All-lowercase and all-uppercase input is accepted as is. Mixed-case input must carry a
/// correct EIP-55 checksum; a wrong one is rejected, since it usually means a typo.
pub fn parse_address(s: &str) -> Result<Address, AddressError> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.len() != 40 {
        return Err(AddressError::BadLength { len: digits.len() });
    }
    let mut raw = [0u8; 20];
    hex::decode_to_slice(digits, &mut raw).map_err(|_| AddressError::NotHex)?;
    let address = Address::from(raw);
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        let expected = format_address(&address);
        if expected[2..] != *digits {
            return Err(AddressError::BadChecksum {
                input: s.to_owned(),
                expected,
            });
        }
    }
    Ok(address)
}

/// Formats an address as `0x` + EIP-55 checksummed hex (the form Python's web3 prints).
pub fn format_address(address: &Address) -> String {
    address.to_checksum(None)
}

/// Takes a raw wire address (`b20`), checking its length.
pub fn address_from_slice(raw: &[u8]) -> Result<Address, AddressError> {
    let raw: [u8; 20] = raw
        .try_into()
        .map_err(|_| AddressError::BadByteLength { len: raw.len() })?;
    Ok(Address::from(raw))
}

/// serde `with` module for addresses in configuration and API types: serialises the EIP-55
/// form ([`format_address`]) and deserialises through [`parse_address`], so a mixed-case
/// address with a wrong checksum is an error, not a silently different account.
///
/// ```
/// #[derive(serde::Deserialize)]
/// struct Cfg {
///     #[serde(with = "xbr_core::address::eip55")]
///     maker: xbr_core::Address,
/// }
/// let ok = r#"{"maker": "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"}"#;
/// assert!(serde_json::from_str::<Cfg>(ok).is_ok());
/// let typo = r#"{"maker": "0x90f8bf6A479f320ead074411a4B0e7944Ea8c9C1"}"#;
/// assert!(serde_json::from_str::<Cfg>(typo).is_err());
/// ```
pub mod eip55 {
    use super::{Address, format_address, parse_address};

    /// Writes `0x` + EIP-55 checksummed hex.
    pub fn serialize<S: serde::Serializer>(address: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_address(address))
    }

    /// Reads an address string, checking the EIP-55 checksum of mixed-case input.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        parse_address(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKSUMMED: &str = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";

    #[test]
    fn checksummed_round_trip() {
        let a = parse_address(CHECKSUMMED).unwrap();
        assert_eq!(format_address(&a), CHECKSUMMED);
    }

    #[test]
    fn lowercase_uppercase_and_bare_are_accepted() {
        let a = parse_address(CHECKSUMMED).unwrap();
        assert_eq!(parse_address(&CHECKSUMMED.to_lowercase()).unwrap(), a);
        let upper = format!("0x{}", CHECKSUMMED[2..].to_uppercase());
        assert_eq!(parse_address(&upper).unwrap(), a);
        assert_eq!(parse_address(&CHECKSUMMED[2..]).unwrap(), a);
    }

    #[test]
    fn wrong_checksum_is_rejected() {
        // flip the case of one letter
        let bad = CHECKSUMMED.replace("F8bf", "f8bf");
        assert!(matches!(
            parse_address(&bad),
            Err(AddressError::BadChecksum { expected, .. }) if expected == CHECKSUMMED
        ));
    }

    #[test]
    fn serde_helper_writes_and_checks_eip55() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Cfg {
            #[serde(with = "eip55")]
            maker: Address,
        }
        let cfg = Cfg {
            maker: parse_address(CHECKSUMMED).unwrap(),
        };
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(json, format!("{{\"maker\":\"{CHECKSUMMED}\"}}"));
        assert_eq!(serde_json::from_str::<Cfg>(&json).unwrap(), cfg);
        let bad = json.replace("F8bf", "f8bf");
        let err = serde_json::from_str::<Cfg>(&bad).unwrap_err();
        assert!(err.to_string().contains("EIP-55 checksum"), "{err}");
    }

    #[test]
    fn bad_length_and_non_hex() {
        assert_eq!(
            parse_address("0x1234"),
            Err(AddressError::BadLength { len: 4 })
        );
        let not_hex = format!("0x{}", "g".repeat(40));
        assert_eq!(parse_address(&not_hex), Err(AddressError::NotHex));
        assert_eq!(
            address_from_slice(&[0u8; 19]),
            Err(AddressError::BadByteLength { len: 19 })
        );
        assert_eq!(
            address_from_slice(&[7u8; 20]).unwrap(),
            Address::repeat_byte(7)
        );
    }
}

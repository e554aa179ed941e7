//! 32-byte big-endian `uint256` packing as used on the XBR wire, and tolerant parsing of amounts.
//!
//! The reference packs token amounts as 32 bytes big-endian (`pack_uint256`), but some of its
//! values arrive differently: the market maker sends integer `0` instead of 32 zero bytes in
//! balance dicts, and the seller's `sell` receipt carries `amount`/`balance` as plain integers
//! (CBOR tag-2 bignums above 2^64). [`Amount`] accepts every one of these forms.

use alloy_primitives::U256;
use thiserror::Error;

/// Why a wire value is not a valid `uint256`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Uint256Error {
    /// Packed form that is neither empty nor exactly 32 bytes.
    #[error("packed uint256 must be 32 bytes (or empty for 0), got {len}")]
    BadLength {
        /// The length that was given.
        len: usize,
    },
    /// A big-endian magnitude longer than 32 significant bytes.
    #[error("integer does not fit in 256 bits")]
    Overflow,
    /// A negative integer where an amount is expected.
    #[error("amount must not be negative, got {0}")]
    Negative(i128),
    /// A decimal string that is not a non-negative integer.
    #[error("not a decimal uint256: {0:?}")]
    BadDecimal(String),
}

/// Packs a value as 32 bytes big-endian (0 → 32 zero bytes), like the reference's `pack_uint256`.
pub fn pack_uint256(value: U256) -> [u8; 32] {
    value.to_be_bytes::<32>()
}

/// Unpacks a packed `uint256`: empty input is 0, otherwise exactly 32 bytes big-endian.
pub fn unpack_uint256(packed: &[u8]) -> Result<U256, Uint256Error> {
    match packed.len() {
        0 => Ok(U256::ZERO),
        32 => Ok(U256::from_be_slice(packed)),
        len => Err(Uint256Error::BadLength { len }),
    }
}

/// A non-negative token amount in base units, parsed from any of the forms the reference sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(pub U256);

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(U256::ZERO);

    /// From the packed wire form (`uint256-bytes`): empty or exactly 32 bytes.
    pub fn from_uint256_bytes(packed: &[u8]) -> Result<Self, Uint256Error> {
        unpack_uint256(packed).map(Amount)
    }

    /// From a big-endian magnitude of any length up to 32 significant bytes (leading zero bytes
    /// are ignored), e.g. the content of a CBOR tag-2 bignum.
    pub fn from_be_bytes(magnitude: &[u8]) -> Result<Self, Uint256Error> {
        let first = magnitude
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(magnitude.len());
        let significant = &magnitude[first..];
        if significant.len() > 32 {
            return Err(Uint256Error::Overflow);
        }
        Ok(Amount(U256::from_be_slice(significant)))
    }

    /// From an unsigned integer.
    pub fn from_u128(value: u128) -> Self {
        Amount(U256::from(value))
    }

    /// From an unsigned 64-bit integer (what most serializers decode small integers to).
    pub fn from_u64(value: u64) -> Self {
        Amount(U256::from(value))
    }

    /// From a signed integer; negative values are rejected.
    pub fn from_i128(value: i128) -> Result<Self, Uint256Error> {
        u128::try_from(value)
            .map(Self::from_u128)
            .map_err(|_| Uint256Error::Negative(value))
    }

    /// From a decimal string (e.g. a JSON number literal too large for 64 bits).
    pub fn from_decimal_str(s: &str) -> Result<Self, Uint256Error> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Uint256Error::BadDecimal(s.to_owned()));
        }
        U256::from_str_radix(s, 10)
            .map(Amount)
            .map_err(|_| Uint256Error::Overflow)
    }

    /// The value.
    pub fn value(self) -> U256 {
        self.0
    }

    /// The packed 32-byte wire form.
    pub fn to_uint256_bytes(self) -> [u8; 32] {
        pack_uint256(self.0)
    }

    /// The shortest big-endian magnitude (empty for 0), as a CBOR bignum carries it.
    pub fn to_be_bytes_trimmed(self) -> Vec<u8> {
        let full = pack_uint256(self.0);
        let first = full.iter().position(|b| *b != 0).unwrap_or(32);
        full[first..].to_vec()
    }

    /// The value as `u64` when it fits (so it can go on the wire as a plain integer).
    pub fn to_u64(self) -> Option<u64> {
        u64::try_from(self.0).ok()
    }
}

impl From<U256> for Amount {
    fn from(v: U256) -> Self {
        Amount(v)
    }
}

impl From<Amount> for U256 {
    fn from(a: Amount) -> Self {
        a.0
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_basics() {
        assert_eq!(pack_uint256(U256::ZERO), [0u8; 32]);
        assert_eq!(unpack_uint256(&[]).unwrap(), U256::ZERO);
        let v = U256::from(35_000_000_000_000_000_000u128);
        assert_eq!(unpack_uint256(&pack_uint256(v)).unwrap(), v);
        assert_eq!(
            unpack_uint256(&[1u8; 31]),
            Err(Uint256Error::BadLength { len: 31 })
        );
        assert_eq!(
            unpack_uint256(&[1u8; 33]),
            Err(Uint256Error::BadLength { len: 33 })
        );
    }

    #[test]
    fn amount_from_every_wire_form() {
        let v = Amount::from_u128(35_000_000_000_000_000_000);
        // CBOR tag-2 bignum content for 35e18 as sent by the reference seller
        let bignum = alloy_primitives::hex::decode("01e5b8fa8fe2ac0000").unwrap();
        assert_eq!(Amount::from_be_bytes(&bignum).unwrap(), v);
        assert_eq!(v.to_be_bytes_trimmed(), bignum);
        assert_eq!(
            Amount::from_uint256_bytes(&v.to_uint256_bytes()).unwrap(),
            v
        );
        assert_eq!(Amount::from_decimal_str("35000000000000000000").unwrap(), v);
        assert_eq!(Amount::from_i128(0).unwrap(), Amount::ZERO);
        assert_eq!(Amount::from_u64(0), Amount::ZERO);
        assert_eq!(Amount::from_uint256_bytes(&[]).unwrap(), Amount::ZERO);
        assert_eq!(v.to_u64(), None);
        assert_eq!(Amount::from_u64(7).to_u64(), Some(7));
        assert_eq!(v.to_string(), "35000000000000000000");
    }

    #[test]
    fn amount_rejects_bad_input() {
        assert_eq!(Amount::from_i128(-1), Err(Uint256Error::Negative(-1)));
        let mut big = vec![0u8; 3];
        big.extend([1u8; 33]);
        assert_eq!(Amount::from_be_bytes(&big), Err(Uint256Error::Overflow));
        // leading zeros beyond 32 bytes are fine
        let mut padded = vec![0u8; 40];
        padded.push(5);
        assert_eq!(Amount::from_be_bytes(&padded).unwrap(), Amount::from_u64(5));
        assert!(matches!(
            Amount::from_decimal_str("-5"),
            Err(Uint256Error::BadDecimal(_))
        ));
        assert!(matches!(
            Amount::from_decimal_str(""),
            Err(Uint256Error::BadDecimal(_))
        ));
        let too_big = format!("1{}", "0".repeat(80));
        assert_eq!(
            Amount::from_decimal_str(&too_big),
            Err(Uint256Error::Overflow)
        );
    }
}

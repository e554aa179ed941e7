//! The dynamic value carried in WAMP payloads, options and details.
//!
//! Integers are *normalised*: the variant of an integer is fixed by its magnitude.
//!
//! | range                         | variant          |
//! |-------------------------------|------------------|
//! | `i64::MIN ..= i64::MAX`       | [`Value::Int`]     |
//! | `i64::MAX + 1 ..= u64::MAX`   | [`Value::UInt`]    |
//! | `> u64::MAX`                  | [`Value::BigUInt`] (big-endian magnitude, no leading zeros) |
//! | `< i64::MIN`                  | [`Value::BigNegInt`] (big-endian magnitude of the absolute value, no leading zeros) |
//!
//! On the wire (as Autobahn|Python writes and reads them): CBOR major type 0/1 while the value (or
//! `-1 - value`) fits `u64`, beyond that tag-2 / tag-3 bignums; JSON bare integers of any size;
//! MsgPack only `i64`/`u64` (anything else is [`crate::EncodeError::IntegerTooLarge`]).
//!
//! Decoders and the `From` impls always produce normalised values. Equality compares integers by
//! their numeric value, so a hand-built non-normalised value (say `Value::UInt(5)`) still equals
//! `Value::Int(5)`.

use indexmap::IndexMap;

/// A map of string keys to values, keeping insertion order (the order is kept on the wire, as the
/// reference implementation does).
pub type Dict = IndexMap<String, Value>;

/// A dynamically typed WAMP value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// JSON `null`, CBOR `null`/`undefined`, MsgPack `nil`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer in `i64` range.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (and at most `u64::MAX`).
    UInt(u64),
    /// An unsigned integer above `u64::MAX`: big-endian magnitude without leading zeros.
    /// CBOR: tag-2 bignum; JSON: a bare integer; MsgPack: not representable.
    BigUInt(Vec<u8>),
    /// A negative integer below `i64::MIN`: the big-endian magnitude of its absolute value
    /// without leading zeros (−2^63−1 is `[0x80, 0, 0, 0, 0, 0, 0, 0x01]`). CBOR: major type 1
    /// down to −2^64, a tag-3 bignum below; JSON: a bare integer; MsgPack: not representable.
    BigNegInt(Vec<u8>),
    /// A 64-bit float.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// A byte string (CBOR major type 2, MsgPack bin, JSON `"\u0000" + base64`).
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<Value>),
    /// A string-keyed map in insertion order.
    Dict(Dict),
}

impl Value {
    /// A byte-string value.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Value::Bytes(bytes.into())
    }

    /// A normalised integer value from a `u128`.
    pub fn from_u128(v: u128) -> Self {
        if let Ok(small) = u64::try_from(v) {
            Value::from(small)
        } else {
            let be = v.to_be_bytes();
            Value::BigUInt(strip_leading_zeros(&be).to_vec())
        }
    }

    /// A normalised unsigned integer from a big-endian magnitude of any length (leading zeros
    /// allowed, e.g. a 32-byte `uint256`). The empty slice is zero.
    pub fn from_be_bytes_uint(bytes: &[u8]) -> Self {
        let mag = strip_leading_zeros(bytes);
        if mag.len() <= 8 {
            let mut buf = [0u8; 8];
            buf[8 - mag.len()..].copy_from_slice(mag);
            Value::from(u64::from_be_bytes(buf))
        } else {
            Value::BigUInt(mag.to_vec())
        }
    }

    /// A normalised integer value from an `i128`.
    pub fn from_i128(v: i128) -> Self {
        match u128::try_from(v) {
            Ok(u) => Value::from_u128(u),
            Err(_) => Value::from_be_bytes_neg(&v.unsigned_abs().to_be_bytes()),
        }
    }

    /// The normalised integer `-magnitude` from a big-endian magnitude of any length (leading
    /// zeros allowed). The empty slice is zero.
    pub fn from_be_bytes_neg(magnitude: &[u8]) -> Self {
        let mag = strip_leading_zeros(magnitude);
        if mag.len() <= 8 {
            let abs = be_to_u128(mag);
            if let Ok(i) = i64::try_from(-(abs as i128)) {
                return Value::Int(i);
            }
        }
        Value::BigNegInt(mag.to_vec())
    }

    /// The sign (`true` for negative) and big-endian magnitude (no leading zeros; zero is the
    /// empty vector) of any integer value; `None` for anything else.
    pub fn to_sign_magnitude(&self) -> Option<(bool, Vec<u8>)> {
        match self {
            Value::Int(i) if *i < 0 => Some((
                true,
                strip_leading_zeros(&i.unsigned_abs().to_be_bytes()).to_vec(),
            )),
            Value::BigNegInt(mag) => {
                let mag = strip_leading_zeros(mag);
                Some((!mag.is_empty(), mag.to_vec()))
            }
            other => Some((false, other.to_be_bytes_uint()?)),
        }
    }

    /// Any integer value in decimal (`"-18446744073709551617"`); `None` for anything else.
    pub fn to_decimal(&self) -> Option<String> {
        let (negative, mag) = self.to_sign_magnitude()?;
        let sign = if negative { "-" } else { "" };
        Some(format!(
            "{sign}{}",
            num_bigint::BigUint::from_bytes_be(&mag)
        ))
    }

    /// The big-endian magnitude (no leading zeros; zero is the empty vector) of a non-negative
    /// integer value; `None` for anything else.
    pub fn to_be_bytes_uint(&self) -> Option<Vec<u8>> {
        match self {
            Value::Int(i) if *i >= 0 => Some(strip_leading_zeros(&i.to_be_bytes()).to_vec()),
            Value::UInt(u) => Some(strip_leading_zeros(&u.to_be_bytes()).to_vec()),
            Value::BigUInt(mag) => Some(strip_leading_zeros(mag).to_vec()),
            _ => None,
        }
    }

    /// A non-negative integer value as a fixed-width big-endian array (e.g. `N = 32` for an
    /// Ethereum `uint256`); `None` if not a non-negative integer or if it does not fit.
    pub fn to_be_bytes_uint_fixed<const N: usize>(&self) -> Option<[u8; N]> {
        let mag = self.to_be_bytes_uint()?;
        if mag.len() > N {
            return None;
        }
        let mut out = [0u8; N];
        out[N - mag.len()..].copy_from_slice(&mag);
        Some(out)
    }

    /// The normalised form of this value (only integers change; containers are normalised
    /// recursively).
    pub fn normalized(self) -> Self {
        match self {
            Value::UInt(u) => Value::from(u),
            Value::BigUInt(mag) => Value::from_be_bytes_uint(&mag),
            Value::BigNegInt(mag) => Value::from_be_bytes_neg(&mag),
            Value::List(items) => Value::List(items.into_iter().map(Value::normalized).collect()),
            Value::Dict(map) => {
                Value::Dict(map.into_iter().map(|(k, v)| (k, v.normalized())).collect())
            }
            other => other,
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a [`Value::Str`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Value::Bool`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The float, if this is a [`Value::Float`].
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer as `u64`, if it is a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::UInt(u) => Some(*u),
            Value::BigUInt(mag) => {
                let mag = strip_leading_zeros(mag);
                (mag.len() <= 8).then(|| be_to_u128(mag) as u64)
            }
            _ => None,
        }
    }

    /// The integer as `i64`, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            other => other.as_u64().and_then(|u| i64::try_from(u).ok()),
        }
    }

    /// The integer as `i128`, if it is an integer that fits.
    pub fn as_i128(&self) -> Option<i128> {
        let (negative, mag) = self.to_sign_magnitude()?;
        if mag.len() > 16 {
            return None;
        }
        let abs = be_to_u128(&mag);
        if negative {
            0i128.checked_sub_unsigned(abs)
        } else {
            i128::try_from(abs).ok()
        }
    }

    /// The integer as `u128`, if it is a non-negative integer that fits.
    pub fn as_u128(&self) -> Option<u128> {
        match self {
            Value::BigUInt(mag) => {
                let mag = strip_leading_zeros(mag);
                (mag.len() <= 16).then(|| be_to_u128(mag))
            }
            other => other.as_u64().map(u128::from),
        }
    }

    /// The list, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dict, if this is a [`Value::Dict`].
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Takes the string out, if this is a [`Value::Str`].
    pub fn into_string(self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Takes the bytes out, if this is a [`Value::Bytes`].
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Takes the list out, if this is a [`Value::List`].
    pub fn into_list(self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Takes the dict out, if this is a [`Value::Dict`].
    pub fn into_dict(self) -> Option<Dict> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::UInt(_) | Value::BigUInt(_) | Value::BigNegInt(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }

    /// Compares integer values numerically: `None` when either side is not an integer.
    fn int_eq(&self, other: &Value) -> Option<bool> {
        let a = self.to_sign_magnitude()?;
        let b = other.to_sign_magnitude()?;
        Some(a == b)
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        if let Some(eq) = self.int_eq(other) {
            return eq;
        }
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Dict(a), Value::Dict(b)) => a == b,
            _ => false,
        }
    }
}

/// The slice without its leading zero bytes.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Big-endian bytes (at most 16) to `u128`.
fn be_to_u128(mag: &[u8]) -> u128 {
    mag.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::Int(i64::from(v))
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, u8, u16, u32);

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(v),
        }
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::from(v as u64)
    }
}

impl From<u128> for Value {
    fn from(v: u128) -> Self {
        Value::from_u128(v)
    }
}

impl From<i128> for Value {
    fn from(v: i128) -> Self {
        Value::from_i128(v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::List(v)
    }
}

impl From<Dict> for Value {
    fn from(v: Dict) -> Self {
        Value::Dict(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_normalised_by_magnitude() {
        assert!(matches!(Value::from(5u64), Value::Int(5)));
        assert!(matches!(Value::from(u64::MAX), Value::UInt(u64::MAX)));
        assert!(matches!(Value::from_u128(7), Value::Int(7)));
        assert!(
            matches!(Value::from_u128(1u128 << 64), Value::BigUInt(ref m) if m == &[1, 0, 0, 0, 0, 0, 0, 0, 0])
        );
        assert!(matches!(
            Value::from_be_bytes_uint(&[0, 0, 1]),
            Value::Int(1)
        ));
        assert!(matches!(Value::from_be_bytes_uint(&[]), Value::Int(0)));
    }

    #[test]
    fn equality_is_numeric_for_integers() {
        assert_eq!(Value::UInt(5), Value::Int(5));
        assert_eq!(Value::BigUInt(vec![0, 9]), Value::Int(9));
        assert_ne!(Value::Int(-1), Value::UInt(1));
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert_ne!(Value::Int(1), Value::Bool(true));
    }

    #[test]
    fn negative_integers_are_normalised_by_magnitude() {
        let min = i128::from(i64::MIN);
        assert!(matches!(Value::from_i128(min), Value::Int(i64::MIN)));
        assert!(
            matches!(Value::from_i128(min - 1), Value::BigNegInt(ref m) if m == &[0x80, 0, 0, 0, 0, 0, 0, 1])
        );
        assert!(matches!(Value::from_be_bytes_neg(&[0, 5]), Value::Int(-5)));
        assert!(matches!(Value::from_be_bytes_neg(&[]), Value::Int(0)));
        assert_eq!(Value::BigNegInt(vec![0, 7]), Value::Int(-7));
        assert_eq!(Value::BigNegInt(vec![0, 7]).normalized(), Value::Int(-7));
        assert!(matches!(
            Value::BigNegInt(vec![0]).normalized(),
            Value::Int(0)
        ));
        assert_ne!(Value::BigNegInt(vec![1; 9]), Value::BigUInt(vec![1; 9]));
        assert_eq!(Value::from(i128::MIN).as_i128(), Some(i128::MIN));
        assert_eq!(Value::from(min - 1).as_i128(), Some(min - 1));
        assert_eq!(Value::from(min - 1).as_i64(), None);
        assert_eq!(Value::from(min - 1).as_u64(), None);
        assert_eq!(Value::from(min - 1).to_be_bytes_uint(), None);
        assert_eq!(Value::BigNegInt(vec![1; 17]).as_i128(), None);
        assert_eq!(Value::from(u128::MAX).as_i128(), None);
        assert_eq!(
            Value::from(-3i32).to_sign_magnitude(),
            Some((true, vec![3]))
        );
        assert_eq!(Value::BigNegInt(vec![1; 9]).kind(), "integer");
        assert_eq!(
            Value::from(-(1i128 << 64) - 1).to_decimal().as_deref(),
            Some("-18446744073709551617")
        );
        assert_eq!(Value::Int(0).to_decimal().as_deref(), Some("0"));
        assert_eq!(Value::from("1").to_decimal(), None);
    }

    #[test]
    fn uint256_round_trip() {
        let amount: u128 = 35_000_000_000_000_000_000;
        let v = Value::from_u128(amount);
        let be32 = v.to_be_bytes_uint_fixed::<32>().expect("fits");
        assert_eq!(&be32[..16], &[0u8; 16]);
        assert_eq!(Value::from_be_bytes_uint(&be32), v);
        assert_eq!(v.as_u128(), Some(amount));
        assert_eq!(v.as_u64(), None);
        assert_eq!(Value::Int(-3).to_be_bytes_uint(), None);
        assert_eq!(Value::Int(0).to_be_bytes_uint(), Some(vec![]));
        let big = Value::BigUInt(vec![1; 33]);
        assert_eq!(big.to_be_bytes_uint_fixed::<32>(), None);
        assert_eq!(big.as_u128(), None);
    }

    #[test]
    fn accessors() {
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::bytes(vec![1u8, 2]).as_bytes(), Some(&[1u8, 2][..]));
        assert_eq!(Value::Int(-2).as_u64(), None);
        assert_eq!(Value::UInt(u64::MAX).as_i64(), None);
        assert_eq!(Value::Int(-2).as_i64(), Some(-2));
        assert_eq!(Value::from(Some(true)).as_bool(), Some(true));
        assert!(Value::from(None::<i32>).is_null());
        assert_eq!(
            Value::normalized(Value::List(vec![Value::UInt(1)])),
            Value::List(vec![Value::Int(1)])
        );
    }
}

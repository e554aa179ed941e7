//! The shared field readers and writers of every message: value builders (`v_*`), tolerant
//! readers (`read_*`) that name the argument in their `wamp.error.invalid_argument`, the
//! positional ([`Args`]) and keyword ([`Fields`]) views, and the [`Codec`]s that let a message
//! declare each field once for both directions ([`positional_message!`], [`dict_message!`]).

use std::cell::Cell;
use std::collections::BTreeMap;

use wamp_proto::{Dict, Value};
use xbr_core::address::parse_address;

use crate::error::{MarketError, MarketResult};
use crate::types::{Address, Signature, U256};

// ------------------------------------------------------------------ value builders

/// A byte-string value.
pub fn v_bytes(b: impl AsRef<[u8]>) -> Value {
    Value::Bytes(b.as_ref().to_vec())
}

/// A `uint256-bytes` value (32 bytes big-endian).
pub fn v_u256_bytes(v: &U256) -> Value {
    Value::Bytes(v.to_be_bytes::<32>().to_vec())
}

/// An integer value of any size (CBOR bignum / bare JSON integer above u64).
pub fn v_u256_int(v: &U256) -> Value {
    Value::from_be_bytes_uint(&v.to_be_bytes::<32>())
}

/// The cfxdb convention for balances: 32 bytes, or the integer 0 when zero.
pub fn v_u256_or_zero(v: &U256) -> Value {
    if v.is_zero() {
        Value::from(0u64)
    } else {
        v_u256_bytes(v)
    }
}

pub(super) fn v_opt_bytes(b: Option<&[u8]>) -> Value {
    b.map(v_bytes).unwrap_or(Value::Null)
}

pub(super) fn v_opt_u64(v: Option<u64>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

pub(super) fn v_categories(c: Option<&BTreeMap<String, String>>) -> Value {
    match c {
        None => Value::Null,
        Some(m) => Value::Dict(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        ),
    }
}

// ------------------------------------------------------------------ value readers

pub(super) fn bad(what: &str, name: &str, expected: &str) -> MarketError {
    MarketError::invalid_argument(format!("{what}: argument '{name}' must be {expected}"))
}

/// Reads one value as `N` raw bytes.
pub fn read_bytes_n<const N: usize>(v: &Value, what: &str, name: &str) -> MarketResult<[u8; N]> {
    v.as_bytes()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| bad(what, name, &format!("b{N}")))
}

/// Reads a 65-byte signature.
pub fn read_sig(v: &Value, what: &str, name: &str) -> MarketResult<Signature> {
    Ok(Signature(read_bytes_n::<65>(v, what, name)?))
}

/// Reads a 16-byte id (key, api, channel, market, offer or transaction id).
pub fn read_id<T: From<[u8; 16]>>(v: &Value, what: &str, name: &str) -> MarketResult<T> {
    read_bytes_n::<16>(v, what, name).map(T::from)
}

/// Reads a 20-byte address (raw bytes, or a `0x…` string where the reference sends one).
pub fn read_address(v: &Value, what: &str, name: &str) -> MarketResult<Address> {
    match v {
        Value::Str(s) => parse_address(s).map_err(|_| bad(what, name, "an address")),
        _ => Ok(Address::from(read_bytes_n::<20>(v, what, name)?)),
    }
}

/// Reads an amount: 32-byte big-endian, empty bytes (0), or a non-negative integer of any size
/// that fits in 256 bits.
pub fn read_u256(v: &Value, what: &str, name: &str) -> MarketResult<U256> {
    match v {
        Value::Bytes(b) if b.is_empty() => Ok(U256::ZERO),
        Value::Bytes(b) if b.len() == 32 => Ok(U256::from_be_slice(b)),
        Value::Null => Ok(U256::ZERO),
        other => other
            .to_be_bytes_uint_fixed::<32>()
            .map(U256::from_be_bytes)
            .ok_or_else(|| bad(what, name, "a uint256 (32 bytes or a non-negative integer)")),
    }
}

/// Reads a non-negative integer that fits in u64.
pub fn read_u64(v: &Value, what: &str, name: &str) -> MarketResult<u64> {
    v.as_u64()
        .ok_or_else(|| bad(what, name, "a non-negative integer"))
}

/// Reads a seq: a non-negative integer that fits in the uint32 of `EIP712ChannelClose`.
pub fn read_seq(v: &Value, what: &str, name: &str) -> MarketResult<u64> {
    let s = read_u64(v, what, name)?;
    if s > u64::from(u32::MAX) {
        return Err(bad(what, name, "a uint32 sequence number"));
    }
    Ok(s)
}

pub(super) fn read_bool(v: &Value, what: &str, name: &str) -> MarketResult<bool> {
    v.as_bool().ok_or_else(|| bad(what, name, "a bool"))
}

pub(super) fn read_str(v: &Value, what: &str, name: &str) -> MarketResult<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(what, name, "a string"))
}

pub(super) fn read_categories(
    v: &Value,
    what: &str,
) -> MarketResult<Option<BTreeMap<String, String>>> {
    match v {
        Value::Null => Ok(None),
        Value::Dict(d) => d
            .iter()
            .map(|(k, v)| Ok((k.clone(), read_str(v, what, "categories")?)))
            .collect::<MarketResult<_>>()
            .map(Some),
        _ => Err(bad(what, "categories", "a dict of strings or null")),
    }
}

pub(super) fn opt<T>(
    v: Option<&Value>,
    f: impl FnOnce(&Value) -> MarketResult<T>,
) -> MarketResult<Option<T>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

/// Positional arguments of one call, read by index with the argument's name for errors.
pub struct Args<'a> {
    what: &'a str,
    args: &'a [Value],
    cursor: Cell<usize>,
}

impl<'a> Args<'a> {
    /// Checks the count (`min..=max`) and wraps the list.
    pub fn new(what: &'a str, args: &'a [Value], min: usize, max: usize) -> MarketResult<Self> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(MarketError::invalid_argument(format!(
                "{what}: expected {want} positional arguments, got {}",
                args.len()
            )));
        }
        Ok(Self {
            what,
            args,
            cursor: Cell::new(0),
        })
    }

    /// The value at `i` (Null if absent).
    pub fn at(&self, i: usize) -> &'a Value {
        static NULL: Value = Value::Null;
        self.args.get(i).unwrap_or(&NULL)
    }

    /// The value after the one read last by `next` (the first at the start; Null past the end).
    pub fn next(&self) -> &'a Value {
        let i = self.cursor.get();
        self.cursor.set(i + 1);
        self.at(i)
    }

    /// `bN` at `i`.
    pub fn bytes<const N: usize>(&self, i: usize, name: &str) -> MarketResult<[u8; N]> {
        read_bytes_n::<N>(self.at(i), self.what, name)
    }
    /// 16-byte id at `i`.
    pub fn id<T: From<[u8; 16]>>(&self, i: usize, name: &str) -> MarketResult<T> {
        read_id(self.at(i), self.what, name)
    }
    /// Address at `i`.
    pub fn address(&self, i: usize, name: &str) -> MarketResult<Address> {
        read_address(self.at(i), self.what, name)
    }
    /// Signature at `i`.
    pub fn sig(&self, i: usize, name: &str) -> MarketResult<Signature> {
        read_sig(self.at(i), self.what, name)
    }
    /// Amount at `i`.
    pub fn u256(&self, i: usize, name: &str) -> MarketResult<U256> {
        read_u256(self.at(i), self.what, name)
    }
    /// Integer at `i`.
    pub fn u64(&self, i: usize, name: &str) -> MarketResult<u64> {
        read_u64(self.at(i), self.what, name)
    }
    /// Seq at `i`.
    pub fn seq(&self, i: usize, name: &str) -> MarketResult<u64> {
        read_seq(self.at(i), self.what, name)
    }
    /// Bool at `i`.
    pub fn bool(&self, i: usize, name: &str) -> MarketResult<bool> {
        read_bool(self.at(i), self.what, name)
    }
    /// String at `i`.
    pub fn str(&self, i: usize, name: &str) -> MarketResult<String> {
        read_str(self.at(i), self.what, name)
    }
}

/// Keyword lookup in a dict result or kwargs.
pub struct Fields<'a> {
    what: &'static str,
    dict: &'a Dict,
}

impl<'a> Fields<'a> {
    /// Wraps a dict.
    pub fn new(what: &'static str, dict: &'a Dict) -> Self {
        Self { what, dict }
    }

    /// Wraps a value that must be a dict.
    pub fn of(what: &'static str, v: &'a Value) -> MarketResult<Self> {
        v.as_dict()
            .map(|dict| Self { what, dict })
            .ok_or_else(|| MarketError::invalid_argument(format!("{what}: expected a dict")))
    }

    /// The value of `key` (Null if absent).
    pub fn at(&self, key: &str) -> &'a Value {
        static NULL: Value = Value::Null;
        self.dict.get(key).unwrap_or(&NULL)
    }
    /// The value of `key`, or `None` if absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.dict.get(key).filter(|v| !v.is_null())
    }
    /// `bN`.
    pub fn bytes<const N: usize>(&self, key: &str) -> MarketResult<[u8; N]> {
        read_bytes_n::<N>(self.at(key), self.what, key)
    }
    /// 16-byte id.
    pub fn id<T: From<[u8; 16]>>(&self, key: &str) -> MarketResult<T> {
        read_id(self.at(key), self.what, key)
    }
    /// 65-byte signature.
    pub fn sig(&self, key: &str) -> MarketResult<Signature> {
        read_sig(self.at(key), self.what, key)
    }
    /// Any byte string.
    pub fn raw_bytes(&self, key: &str) -> MarketResult<Vec<u8>> {
        self.at(key)
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad(self.what, key, "bytes"))
    }
    /// Address.
    pub fn address(&self, key: &str) -> MarketResult<Address> {
        read_address(self.at(key), self.what, key)
    }
    /// Amount.
    pub fn u256(&self, key: &str) -> MarketResult<U256> {
        read_u256(self.at(key), self.what, key)
    }
    /// Integer.
    pub fn u64(&self, key: &str) -> MarketResult<u64> {
        read_u64(self.at(key), self.what, key)
    }
    /// Bool.
    pub fn bool(&self, key: &str) -> MarketResult<bool> {
        read_bool(self.at(key), self.what, key)
    }
    /// String.
    pub fn str(&self, key: &str) -> MarketResult<String> {
        read_str(self.at(key), self.what, key)
    }
}

// ------------------------------------------------------------------ codecs

/// How one field of type `T` is written to and read from a [`Value`]. A message lists each
/// field once with its codec, and the macros derive both directions from that list.
pub trait Codec<T> {
    /// The field's wire value.
    fn put(v: &T) -> Value;
    /// Reads the field; `what` names the message and `name` the field in errors.
    fn read(v: &Value, what: &str, name: &str) -> MarketResult<T>;
}

/// `bN`: a fixed-size byte string (public keys, hashes; typed ids use [`Id`]).
pub struct Bytes;
impl<const N: usize> Codec<[u8; N]> for Bytes {
    fn put(v: &[u8; N]) -> Value {
        v_bytes(v)
    }
    fn read(v: &Value, what: &str, name: &str) -> MarketResult<[u8; N]> {
        read_bytes_n::<N>(v, what, name)
    }
}

/// `bN` or null.
pub struct OptBytes;
impl<const N: usize> Codec<Option<[u8; N]>> for OptBytes {
    fn put(v: &Option<[u8; N]>) -> Value {
        v_opt_bytes(v.as_ref().map(|b| b.as_slice()))
    }
    fn read(v: &Value, what: &str, name: &str) -> MarketResult<Option<[u8; N]>> {
        opt(Some(v), |v| read_bytes_n::<N>(v, what, name))
    }
}

/// `b16`: a typed 16-byte id.
pub struct Id;
impl<T: From<[u8; 16]> + AsRef<[u8]>> Codec<T> for Id {
    fn put(v: &T) -> Value {
        v_bytes(v)
    }
    fn read(v: &Value, what: &str, name: &str) -> MarketResult<T> {
        read_id(v, what, name)
    }
}

/// `b16` id or null.
pub struct OptId;
impl<T: From<[u8; 16]> + AsRef<[u8]>> Codec<Option<T>> for OptId {
    fn put(v: &Option<T>) -> Value {
        v.as_ref().map(v_bytes).unwrap_or(Value::Null)
    }
    fn read(v: &Value, what: &str, name: &str) -> MarketResult<Option<T>> {
        opt(Some(v), |v| read_id(v, what, name))
    }
}

/// Declares a codec of one field type from its writer and reader.
macro_rules! codec {
    ($(#[$doc:meta])* $name:ident: $t:ty, $put:expr, $read:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl Codec<$t> for $name {
            fn put(v: &$t) -> Value {
                $put(v)
            }
            fn read(v: &Value, what: &str, name: &str) -> MarketResult<$t> {
                $read(v, what, name)
            }
        }
    };
}

codec!(
    /// A byte string of any length.
    RawBytes: Vec<u8>,
    |v: &Vec<u8>| v_bytes(v),
    |v: &Value, what, name| v.as_bytes().map(<[u8]>::to_vec).ok_or_else(|| bad(what, name, "bytes"))
);
codec!(
    /// A 65-byte signature.
    Sig: Signature,
    |v: &Signature| v_bytes(v),
    read_sig
);
codec!(
    /// A 20-byte address (read also from a `0x…` string).
    Addr: Address,
    |v: &Address| v_bytes(v.as_slice()),
    read_address
);
codec!(
    /// An amount written as 32 bytes big-endian.
    Amount: U256,
    v_u256_bytes,
    read_u256
);
codec!(
    /// An amount written as an integer of any size (the seller's `sell` receipt).
    AmountInt: U256,
    v_u256_int,
    read_u256
);
codec!(
    /// An amount written as 32 bytes, or the integer 0 when zero (cfxdb balances).
    AmountOrZero: U256,
    v_u256_or_zero,
    read_u256
);
codec!(
    /// A non-negative integer.
    Int: u64,
    |v: &u64| Value::from(*v),
    read_u64
);
codec!(
    /// An integer read as 0 when absent or not an integer (informational fields).
    IntOrZero: u64,
    |v: &u64| Value::from(*v),
    |v: &Value, _, _| Ok(v.as_u64().unwrap_or(0))
);
codec!(
    /// A channel seq (uint32 of `EIP712ChannelClose`).
    Seq: u64,
    |v: &u64| Value::from(*v),
    read_seq
);
codec!(
    /// A bool.
    Flag: bool,
    |v: &bool| Value::Bool(*v),
    read_bool
);
codec!(
    /// A bool read as `false` when absent or not a bool.
    FlagOrFalse: bool,
    |v: &bool| Value::Bool(*v),
    |v: &Value, _, _| Ok(v.as_bool().unwrap_or(false))
);
codec!(
    /// A 20-byte address or null (read also from a `0x…` string).
    OptAddr: Option<Address>,
    |v: &Option<Address>| v.map_or(Value::Null, |a| v_bytes(a.as_slice())),
    |v: &Value, what, name| opt(Some(v), |v| read_address(v, what, name))
);

/// Declares a message sent as positional arguments: its fields in reference order, each with
/// its [`Codec`] and its name in errors. Derives `to_args`/`from_args` (exactly that many
/// arguments) and [`super::WireMessage`].
macro_rules! positional_message {
    ($ty:ty, $what:literal, { $($field:ident: $codec:ty = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Positional args in reference order.
            pub fn to_args(&self) -> Vec<Value> {
                vec![$(<$codec as $crate::wire::Codec<_>>::put(&self.$field)),+]
            }

            /// Parses positional args.
            pub fn from_args(args: &[Value]) -> MarketResult<Self> {
                const COUNT: usize = [$($name),+].len();
                let a = $crate::wire::Args::new($what, args, COUNT, COUNT)?;
                Ok(Self {
                    $($field: <$codec as $crate::wire::Codec<_>>::read(a.next(), $what, $name)?),+
                })
            }
        }

        $crate::wire::args_payload!($ty);
    };
}
pub(crate) use positional_message;

/// [`super::WireMessage`] for a type with `to_args`/`from_args`: positional args, no kwargs.
macro_rules! args_payload {
    ($ty:ty) => {
        impl $crate::wire::WireMessage for $ty {
            fn to_payload(&self) -> $crate::wire::Payload {
                (self.to_args(), wamp_proto::Dict::new())
            }
            fn from_payload(args: &[Value], _kwargs: &wamp_proto::Dict) -> MarketResult<Self> {
                Self::from_args(args)
            }
        }
    };
}
pub(crate) use args_payload;

/// Declares a message sent as one dict (a result or an event argument): its keys in reference
/// order, each with its [`Codec`]. Derives `to_value`/`from_value` and [`super::WireMessage`].
macro_rules! dict_message {
    ($ty:ty, $what:literal, { $($field:ident: $codec:ty = $key:literal),+ $(,)? }) => {
        impl $ty {
            /// The dict, in reference key order.
            pub fn to_value(&self) -> Value {
                let mut d = wamp_proto::Dict::new();
                $(d.insert($key.into(), <$codec as $crate::wire::Codec<_>>::put(&self.$field));)+
                Value::Dict(d)
            }

            /// Parses the dict.
            pub fn from_value(v: &Value) -> MarketResult<Self> {
                let f = $crate::wire::Fields::of($what, v)?;
                Ok(Self {
                    $($field: <$codec as $crate::wire::Codec<_>>::read(f.at($key), $what, $key)?),+
                })
            }
        }

        $crate::wire::dict_payload!($ty);
    };
}
pub(crate) use dict_message;

/// [`super::WireMessage`] for a type with `to_value`/`from_value`: the dict is the payload's
/// single positional argument.
macro_rules! dict_payload {
    ($ty:ty) => {
        impl $crate::wire::WireMessage for $ty {
            fn to_payload(&self) -> $crate::wire::Payload {
                $crate::wire::result1(self.to_value())
            }
            fn from_payload(args: &[Value], _kwargs: &wamp_proto::Dict) -> MarketResult<Self> {
                Self::from_value(args.first().unwrap_or(&Value::Null))
            }
        }
    };
}
pub(crate) use dict_payload;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_accept_bytes_ints_and_bignums() {
        let big = U256::from(35u64) * U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(read_u256(&v_u256_bytes(&big), "t", "a").unwrap(), big);
        assert_eq!(read_u256(&v_u256_int(&big), "t", "a").unwrap(), big);
        assert!(matches!(v_u256_int(&big), Value::BigUInt(_)));
        assert_eq!(read_u256(&Value::from(0u64), "t", "a").unwrap(), U256::ZERO);
        assert_eq!(
            read_u256(&Value::Bytes(vec![]), "t", "a").unwrap(),
            U256::ZERO
        );
        let e = read_u256(&Value::Int(-1), "t", "amount").unwrap_err();
        assert_eq!(e.uri, "wamp.error.invalid_argument");
        assert!(e.message.contains("amount"));
        assert!(read_u256(&Value::Bytes(vec![1; 31]), "t", "a").is_err());
        assert!(read_u256(&Value::BigUInt(vec![1; 33]), "t", "a").is_err());
        assert!(read_u256(&Value::from("12"), "t", "a").is_err());
    }
}

//! A serde `Deserialize` for [`Value`] used by the CBOR and MsgPack decoders.
//!
//! Maps need string keys; CBOR tag 2/3 bignums become integers of any size, other CBOR tags are
//! dropped (their content is kept).

use std::fmt;

use serde::de::{
    self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use crate::value::{Dict, Value};

/// Upper bound for pre-allocation from a length the peer announces.
const MAX_PREALLOC: usize = 1024;

/// A decoded [`Value`].
pub(crate) struct DeValue(pub Value);

impl<'de> Deserialize<'de> for DeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(DeValue)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a WAMP value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from_i128(v))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from_u128(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(DeValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut dict = Dict::with_capacity(map.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(DeKey(k)) = map.next_key()? {
            let DeValue(v) = map.next_value()?;
            dict.insert(k, v);
        }
        Ok(Value::Dict(dict))
    }

    /// CBOR tags arrive as ciborium's internal enum `Tagged(tag, value)`.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (kind, variant): (String, _) = data.variant()?;
        if kind != "@@TAGGED@@" {
            return Err(de::Error::custom("unsupported enum value"));
        }
        variant.tuple_variant(2, TagVisitor)
    }
}

struct TagVisitor;

impl<'de> Visitor<'de> for TagVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CBOR tag and its content")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let tag: u64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("tag number missing"))?;
        let DeValue(inner) = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("tag content missing"))?;
        match (tag, inner) {
            (2, Value::Bytes(mag)) => Ok(Value::from_be_bytes_uint(&mag)),
            (2, _) => Err(de::Error::custom("tag 2 (bignum) must wrap a byte string")),
            (3, Value::Bytes(n)) => Ok(Value::from_be_bytes_neg(&super::cbor::be_plus_one(&n))),
            (3, _) => Err(de::Error::custom("tag 3 (bignum) must wrap a byte string")),
            (_, inner) => Ok(inner),
        }
    }
}

/// A map key: only strings are accepted.
struct DeKey(String);

impl<'de> Deserialize<'de> for DeKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyVisitor).map(DeKey)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string map key")
    }

    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

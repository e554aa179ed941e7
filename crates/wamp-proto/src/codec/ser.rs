//! Serde `Serialize` views of [`Value`] and [`Message`], parameterised by the few rules that
//! differ between formats (bytes, big integers, floats).

use std::marker::PhantomData;

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::message::{Field, Message};
use crate::value::{Dict, Value, strip_leading_zeros};

/// Error text used when MsgPack meets an integer beyond `u64` (mapped back to a typed error).
pub(crate) const INT_TOO_LARGE: &str = "integer beyond the 64-bit range has no representation";
/// Error text used when JSON meets NaN or an infinity (mapped back to a typed error).
pub(crate) const NON_FINITE: &str = "non-finite float has no JSON representation";

/// The format-specific parts of serialization.
pub(crate) trait Format {
    /// Serializes a byte string.
    fn bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error>;
    /// Serializes an unsigned integer magnitude longer than 8 bytes (no leading zeros).
    fn big_uint<S: Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error>;
    /// Serializes the negative integer `-magnitude`, below `i64::MIN` (magnitude without
    /// leading zeros).
    fn big_neg_int<S: Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error>;
    /// Serializes a float.
    fn float<S: Serializer>(f: f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(f)
    }
}

/// Serializes a [`Value`] under format `F`.
pub(crate) struct ValueSer<'a, F>(pub &'a Value, pub PhantomData<F>);

impl<'a, F> ValueSer<'a, F> {
    pub(crate) fn new(v: &'a Value) -> Self {
        ValueSer(v, PhantomData)
    }
}

impl<F: Format> Serialize for ValueSer<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::UInt(u) => s.serialize_u64(*u),
            Value::BigUInt(mag) => {
                let mag = strip_leading_zeros(mag);
                if mag.len() <= 8 {
                    let mut buf = [0u8; 8];
                    buf[8 - mag.len()..].copy_from_slice(mag);
                    s.serialize_u64(u64::from_be_bytes(buf))
                } else {
                    F::big_uint(mag, s)
                }
            }
            Value::BigNegInt(mag) => match Value::from_be_bytes_neg(mag) {
                Value::Int(i) => s.serialize_i64(i),
                _ => F::big_neg_int(strip_leading_zeros(mag), s),
            },
            Value::Float(f) => F::float(*f, s),
            Value::Str(st) => s.serialize_str(st),
            Value::Bytes(b) => F::bytes(b, s),
            Value::List(items) => list::<F, S>(items, s),
            Value::Dict(d) => dict::<F, S>(d, s),
        }
    }
}

fn list<F: Format, S: Serializer>(items: &[Value], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(items.len()))?;
    for v in items {
        seq.serialize_element(&ValueSer::<F>::new(v))?;
    }
    seq.end()
}

fn dict<F: Format, S: Serializer>(d: &Dict, s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(d.len()))?;
    for (k, v) in d {
        map.serialize_entry(k.as_str(), &ValueSer::<F>::new(v))?;
    }
    map.end()
}

struct FieldSer<'a, F>(Field<'a>, PhantomData<F>);

impl<F: Format> Serialize for FieldSer<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Field::Id(id) => s.serialize_u64(id),
            Field::Str(st) => s.serialize_str(st),
            Field::Dict(d) => dict::<F, S>(d, s),
            Field::Args(a) => list::<F, S>(a, s),
        }
    }
}

/// Serializes a [`Message`] as its WAMP list under format `F`.
pub(crate) struct MessageSer<'a, F>(pub &'a Message, pub PhantomData<F>);

impl<'a, F> MessageSer<'a, F> {
    pub(crate) fn new(m: &'a Message) -> Self {
        MessageSer(m, PhantomData)
    }
}

impl<F: Format> Serialize for MessageSer<'_, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.0.fields();
        let mut seq = s.serialize_seq(Some(fields.len() + 1))?;
        seq.serialize_element(&self.0.code())?;
        for f in fields.iter() {
            seq.serialize_element(&FieldSer::<F>(*f, PhantomData))?;
        }
        seq.end()
    }
}

/// A byte string serialized with `serialize_bytes`.
pub(crate) struct RawBytes<'a>(pub &'a [u8]);

impl Serialize for RawBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// Builds a serializer error carrying one of the marker texts above.
pub(crate) fn marker_error<E: serde::ser::Error>(text: &'static str) -> E {
    E::custom(text)
}

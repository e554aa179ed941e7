//! CBOR (RFC 8949) via ciborium: byte strings are major type 2, integers beyond `u64` are
//! tag-2 bignums.

use serde::Serialize;

use super::MAX_DEPTH;
use super::ser::{Format, MessageSer, RawBytes, ValueSer};
use super::value_de::DeValue;
use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;
use crate::value::Value;

/// Bignum tag for positive integers.
const TAG_BIGPOS: u64 = 2;

pub(crate) struct Cbor;

impl Format for Cbor {
    fn bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    fn big_uint<S: serde::Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error> {
        ciborium::tag::Required::<_, TAG_BIGPOS>(RawBytes(magnitude)).serialize(s)
    }
}

fn write<T: Serialize>(item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ciborium::ser::into_writer(item, out).map_err(|e| EncodeError::Serializer {
        serializer: "cbor",
        reason: e.to_string(),
    })
}

pub(crate) fn encode(msg: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&MessageSer::<Cbor>::new(msg), out)
}

pub(crate) fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&ValueSer::<Cbor>::new(value), out)
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let err = |reason: String| ProtocolError::Decode {
        serializer: "cbor",
        reason,
    };
    let mut rest = bytes;
    let DeValue(v) = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|e| err(e.to_string()))?;
    if !rest.is_empty() {
        return Err(err(format!("{} trailing bytes", rest.len())));
    }
    Ok(v)
}

//! MessagePack via rmp-serde: byte strings are `bin`; integers beyond `i64`/`u64` cannot be encoded
//! ([`EncodeError::IntegerTooLarge`]); extension types are rejected on decode.

use serde::Serialize;

use super::MAX_DEPTH;
use super::ser::{Format, INT_TOO_LARGE, MessageSer, ValueSer, marker_error};
use super::value_de::DeValue;
use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;
use crate::value::Value;

pub(crate) struct MsgPack;

impl Format for MsgPack {
    fn bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    fn big_uint<S: serde::Serializer>(_magnitude: &[u8], _s: S) -> Result<S::Ok, S::Error> {
        Err(marker_error(INT_TOO_LARGE))
    }

    fn big_neg_int<S: serde::Serializer>(_magnitude: &[u8], _s: S) -> Result<S::Ok, S::Error> {
        Err(marker_error(INT_TOO_LARGE))
    }
}

fn write<T: Serialize>(item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut ser = rmp_serde::Serializer::new(out);
    item.serialize(&mut ser).map_err(|e| match e {
        rmp_serde::encode::Error::Syntax(ref m) if m == INT_TOO_LARGE => {
            EncodeError::IntegerTooLarge {
                serializer: "msgpack",
            }
        }
        other => EncodeError::Serializer {
            serializer: "msgpack",
            reason: other.to_string(),
        },
    })
}

pub(crate) fn encode(msg: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&MessageSer::<MsgPack>::new(msg), out)
}

pub(crate) fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&ValueSer::<MsgPack>::new(value), out)
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
    decode_at(bytes, 1)
}

/// Decodes one value found at nesting `depth` (1 for a whole message).
pub(crate) fn decode_at(bytes: &[u8], depth: usize) -> Result<Value, ProtocolError> {
    let err = |reason: String| ProtocolError::Decode {
        serializer: "msgpack",
        reason,
    };
    let mut rest = bytes;
    let mut de = rmp_serde::Deserializer::new(&mut rest);
    de.set_max_depth((MAX_DEPTH + 1).saturating_sub(depth));
    let DeValue(v) = serde::Deserialize::deserialize(&mut de).map_err(|e| err(e.to_string()))?;
    drop(de);
    if !rest.is_empty() {
        return Err(err(format!("{} trailing bytes", rest.len())));
    }
    Ok(v)
}

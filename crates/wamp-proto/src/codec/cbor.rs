//! CBOR (RFC 8949) via ciborium: byte strings are major type 2, integers beyond `u64` are
//! tag-2 bignums.

use ciborium_io::Read as _;
use ciborium_ll::{Decoder, Header, simple};
use serde::Serialize;

use super::MAX_DEPTH;
use super::ser::{Format, MessageSer, RawBytes, ValueSer};
use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;
use crate::value::{Dict, Value};

/// Bignum tag for positive integers.
const TAG_BIGPOS: u64 = 2;
/// Bignum tag for negative integers.
const TAG_BIGNEG: u64 = 3;

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

/// Decodes one CBOR item into a [`Value`] straight from ciborium-ll's header stream (no serde
/// visitor layer: about twice as fast as `ciborium::de`). Tag 2/3 bignums become integers
/// (negative ones only within `i64`); other tags are transparent.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
    let mut reader = Reader {
        dec: Decoder::from(bytes),
        total: bytes.len(),
    };
    let v = reader.value(1).map_err(|reason| ProtocolError::Decode {
        serializer: "cbor",
        reason,
    })?;
    let rest = reader.remaining();
    if rest != 0 {
        return Err(ProtocolError::Decode {
            serializer: "cbor",
            reason: format!("{rest} trailing bytes"),
        });
    }
    Ok(v)
}

struct Reader<'a> {
    dec: Decoder<&'a [u8]>,
    total: usize,
}

impl Reader<'_> {
    fn remaining(&mut self) -> usize {
        self.total.saturating_sub(self.dec.offset())
    }

    fn pull(&mut self) -> Result<Header, String> {
        self.dec.pull().map_err(|e| format!("{e:?}"))
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH}"));
        }
        match self.pull()? {
            Header::Positive(u) => Ok(Value::from(u)),
            Header::Negative(n) => negative(n),
            Header::Float(f) => Ok(Value::Float(f)),
            Header::Simple(simple::FALSE) => Ok(Value::Bool(false)),
            Header::Simple(simple::TRUE) => Ok(Value::Bool(true)),
            Header::Simple(simple::NULL | simple::UNDEFINED) => Ok(Value::Null),
            Header::Simple(other) => Err(format!("unsupported simple value {other}")),
            Header::Tag(tag @ (TAG_BIGPOS | TAG_BIGNEG)) => {
                let Header::Bytes(len) = self.pull()? else {
                    return Err(format!("tag {tag} (bignum) must wrap a byte string"));
                };
                let magnitude = self.bytes(len)?;
                if tag == TAG_BIGPOS {
                    return Ok(Value::from_be_bytes_uint(&magnitude));
                }
                match Value::from_be_bytes_uint(&magnitude) {
                    Value::Int(n) => negative(n as u64),
                    _ => Err("negative integer below i64::MIN is not supported".into()),
                }
            }
            Header::Tag(_) => self.value(depth + 1),
            Header::Break => Err("unexpected break".into()),
            Header::Bytes(len) => self.bytes(len).map(Value::Bytes),
            Header::Text(len) => self.text(len).map(Value::Str),
            Header::Array(len) => {
                let mut items = Vec::with_capacity(len.unwrap_or(0).min(self.remaining()));
                while self.more(&mut len.map(|n| n - items.len()))? {
                    items.push(self.value(depth + 1)?);
                }
                Ok(Value::List(items))
            }
            Header::Map(len) => {
                let mut dict = Dict::with_capacity(len.unwrap_or(0).min(self.remaining() / 2));
                while self.more(&mut len.map(|n| n - dict.len()))? {
                    let key = match self.pull()? {
                        Header::Text(klen) => self.text(klen)?,
                        _ => return Err("map keys must be text strings".into()),
                    };
                    let v = self.value(depth + 1)?;
                    dict.insert(key, v);
                }
                Ok(Value::Dict(dict))
            }
        }
    }

    /// Whether a container has another item: counts down a definite length, or looks for the
    /// break of an indefinite one.
    fn more(&mut self, left: &mut Option<usize>) -> Result<bool, String> {
        match left {
            Some(n) => Ok(*n > 0),
            None => match self.pull()? {
                Header::Break => Ok(false),
                header => {
                    self.dec.push(header);
                    Ok(true)
                }
            },
        }
    }

    fn bytes(&mut self, len: Option<usize>) -> Result<Vec<u8>, String> {
        if let Some(len) = len {
            if len > self.remaining() {
                return Err(format!("byte string of {len} bytes exceeds the input"));
            }
            let mut out = vec![0u8; len];
            self.dec.read_exact(&mut out).map_err(|e| e.to_string())?;
            return Ok(out);
        }
        let mut out = Vec::new();
        let mut scratch = [0u8; 1024];
        let mut segments = self.dec.bytes(None);
        while let Some(mut segment) = segments.pull().map_err(|e| format!("{e:?}"))? {
            while let Some(chunk) = segment.pull(&mut scratch).map_err(|e| format!("{e:?}"))? {
                out.extend_from_slice(chunk);
            }
        }
        Ok(out)
    }

    fn text(&mut self, len: Option<usize>) -> Result<String, String> {
        String::from_utf8(self.bytes_of_text(len)?).map_err(|_| "text string is not UTF-8".into())
    }

    fn bytes_of_text(&mut self, len: Option<usize>) -> Result<Vec<u8>, String> {
        if len.is_some() {
            return self.bytes(len);
        }
        let mut out = Vec::new();
        let mut scratch = [0u8; 1024];
        let mut segments = self.dec.text(None);
        while let Some(mut segment) = segments.pull().map_err(|e| format!("{e:?}"))? {
            while let Some(chunk) = segment.pull(&mut scratch).map_err(|e| format!("{e:?}"))? {
                out.extend_from_slice(chunk.as_bytes());
            }
        }
        Ok(out)
    }
}

/// The CBOR negative integer `-1 - n`, if it fits `i64`.
fn negative(n: u64) -> Result<Value, String> {
    i64::try_from(n)
        .map(|n| Value::Int(-1 - n))
        .map_err(|_| "negative integer below i64::MIN is not supported".into())
}

//! CBOR (RFC 8949) via ciborium: byte strings are major type 2; integers beyond `u64` are
//! tag-2 bignums, negative integers are major type 1 down to −2^64 and tag-3 bignums below (as
//! Python's cbor2 writes them).

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

    /// CBOR carries a negative integer `v` as `n = -1 - v` (major type 1, or tag 3 beyond `u64`).
    fn big_neg_int<S: serde::Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let n = be_minus_one(magnitude);
        if n.len() <= 8 {
            let n = n.iter().fold(0i128, |acc, b| (acc << 8) | i128::from(*b));
            return s.serialize_i128(-1 - n);
        }
        ciborium::tag::Required::<_, TAG_BIGNEG>(RawBytes(&n)).serialize(s)
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
/// visitor layer: about twice as fast as `ciborium::de`). Tag 2/3 bignums become integers of
/// any size; other tags are transparent.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
    decode_at(bytes, 1)
}

/// Decodes one item found at nesting `depth` (1 for a whole message).
pub(crate) fn decode_at(bytes: &[u8], depth: usize) -> Result<Value, ProtocolError> {
    let mut reader = Reader {
        dec: Decoder::from(bytes),
        total: bytes.len(),
    };
    let v = reader
        .value(depth)
        .map_err(|reason| ProtocolError::Decode {
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
            Header::Negative(n) => Ok(negative(n)),
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
                Ok(Value::from_be_bytes_neg(&be_plus_one(&magnitude)))
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

/// The CBOR negative integer `-1 - n`.
fn negative(n: u64) -> Value {
    match i64::try_from(n) {
        Ok(n) => Value::Int(-1 - n),
        Err(_) => Value::from_be_bytes_neg(&(u128::from(n) + 1).to_be_bytes()),
    }
}

/// A big-endian magnitude plus one (the result may be one byte longer).
pub(crate) fn be_plus_one(magnitude: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(magnitude.len() + 1);
    out.push(0);
    out.extend_from_slice(magnitude);
    for b in out.iter_mut().rev() {
        let (sum, carry) = b.overflowing_add(1);
        *b = sum;
        if !carry {
            break;
        }
    }
    out
}

/// A positive big-endian magnitude minus one, without leading zeros.
fn be_minus_one(magnitude: &[u8]) -> Vec<u8> {
    let mut out = magnitude.to_vec();
    for b in out.iter_mut().rev() {
        let (diff, borrow) = b.overflowing_sub(1);
        *b = diff;
        if !borrow {
            break;
        }
    }
    crate::value::strip_leading_zeros(&out).to_vec()
}

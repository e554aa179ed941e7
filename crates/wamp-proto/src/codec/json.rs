//! JSON: encoding through serde_json, decoding through jiter (exact integers of any size).
//!
//! Byte strings travel as a JSON string of `"\u0000"` followed by standard base64 with padding
//! (Autobahn's convention); a received string starting with U+0000 is decoded as bytes.
//! Integers beyond `u64` or below `i64::MIN` are bare JSON integers in both directions.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiter::{Jiter, NumberAny, NumberInt, Peek};
use num_bigint::{BigUint, Sign};
use serde::Serialize;

use super::MAX_DEPTH;
use super::ser::{Format, MessageSer, NON_FINITE, ValueSer, marker_error};
use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;
use crate::value::{Dict, Value};

pub(crate) struct Json;

/// `"\0"` followed by base64, written straight into the serializer's escaped-string output.
struct BinaryString<'a>(&'a [u8]);

impl fmt::Display for BinaryString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\0")?;
        fmt::Display::fmt(&base64::display::Base64Display::new(self.0, &STANDARD), f)
    }
}

impl Format for Json {
    fn bytes<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&BinaryString(bytes))
    }

    fn big_uint<S: serde::Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if magnitude.len() <= 16 {
            let v = magnitude
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
            return s.serialize_u128(v);
        }
        raw_integer("", magnitude, s)
    }

    fn big_neg_int<S: serde::Serializer>(magnitude: &[u8], s: S) -> Result<S::Ok, S::Error> {
        raw_integer("-", magnitude, s)
    }

    fn float<S: serde::Serializer>(f: f64, s: S) -> Result<S::Ok, S::Error> {
        if f.is_finite() {
            s.serialize_f64(f)
        } else {
            Err(marker_error(NON_FINITE))
        }
    }
}

/// A bare JSON integer of any size: `sign` and the decimal digits of the magnitude.
fn raw_integer<S: serde::Serializer>(
    sign: &str,
    magnitude: &[u8],
    s: S,
) -> Result<S::Ok, S::Error> {
    let digits = format!("{sign}{}", BigUint::from_bytes_be(magnitude));
    let raw =
        serde_json::value::RawValue::from_string(digits).map_err(serde::ser::Error::custom)?;
    raw.serialize(s)
}

fn write<T: Serialize>(item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    serde_json::to_writer(out, item).map_err(|e| {
        if e.to_string() == NON_FINITE {
            EncodeError::NonFiniteFloat
        } else {
            EncodeError::Serializer {
                serializer: "json",
                reason: e.to_string(),
            }
        }
    })
}

pub(crate) fn encode(msg: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&MessageSer::<Json>::new(msg), out)
}

pub(crate) fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(&ValueSer::<Json>::new(value), out)
}

fn err(reason: impl ToString) -> ProtocolError {
    ProtocolError::Decode {
        serializer: "json",
        reason: reason.to_string(),
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ProtocolError> {
    decode_at(bytes, 1)
}

/// Decodes one value found at nesting `depth` (1 for a whole message).
pub(crate) fn decode_at(bytes: &[u8], depth: usize) -> Result<Value, ProtocolError> {
    let mut j = Jiter::new(bytes);
    let peek = j.peek().map_err(err)?;
    let v = read(&mut j, peek, depth)?;
    j.finish().map_err(err)?;
    Ok(v)
}

fn read(j: &mut Jiter<'_>, peek: Peek, depth: usize) -> Result<Value, ProtocolError> {
    match peek {
        Peek::Null => {
            j.known_null().map_err(err)?;
            Ok(Value::Null)
        }
        Peek::True | Peek::False => j.known_bool(peek).map(Value::Bool).map_err(err),
        Peek::String => {
            let s = j.known_str().map_err(err)?;
            match s.strip_prefix('\0') {
                Some(b64) => STANDARD
                    .decode(b64)
                    .map(Value::Bytes)
                    .map_err(|e| err(format!("binary string: {e}"))),
                None => Ok(Value::Str(s.to_owned())),
            }
        }
        Peek::Array => {
            check_depth(depth)?;
            let mut items = Vec::new();
            let mut next = j.known_array().map_err(err)?;
            while let Some(p) = next {
                items.push(read(j, p, depth + 1)?);
                next = j.array_step().map_err(err)?;
            }
            Ok(Value::List(items))
        }
        Peek::Object => {
            check_depth(depth)?;
            let mut dict = Dict::new();
            let mut key = j.known_object().map_err(err)?.map(str::to_owned);
            while let Some(k) = key {
                let p = j.peek().map_err(err)?;
                let v = read(j, p, depth + 1)?;
                dict.insert(k, v);
                key = j.next_key().map_err(err)?.map(str::to_owned);
            }
            Ok(Value::Dict(dict))
        }
        _ => match j.known_number(peek).map_err(err)? {
            NumberAny::Int(NumberInt::Int(i)) => Ok(Value::Int(i)),
            NumberAny::Int(NumberInt::BigInt(big)) => {
                let (sign, magnitude) = big.to_bytes_be();
                if sign == Sign::Minus {
                    return Ok(Value::from_be_bytes_neg(&magnitude));
                }
                Ok(Value::from_be_bytes_uint(&magnitude))
            }
            NumberAny::Float(f) => Ok(Value::Float(f)),
        },
    }
}

fn check_depth(depth: usize) -> Result<(), ProtocolError> {
    if depth > MAX_DEPTH {
        Err(err(format!("nesting deeper than {MAX_DEPTH}")))
    } else {
        Ok(())
    }
}

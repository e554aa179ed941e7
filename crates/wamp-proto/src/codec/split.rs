//! Splits a frame that failed to decode into the elements of its top-level list and decodes each
//! on its own, so one undecodable element (say a payload with a map key this client cannot
//! represent) does not hide the others (the message type and ids).
//!
//! Only used after the normal decode failed: the hot path never comes here. The splitters only
//! find item boundaries (any key type, tag, extension or depth is skipped); a frame whose list
//! structure itself is broken gives `None`.

use std::ops::Range;

use ciborium_io::Read as _;
use ciborium_ll::{Decoder, Header};
use jiter::{Jiter, JiterError, JiterErrorType, JsonErrorType, Peek};
use rmp::Marker;

use super::{Serializer, cbor, json, msgpack};
use crate::value::Value;

/// Each element of the frame's top-level list, decoded on its own (`Err` with the decoder's
/// reason for those that fail); `None` when the frame is not a well-formed list.
pub(crate) fn elements(ser: Serializer, bytes: &[u8]) -> Option<Vec<Result<Value, String>>> {
    let bounds = match ser {
        Serializer::Json => json_bounds(bytes)?,
        Serializer::MsgPack => msgpack_bounds(bytes)?,
        Serializer::Cbor => cbor_bounds(bytes)?,
    };
    let decode = match ser {
        Serializer::Json => json::decode_at,
        Serializer::MsgPack => msgpack::decode_at,
        Serializer::Cbor => cbor::decode_at,
    };
    Some(
        bounds
            .into_iter()
            .map(|r| decode(&bytes[r], 2).map_err(|e| e.to_string()))
            .collect(),
    )
}

fn json_bounds(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut j = Jiter::new(bytes);
    if j.peek().ok()? != Peek::Array {
        return None;
    }
    // jiter skips with a recursion limit: past it the element is measured by its brackets and
    // parsing resumes after it (positions are then relative to `base`).
    let mut base = 0;
    let mut bounds = Vec::new();
    let mut next = j.known_array().ok()?;
    while let Some(peek) = next {
        let start = base + j.current_index();
        match j.known_skip(peek) {
            Ok(()) => bounds.push(start..base + j.current_index()),
            Err(e) if is_too_deep(&e) => {
                base = start + json_nested_len(&bytes[start..])?;
                bounds.push(start..base);
                j = Jiter::new(&bytes[base..]);
            }
            Err(_) => return None,
        }
        next = j.array_step().ok()?;
    }
    j.finish().ok()?;
    Some(bounds)
}

fn is_too_deep(e: &JiterError) -> bool {
    matches!(
        e.error_type,
        JiterErrorType::JsonError(JsonErrorType::RecursionLimitExceeded)
    )
}

/// The length of the JSON array or object at the start of `bytes`, by its brackets (strings
/// and their escapes are stepped over); `None` if it does not close.
fn json_nested_len(bytes: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

fn cbor_bounds(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut dec = Decoder::from(bytes);
    let len = match dec.pull().ok()? {
        Header::Array(len) => len,
        _ => return None,
    };
    let mut bounds = Vec::new();
    loop {
        if len.is_some_and(|n| bounds.len() == n) {
            break;
        }
        let start = dec.offset();
        match dec.pull().ok()? {
            Header::Break if len.is_none() => break,
            header => {
                dec.push(header);
                cbor_skip(&mut dec, bytes.len())?;
            }
        }
        bounds.push(start..dec.offset());
    }
    (dec.offset() == bytes.len()).then_some(bounds)
}

/// Skips one CBOR item of any shape (iteratively: depth is bounded only by the input).
fn cbor_skip(dec: &mut Decoder<&[u8]>, total: usize) -> Option<()> {
    // Items still to read per open container; `None` for indefinite lengths.
    let mut open: Vec<Option<u64>> = vec![Some(1)];
    loop {
        match open.last_mut() {
            None => return Some(()),
            Some(Some(0)) => {
                open.pop();
                continue;
            }
            Some(Some(n)) => *n -= 1,
            Some(None) => {}
        }
        match dec.pull().ok()? {
            Header::Break => match open.pop() {
                Some(None) => {}
                _ => return None,
            },
            Header::Tag(_) => open.push(Some(1)),
            Header::Array(len) => open.push(len.map(|n| n as u64)),
            Header::Map(len) => open.push(match len {
                Some(n) => Some((n as u64).checked_mul(2)?),
                None => None,
            }),
            Header::Bytes(Some(len)) | Header::Text(Some(len)) => {
                if len > total.saturating_sub(dec.offset()) {
                    return None;
                }
                let mut scratch = [0u8; 256];
                let mut left = len;
                while left > 0 {
                    let n = left.min(scratch.len());
                    dec.read_exact(&mut scratch[..n]).ok()?;
                    left -= n;
                }
            }
            Header::Bytes(None) | Header::Text(None) => {
                // Indefinite strings: chunks of the same major type until a break.
                open.push(None);
            }
            Header::Positive(_) | Header::Negative(_) | Header::Float(_) | Header::Simple(_) => {}
        }
    }
}

fn msgpack_bounds(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let (count, mut pos) = msgpack_container(bytes, 0)?;
    let mut bounds = Vec::new();
    for _ in 0..count {
        let end = msgpack_skip(bytes, pos)?;
        bounds.push(pos..end);
        pos = end;
    }
    (pos == bytes.len()).then_some(bounds)
}

/// The element count of the array at `pos` and where its first element starts.
fn msgpack_container(bytes: &[u8], pos: usize) -> Option<(u64, usize)> {
    match Marker::from_u8(*bytes.get(pos)?) {
        Marker::FixArray(n) => Some((u64::from(n), pos + 1)),
        Marker::Array16 => Some((be_uint(bytes, pos + 1, 2)?, pos + 3)),
        Marker::Array32 => Some((be_uint(bytes, pos + 1, 4)?, pos + 5)),
        _ => None,
    }
}

/// Skips one MsgPack item of any shape starting at `pos`; returns where it ends.
fn msgpack_skip(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let mut items: u64 = 1;
    while items > 0 {
        items -= 1;
        let marker = Marker::from_u8(*bytes.get(pos)?);
        pos += 1;
        // (bytes of length prefix, fixed payload bytes, nested items per length unit)
        let (len_bytes, fixed, per_unit): (usize, usize, u64) = match marker {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null => (0, 0, 0),
            Marker::True | Marker::False => (0, 0, 0),
            Marker::U8 | Marker::I8 => (0, 1, 0),
            Marker::U16 | Marker::I16 => (0, 2, 0),
            Marker::U32 | Marker::I32 | Marker::F32 => (0, 4, 0),
            Marker::U64 | Marker::I64 | Marker::F64 => (0, 8, 0),
            Marker::FixStr(n) => (0, usize::from(n), 0),
            Marker::FixArray(n) => {
                items += u64::from(n);
                (0, 0, 0)
            }
            Marker::FixMap(n) => {
                items += 2 * u64::from(n);
                (0, 0, 0)
            }
            Marker::FixExt1 => (0, 2, 0),
            Marker::FixExt2 => (0, 3, 0),
            Marker::FixExt4 => (0, 5, 0),
            Marker::FixExt8 => (0, 9, 0),
            Marker::FixExt16 => (0, 17, 0),
            Marker::Str8 | Marker::Bin8 => (1, 0, 0),
            Marker::Str16 | Marker::Bin16 => (2, 0, 0),
            Marker::Str32 | Marker::Bin32 => (4, 0, 0),
            Marker::Ext8 => (1, 1, 0),
            Marker::Ext16 => (2, 1, 0),
            Marker::Ext32 => (4, 1, 0),
            Marker::Array16 => (2, 0, 1),
            Marker::Array32 => (4, 0, 1),
            Marker::Map16 => (2, 0, 2),
            Marker::Map32 => (4, 0, 2),
            Marker::Reserved => return None,
        };
        let mut skip = fixed;
        if len_bytes > 0 {
            let n = be_uint(bytes, pos, len_bytes)?;
            pos += len_bytes;
            if per_unit > 0 {
                items = items.checked_add(n.checked_mul(per_unit)?)?;
            } else {
                skip += usize::try_from(n).ok()?;
            }
        }
        pos = pos.checked_add(skip).filter(|end| *end <= bytes.len())?;
        // Each item takes at least one byte: more announced items than bytes left is broken.
        if items > (bytes.len() - pos) as u64 {
            return None;
        }
    }
    Some(pos)
}

/// A big-endian unsigned integer of `len` bytes at `pos`.
fn be_uint(bytes: &[u8], pos: usize, len: usize) -> Option<u64> {
    let field = bytes.get(pos..pos.checked_add(len)?)?;
    Some(field.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_splits_around_an_undecodable_element() {
        // [36, 1, 2, {}, [{1: 2}]]: the argument list has a non-text map key.
        let cbor = [0x85, 0x18, 0x24, 0x01, 0x02, 0xa0, 0x81, 0xa1, 0x01, 0x02];
        let msgpack = [0x95, 0x24, 0x01, 0x02, 0x80, 0x91, 0x81, 0x01, 0x02];
        let json = b"[36, 1, 2, {}, [\"\\u0000***\"]]";
        for (ser, bytes) in [
            (Serializer::Cbor, &cbor[..]),
            (Serializer::MsgPack, &msgpack[..]),
            (Serializer::Json, &json[..]),
        ] {
            let elements = elements(ser, bytes).expect("a well-formed list");
            assert_eq!(elements.len(), 5, "{ser}");
            assert_eq!(elements[0], Ok(Value::Int(36)), "{ser}");
            assert_eq!(elements[2], Ok(Value::Int(2)), "{ser}");
            assert!(elements[4].is_err(), "{ser}");
        }
    }

    #[test]
    fn json_deeper_than_the_skip_limit_still_splits() {
        let deep = format!("{}\"]\\\"[\"{}", "[".repeat(300), "]".repeat(300));
        let frame = format!("[36, 1, 2, {{}}, [{deep}], {{\"k\": \"v\"}}]");
        let split = elements(Serializer::Json, frame.as_bytes()).expect("splits");
        assert_eq!(split.len(), 6);
        assert!(split[4].is_err());
        assert_eq!(
            split[5]
                .as_ref()
                .ok()
                .and_then(Value::as_dict)
                .map(|d| d.len()),
            Some(1)
        );
        // Unclosed brackets do not split.
        let open = format!("[36, 1, 2, {{}}, [{}]", "[".repeat(300));
        assert!(elements(Serializer::Json, open.as_bytes()).is_none());
    }

    #[test]
    fn broken_lists_do_not_split() {
        assert!(elements(Serializer::Cbor, &[0x82, 0x01]).is_none());
        assert!(elements(Serializer::Cbor, &[0x81, 0x01, 0x00]).is_none());
        assert!(elements(Serializer::Cbor, &[0x9f, 0x01]).is_none());
        assert!(elements(Serializer::MsgPack, &[0x92, 0x01]).is_none());
        assert!(elements(Serializer::MsgPack, &[0x91, 0xdd, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(elements(Serializer::Json, b"[1,").is_none());
        assert!(elements(Serializer::Json, b"{}").is_none());
        // Indefinite-length CBOR containers and strings split too.
        let indefinite = [
            0x9f, 0x01, 0x7f, 0x61, b'a', 0xff, 0xbf, 0x01, 0x02, 0xff, 0xff,
        ];
        let split = elements(Serializer::Cbor, &indefinite).expect("splits");
        assert_eq!(split[1], Ok(Value::from("a")));
        assert!(split[2].is_err());
    }
}

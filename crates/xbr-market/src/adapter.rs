//! Glue between WAMP payloads and the roles that is shared by every transport.

use wamp_proto::Value;

use crate::error::MarketResult;
use crate::types::Oid;
use crate::wire::Args;

/// Reads a data event `(key_id b16, enc_ser str, ciphertext bytes)` (the application convention
/// of the reference examples, spec §1).
pub fn read_event(args: &[Value]) -> MarketResult<(Oid, String, Vec<u8>)> {
    let a = Args::new("event", args, 3, 3)?;
    let key_id = a.bytes::<16>(0, "key_id")?;
    let enc_ser = a.str(1, "enc_ser")?;
    let ct = a.at(2).as_bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        crate::error::MarketError::invalid_argument("event: argument 'ciphertext' must be bytes")
    })?;
    Ok((key_id, enc_ser, ct))
}

/// The positional args of a data event.
pub fn event_args(key_id: &Oid, enc_ser: &str, ciphertext: Vec<u8>) -> Vec<Value> {
    vec![
        Value::Bytes(key_id.to_vec()),
        Value::from(enc_ser),
        Value::Bytes(ciphertext),
    ]
}

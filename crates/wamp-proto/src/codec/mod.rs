//! Serializers: JSON, MsgPack and CBOR, as negotiated by WebSocket subprotocol or RawSocket id.
//!
//! Encoding writes the message straight from its typed fields into the output buffer (no
//! intermediate value tree). Decoding builds a [`Value`] list and moves its elements into the
//! typed [`Message`].
//!
//! Format rules (wire-compatible with Autobahn|Python and Crossbar.io):
//! * byte strings: CBOR major type 2, MsgPack `bin`, JSON a string of `"\u0000"` followed by
//!   standard base64 with padding;
//! * integers beyond `u64`: CBOR tag-2 bignums, JSON bare integers, MsgPack
//!   [`EncodeError::IntegerTooLarge`] (MsgPack has no such type);
//! * integers below `i64::MIN`: CBOR major type 1 down to −2^64 and tag-3 bignums below, JSON bare
//!   integers, MsgPack [`EncodeError::IntegerTooLarge`];
//! * nesting deeper than [`MAX_DEPTH`] is rejected on decode.
//!
//! [`Serializer::decode_received`] (module `payload`, with `split`) tells a frame whose
//! EVENT/RESULT/ERROR/INVOCATION envelope decodes but whose payload does not apart from a broken
//! frame, so the session can fail just that message.

mod cbor;
mod json;
mod msgpack;
mod payload;
mod ser;
mod split;
mod value_de;

pub use payload::{DecodeError, Envelope, PayloadError};

use std::fmt;
use std::str::FromStr;

use crate::error::{EncodeError, ProtocolError};
use crate::message::Message;
use crate::value::Value;

/// Maximum container nesting accepted by the decoders (the WAMP list itself is level 1).
pub const MAX_DEPTH: usize = 64;

/// A WAMP serializer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Serializer {
    /// JSON (`wamp.2.json`, RawSocket id 1); a text format.
    Json,
    /// MessagePack (`wamp.2.msgpack`, RawSocket id 2).
    MsgPack,
    /// CBOR (`wamp.2.cbor`, RawSocket id 3).
    Cbor,
}

impl Serializer {
    /// All serializers, in order of preference for negotiation (CBOR first: it carries
    /// every value XBR needs and is compact).
    pub const ALL: [Serializer; 3] = [Serializer::Cbor, Serializer::MsgPack, Serializer::Json];

    /// Encodes a message into a new buffer.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(128);
        self.encode_into(msg, &mut out)?;
        Ok(out)
    }

    /// Encodes a message, appending to `out` (lets a caller reuse one buffer). On error,
    /// `out` may hold a partial message and should be cleared.
    pub fn encode_into(&self, msg: &Message, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Serializer::Json => json::encode(msg, out),
            Serializer::MsgPack => msgpack::encode(msg, out),
            Serializer::Cbor => cbor::encode(msg, out),
        }
    }

    /// Decodes one message. Never panics on any input.
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, ProtocolError> {
        Message::from_value(self.decode_value(bytes)?)
    }

    /// Decodes one message after checking its size against `max_size` (before any parsing).
    pub fn decode_limited(&self, bytes: &[u8], max_size: usize) -> Result<Message, ProtocolError> {
        if bytes.len() > max_size {
            return Err(ProtocolError::Oversize {
                size: bytes.len(),
                max: max_size,
            });
        }
        self.decode(bytes)
    }

    /// Decodes any value (not necessarily a WAMP message).
    pub fn decode_value(&self, bytes: &[u8]) -> Result<Value, ProtocolError> {
        match self {
            Serializer::Json => json::decode(bytes),
            Serializer::MsgPack => msgpack::decode(bytes),
            Serializer::Cbor => cbor::decode(bytes),
        }
    }

    /// Encodes any value (e.g. an application payload).
    pub fn encode_value(&self, value: &Value) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        match self {
            Serializer::Json => json::encode_value(value, &mut out)?,
            Serializer::MsgPack => msgpack::encode_value(value, &mut out)?,
            Serializer::Cbor => cbor::encode_value(value, &mut out)?,
        }
        Ok(out)
    }

    /// Short name: `json`, `msgpack` or `cbor`.
    pub fn name(&self) -> &'static str {
        match self {
            Serializer::Json => "json",
            Serializer::MsgPack => "msgpack",
            Serializer::Cbor => "cbor",
        }
    }

    /// The WebSocket subprotocol, e.g. `wamp.2.cbor`.
    pub fn ws_subprotocol(&self) -> &'static str {
        match self {
            Serializer::Json => "wamp.2.json",
            Serializer::MsgPack => "wamp.2.msgpack",
            Serializer::Cbor => "wamp.2.cbor",
        }
    }

    /// The serializer for a WebSocket subprotocol.
    pub fn from_subprotocol(subprotocol: &str) -> Option<Serializer> {
        Serializer::ALL
            .into_iter()
            .find(|s| s.ws_subprotocol() == subprotocol)
    }

    /// The RawSocket handshake serializer id (1 JSON, 2 MsgPack, 3 CBOR).
    pub fn rawsocket_id(&self) -> u8 {
        match self {
            Serializer::Json => 1,
            Serializer::MsgPack => 2,
            Serializer::Cbor => 3,
        }
    }

    /// The serializer for a RawSocket handshake id.
    pub fn from_rawsocket_id(id: u8) -> Option<Serializer> {
        Serializer::ALL.into_iter().find(|s| s.rawsocket_id() == id)
    }

    /// True for binary formats (WebSocket binary frames); JSON goes in text frames.
    pub fn is_binary(&self) -> bool {
        !matches!(self, Serializer::Json)
    }
}

impl fmt::Display for Serializer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown serializer name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown serializer {0:?} (expected json, msgpack or cbor)")]
pub struct UnknownSerializer(pub String);

impl FromStr for Serializer {
    type Err = UnknownSerializer;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Serializer::ALL
            .into_iter()
            .find(|ser| ser.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSerializer(s.to_owned()))
    }
}

#[cfg(test)]
mod tests;

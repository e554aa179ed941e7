//! Received frames whose envelope decodes but whose payload does not: the session fails that one
//! message (drops the event, fails the call, answers the invocation) instead of the connection.

use super::{Serializer, split};
use crate::error::ProtocolError;
use crate::message::{MAX_ID, Message, code};

/// Why a received frame was not turned into a [`Message`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not a WAMP message (or its envelope is broken): a protocol violation.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// The envelope decoded, the payload did not: only this message fails.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// A received EVENT, RESULT, ERROR or INVOCATION whose message type and ids decode but whose
/// details, arguments or keyword arguments hold something this client cannot represent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} with an undecodable payload: {reason}", .envelope.name())]
pub struct PayloadError {
    /// The message type and the ids that route it.
    pub envelope: Envelope,
    /// What the decoder reported for the payload.
    pub reason: String,
}

/// The routing part of a message with an undecodable payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `[EVENT, Subscription|id, Publication|id, …]`
    Event {
        /// Subscription id.
        subscription: u64,
        /// Publication id.
        publication: u64,
    },
    /// `[RESULT, CALL.Request|id, …]`
    Result {
        /// Request id of the call.
        request: u64,
        /// The details decoded and mark a progressive result (more results follow).
        progress: bool,
    },
    /// `[ERROR, REQUEST.Type|int, REQUEST.Request|id, …]`
    Error {
        /// Message code of the failed request.
        request_type: u8,
        /// Request id of the failed request.
        request: u64,
    },
    /// `[INVOCATION, Request|id, REGISTERED.Registration|id, …]`
    Invocation {
        /// Invocation request id.
        request: u64,
        /// Registration id.
        registration: u64,
    },
}

impl Envelope {
    /// The message name (`EVENT`, `RESULT` …).
    pub fn name(&self) -> &'static str {
        match self {
            Envelope::Event { .. } => "EVENT",
            Envelope::Result { .. } => "RESULT",
            Envelope::Error { .. } => "ERROR",
            Envelope::Invocation { .. } => "INVOCATION",
        }
    }
}

impl Serializer {
    /// Decodes one received message after checking its size, telling a broken payload of an
    /// EVENT, RESULT, ERROR or INVOCATION ([`DecodeError::Payload`]) apart from a broken
    /// message ([`DecodeError::Protocol`]). Costs nothing extra for frames that decode.
    pub fn decode_received(&self, bytes: &[u8], max_size: usize) -> Result<Message, DecodeError> {
        match self.decode_limited(bytes, max_size) {
            Ok(msg) => Ok(msg),
            Err(e @ ProtocolError::Decode { .. }) => Err(match payload_error(*self, bytes) {
                Some(payload) => DecodeError::Payload(payload),
                None => DecodeError::Protocol(e),
            }),
            Err(e) => Err(DecodeError::Protocol(e)),
        }
    }
}

/// The payload error of a frame that failed to decode, if only its payload is at fault.
fn payload_error(ser: Serializer, bytes: &[u8]) -> Option<PayloadError> {
    let elements = split::elements(ser, bytes)?;
    let id = |i: usize| {
        elements
            .get(i)?
            .as_ref()
            .ok()?
            .as_u64()
            .filter(|id| *id <= MAX_ID)
    };
    // (envelope, its element count, the most elements the message may have)
    let (envelope, head, max_len) = match u8::try_from(id(0)?).ok()? {
        code::EVENT => (
            Envelope::Event {
                subscription: id(1)?,
                publication: id(2)?,
            },
            3,
            6,
        ),
        code::RESULT => {
            let progress = elements
                .get(2)
                .and_then(|d| d.as_ref().ok()?.as_dict()?.get("progress")?.as_bool())
                .unwrap_or(false);
            let request = id(1)?;
            (Envelope::Result { request, progress }, 2, 5)
        }
        code::ERROR => (
            Envelope::Error {
                request_type: u8::try_from(id(1)?).ok()?,
                request: id(2)?,
            },
            3,
            7,
        ),
        code::INVOCATION => (
            Envelope::Invocation {
                request: id(1)?,
                registration: id(2)?,
            },
            3,
            6,
        ),
        _ => return None,
    };
    if elements.len() > max_len {
        return None;
    }
    let reason = elements[head..].iter().find_map(|e| e.as_ref().err())?;
    Some(PayloadError {
        envelope,
        reason: reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    #[test]
    fn a_bad_payload_keeps_its_envelope() {
        let cases: &[(Serializer, &[u8], Envelope)] = &[
            (
                Serializer::Json,
                b"[36,5,6,{},[\"\\u0000***\"]]",
                Envelope::Event {
                    subscription: 5,
                    publication: 6,
                },
            ),
            (
                Serializer::Cbor,
                &[0x84, 0x18, 0x32, 0x07, 0xa0, 0x81, 0xa1, 0x01, 0x02],
                Envelope::Result {
                    request: 7,
                    progress: false,
                },
            ),
            (
                Serializer::MsgPack,
                &[
                    0x96, 0x08, 0x30, 0x09, 0x80, 0xa1, b'e', 0x91, 0xd4, 0x01, 0x02,
                ],
                Envelope::Error {
                    request_type: 48,
                    request: 9,
                },
            ),
            (
                Serializer::Cbor,
                &[0x85, 0x18, 0x44, 0x03, 0x04, 0xa1, 0x01, 0x02, 0x80],
                Envelope::Invocation {
                    request: 3,
                    registration: 4,
                },
            ),
        ];
        for (ser, bytes, envelope) in cases {
            match ser.decode_received(bytes, MAX) {
                Err(DecodeError::Payload(p)) => assert_eq!(&p.envelope, envelope, "{ser}"),
                other => panic!("{ser} {bytes:02x?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_bad_envelope_stays_a_protocol_violation() {
        let cases: &[(Serializer, &[u8])] = &[
            // The id itself is undecodable / the type has no payload / too many elements.
            (Serializer::Json, b"[36,\"\\u0000***\",6,{},[]]"),
            (Serializer::Json, b"[33,\"\\u0000***\",6]"),
            (Serializer::Json, b"[50,1,{},[],{},[\"\\u0000***\"]]"),
            (Serializer::Json, b"[36,1,"),
        ];
        for (ser, bytes) in cases {
            assert!(
                matches!(
                    ser.decode_received(bytes, MAX),
                    Err(DecodeError::Protocol(_))
                ),
                "{ser} {bytes:?}"
            );
        }
        assert!(matches!(
            Serializer::Json.decode_received(b"[36,1,2,{},[1]]", 4),
            Err(DecodeError::Protocol(ProtocolError::Oversize { .. }))
        ));
        assert!(
            Serializer::Json
                .decode_received(b"[36,1,2,{},[1]]", MAX)
                .is_ok()
        );
    }
}

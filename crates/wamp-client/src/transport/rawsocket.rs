//! WAMP RawSocket: the 4-byte handshake and the length-prefixed framing.
//!
//! Handshake (client → router, router → client): `0x7F`, then one byte whose high nibble is the
//! maximum message length exponent (`2^(9+n)` bytes, n in 0..=15, so 512 B up to 16 MiB) and whose
//! low nibble is the serializer (1 JSON, 2 MsgPack, 3 CBOR), then two reserved zero bytes. A router
//! that refuses sends `0x7F`, `error << 4`, `0`, `0`.
//!
//! Frames: a 4-byte header (low 3 bits of the first byte are the frame type: 0 message, 1 ping,
//! 2 pong; the next three bytes are the big-endian payload length) followed by the payload.

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::TransportError;

/// The RawSocket magic octet that opens every handshake.
pub const MAGIC: u8 = 0x7F;
/// The largest message a RawSocket can carry: 2^24 bytes (16 MiB).
pub const MAX_LENGTH_LIMIT: usize = 1 << 24;
/// Size of a frame header.
pub const HEADER_LEN: usize = 4;

/// Kind of a RawSocket frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameType {
    /// A serialized WAMP message.
    Message,
    /// A transport-level ping; the peer answers with a pong carrying the same payload.
    Ping,
    /// The answer to a ping.
    Pong,
}

impl FrameType {
    fn code(self) -> u8 {
        match self {
            FrameType::Message => 0,
            FrameType::Ping => 1,
            FrameType::Pong => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self, TransportError> {
        match code {
            0 => Ok(FrameType::Message),
            1 => Ok(FrameType::Ping),
            2 => Ok(FrameType::Pong),
            other => Err(TransportError::Protocol(format!(
                "RawSocket frame type {other} is reserved"
            ))),
        }
    }
}

/// A decoded RawSocket frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the payload is.
    pub kind: FrameType,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Why a router refused the RawSocket handshake (the error nibble of its reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRefusal {
    /// Error 0: illegal (must not be used by a router).
    #[error("router sent the illegal handshake error code 0")]
    Illegal,
    /// Error 1: the router does not speak the requested serializer.
    #[error("router does not support the requested serializer")]
    SerializerUnsupported,
    /// Error 2: the router does not accept the announced maximum message length.
    #[error("router does not accept the announced maximum message length")]
    MaxLengthUnacceptable,
    /// Error 3: reserved bits were set.
    #[error("router rejected reserved bits in the handshake")]
    ReservedBitsUsed,
    /// Error 4: the router has reached its maximum number of connections.
    #[error("router reached its maximum connection count")]
    MaxConnectionCountReached,
    /// Any other (reserved) error code.
    #[error("router refused the handshake with unknown error code {0}")]
    Other(u8),
}

impl HandshakeRefusal {
    fn from_code(code: u8) -> Self {
        match code {
            0 => HandshakeRefusal::Illegal,
            1 => HandshakeRefusal::SerializerUnsupported,
            2 => HandshakeRefusal::MaxLengthUnacceptable,
            3 => HandshakeRefusal::ReservedBitsUsed,
            4 => HandshakeRefusal::MaxConnectionCountReached,
            other => HandshakeRefusal::Other(other),
        }
    }
}

/// The smallest length exponent whose limit `2^(9+n)` covers `max_len` (capped at 15 = 16 MiB).
pub fn length_exponent(max_len: usize) -> u8 {
    let mut exp = 0u8;
    while exp < 15 && (1usize << (9 + exp)) < max_len {
        exp += 1;
    }
    exp
}

/// The message length limit announced by a length exponent.
pub fn length_from_exponent(exp: u8) -> usize {
    1usize << (9 + usize::from(exp & 0x0F))
}

/// The client's handshake bytes.
pub fn client_handshake(max_len: usize, serializer_id: u8) -> [u8; 4] {
    [
        MAGIC,
        (length_exponent(max_len) << 4) | (serializer_id & 0x0F),
        0,
        0,
    ]
}

/// Parses the router's handshake reply: the router's maximum message length on success.
pub fn parse_handshake_reply(reply: [u8; 4], serializer_id: u8) -> Result<usize, TransportError> {
    if reply[0] != MAGIC {
        return Err(TransportError::Protocol(format!(
            "RawSocket handshake reply starts with 0x{:02x}, not 0x7f (is this a RawSocket endpoint?)",
            reply[0]
        )));
    }
    let serializer = reply[1] & 0x0F;
    let high = reply[1] >> 4;
    if serializer == 0 {
        return Err(TransportError::HandshakeRefused(
            HandshakeRefusal::from_code(high),
        ));
    }
    if serializer != serializer_id {
        return Err(TransportError::Protocol(format!(
            "router answered with serializer {serializer}, we asked for {serializer_id}"
        )));
    }
    if reply[2] != 0 || reply[3] != 0 {
        return Err(TransportError::Protocol(
            "RawSocket handshake reply has non-zero reserved bytes".into(),
        ));
    }
    Ok(length_from_exponent(high))
}

/// Performs the client side of the handshake on a freshly connected stream.
///
/// Returns the router's maximum message length.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    max_len: usize,
    serializer_id: u8,
) -> Result<usize, TransportError> {
    stream
        .write_all(&client_handshake(max_len, serializer_id))
        .await?;
    stream.flush().await?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            TransportError::Protocol(
                "router closed the connection during the RawSocket handshake".into(),
            )
        } else {
            TransportError::Io(e)
        }
    })?;
    parse_handshake_reply(reply, serializer_id)
}

/// Encodes a frame header for a payload of `len` bytes.
pub fn frame_header(kind: FrameType, len: usize) -> Result<[u8; 4], TransportError> {
    if len >= MAX_LENGTH_LIMIT {
        return Err(TransportError::MessageTooLarge {
            size: len,
            limit: MAX_LENGTH_LIMIT - 1,
        });
    }
    let l = len as u32;
    Ok([kind.code(), (l >> 16) as u8, (l >> 8) as u8, l as u8])
}

/// Tries to take one complete frame off the front of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed. The length in the header is checked against
/// `max_len` before any payload is buffered, so an oversize frame fails at once.
pub fn decode_frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Frame>, TransportError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[0] & 0xF8 != 0 {
        return Err(TransportError::Protocol(
            "RawSocket frame header uses reserved bits".into(),
        ));
    }
    let kind = FrameType::from_code(buf[0] & 0x07)?;
    let len = (usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]);
    if len > max_len {
        return Err(TransportError::MessageTooLarge {
            size: len,
            limit: max_len,
        });
    }
    if buf.len() < HEADER_LEN + len {
        // Reserve for the rest of this frame only; the length was checked above.
        buf.reserve(HEADER_LEN + len - buf.len());
        return Ok(None);
    }
    buf.advance(HEADER_LEN);
    let payload = buf.split_to(len).to_vec();
    Ok(Some(Frame { kind, payload }))
}

/// A RawSocket connection after the handshake: reads and writes frames.
#[derive(Debug)]
pub struct RawSocket<S> {
    stream: S,
    read_buf: BytesMut,
    /// Largest message we accept.
    max_in: usize,
    /// Largest message the router accepts.
    max_out: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RawSocket<S> {
    /// Wraps a stream on which the handshake is done.
    pub fn new(stream: S, max_in: usize, max_out: usize) -> Self {
        RawSocket {
            stream,
            read_buf: BytesMut::with_capacity(8 * 1024),
            max_in,
            max_out,
        }
    }

    /// The largest message the router accepts.
    pub fn max_out(&self) -> usize {
        self.max_out
    }

    /// Reads the next frame. Cancel-safe: bytes read so far stay buffered.
    ///
    /// Returns `Ok(None)` when the router closed the connection cleanly between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Frame>, TransportError> {
        loop {
            if let Some(frame) = decode_frame(&mut self.read_buf, self.max_in)? {
                return Ok(Some(frame));
            }
            if self.stream.read_buf(&mut self.read_buf).await? == 0 {
                if self.read_buf.is_empty() {
                    return Ok(None);
                }
                return Err(TransportError::Protocol(
                    "connection closed in the middle of a RawSocket frame".into(),
                ));
            }
        }
    }

    /// Writes one frame and flushes it.
    pub async fn write_frame(
        &mut self,
        kind: FrameType,
        payload: &[u8],
    ) -> Result<(), TransportError> {
        if kind == FrameType::Message && payload.len() > self.max_out {
            return Err(TransportError::MessageTooLarge {
                size: payload.len(),
                limit: self.max_out,
            });
        }
        let header = frame_header(kind, payload.len())?;
        self.stream.write_all(&header).await?;
        self.stream.write_all(payload).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Shuts the write side down.
    pub async fn shutdown(&mut self) -> Result<(), TransportError> {
        self.stream.shutdown().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_exponent_covers_the_limit() {
        assert_eq!(length_exponent(1), 0);
        assert_eq!(length_exponent(512), 0);
        assert_eq!(length_exponent(513), 1);
        assert_eq!(length_exponent(1 << 20), 11);
        assert_eq!(length_exponent(1 << 24), 15);
        assert_eq!(length_exponent(usize::MAX), 15);
        assert_eq!(length_from_exponent(15), 1 << 24);
    }

    #[test]
    fn handshake_bytes() {
        assert_eq!(client_handshake(1 << 24, 2), [0x7F, 0xF2, 0, 0]);
        assert_eq!(client_handshake(1 << 20, 1), [0x7F, 0xB1, 0, 0]);
    }

    #[test]
    fn handshake_reply_success_and_errors() {
        assert_eq!(
            parse_handshake_reply([0x7F, 0xF3, 0, 0], 3).unwrap(),
            1 << 24
        );
        let err = parse_handshake_reply([0x7F, 0x10, 0, 0], 3).unwrap_err();
        assert!(matches!(
            err,
            TransportError::HandshakeRefused(HandshakeRefusal::SerializerUnsupported)
        ));
        let err = parse_handshake_reply([0x7F, 0x40, 0, 0], 3).unwrap_err();
        assert!(matches!(
            err,
            TransportError::HandshakeRefused(HandshakeRefusal::MaxConnectionCountReached)
        ));
        assert!(matches!(
            parse_handshake_reply([b'H', b'T', b'T', b'P'], 1).unwrap_err(),
            TransportError::Protocol(_)
        ));
        assert!(matches!(
            parse_handshake_reply([0x7F, 0xF1, 0, 0], 2).unwrap_err(),
            TransportError::Protocol(_)
        ));
    }

    #[test]
    fn frames_round_trip_and_split() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame_header(FrameType::Message, 3).unwrap());
        buf.extend_from_slice(b"abc");
        buf.extend_from_slice(&frame_header(FrameType::Ping, 0).unwrap());
        buf.extend_from_slice(&frame_header(FrameType::Pong, 2).unwrap());
        buf.extend_from_slice(b"x");
        let f = decode_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(
            f,
            Frame {
                kind: FrameType::Message,
                payload: b"abc".to_vec()
            }
        );
        let f = decode_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(
            f,
            Frame {
                kind: FrameType::Ping,
                payload: vec![]
            }
        );
        assert_eq!(decode_frame(&mut buf, 100).unwrap(), None);
        buf.extend_from_slice(b"y");
        let f = decode_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(
            f,
            Frame {
                kind: FrameType::Pong,
                payload: b"xy".to_vec()
            }
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn oversize_frame_is_rejected_from_the_header() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0x10, 0, 0]); // 1 MiB announced, nothing else sent
        let err = decode_frame(&mut buf, 1000).unwrap_err();
        assert!(matches!(
            err,
            TransportError::MessageTooLarge {
                size: 0x100000,
                limit: 1000
            }
        ));
        assert!(buf.capacity() < 0x100000);
    }

    #[test]
    fn reserved_frame_bits_are_rejected() {
        let mut buf = BytesMut::from(&[0x03u8, 0, 0, 0][..]);
        assert!(matches!(
            decode_frame(&mut buf, 10),
            Err(TransportError::Protocol(_))
        ));
        let mut buf = BytesMut::from(&[0x80u8, 0, 0, 0][..]);
        assert!(matches!(
            decode_frame(&mut buf, 10),
            Err(TransportError::Protocol(_))
        ));
    }

    #[test]
    fn header_rejects_payloads_of_2_pow_24() {
        assert!(frame_header(FrameType::Message, (1 << 24) - 1).is_ok());
        assert!(frame_header(FrameType::Message, 1 << 24).is_err());
    }

    #[tokio::test]
    async fn reads_and_writes_over_a_duplex() {
        let (a, b) = tokio::io::duplex(64);
        let mut ra = RawSocket::new(a, 1024, 1024);
        let mut rb = RawSocket::new(b, 1024, 4);
        let writer = tokio::spawn(async move {
            ra.write_frame(FrameType::Message, &[7u8; 100])
                .await
                .unwrap();
            ra.write_frame(FrameType::Ping, b"p").await.unwrap();
            ra
        });
        let f = rb.read_frame().await.unwrap().unwrap();
        assert_eq!(f.payload, vec![7u8; 100]);
        let f = rb.read_frame().await.unwrap().unwrap();
        assert_eq!(f.kind, FrameType::Ping);
        let ra = writer.await.unwrap();
        // The router's limit is 4 bytes: a longer message is refused before writing.
        assert!(matches!(
            rb.write_frame(FrameType::Message, b"hello").await,
            Err(TransportError::MessageTooLarge { size: 5, limit: 4 })
        ));
        drop(ra);
        assert!(rb.read_frame().await.unwrap().is_none());
    }
}

//! wamp-client's RawSocket handshake and framing on arbitrary router bytes: must never panic.
//! The sans-IO parsers (`parse_handshake_reply`, `decode_frame` fed in input-sized chunks) and
//! the socket path (`handshake`, `RawSocket::read_frame` over the same bytes) must agree; a
//! frame is never longer than the limit, re-encodes to the bytes it came from, and the read
//! buffer never grows past what was received or one allowed frame needs.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wamp_client::transport::rawsocket::{
    self, Frame, FrameType, HEADER_LEN, MAGIC, MAX_LENGTH_LIMIT, RawSocket,
};
use xbrd_fuzz::runtime;

/// How the sans-IO decoder ended on a byte stream.
#[derive(Debug, PartialEq)]
enum End {
    /// Every byte was a whole frame.
    Clean,
    /// The stream stopped inside a frame.
    Truncated,
    /// A frame was refused (the error's text).
    Refused(String),
}

/// Feeds `stream` to `decode_frame` `chunk` bytes at a time.
fn decode_all(stream: &[u8], chunk: usize, max_len: usize) -> (Vec<Frame>, End) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match rawsocket::decode_frame(&mut buf, max_len) {
                Ok(Some(frame)) => {
                    assert!(frame.payload.len() <= max_len, "frame over the limit");
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => return (frames, End::Refused(e.to_string())),
            }
            let bound = 2 * (HEADER_LEN + max_len.max(fed)) + 64;
            assert!(
                buf.capacity() <= bound,
                "buffer {} > {bound}",
                buf.capacity()
            );
        }
    }
    let end = if buf.is_empty() {
        End::Clean
    } else {
        End::Truncated
    };
    (frames, end)
}

/// The same stream through `RawSocket::read_frame`.
async fn read_all(stream: &[u8], max_len: usize) -> (Vec<Frame>, End) {
    let io = tokio::io::join(stream, tokio::io::sink());
    let mut socket = RawSocket::new(io, max_len, max_len);
    let mut frames = Vec::new();
    loop {
        match socket.read_frame().await {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, End::Clean),
            Err(e) if e.to_string().contains("middle of a RawSocket frame") => {
                return (frames, End::Truncated);
            }
            Err(e) => return (frames, End::Refused(e.to_string())),
        }
    }
}

fn encode(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(&rawsocket::frame_header(f.kind, f.payload.len()).expect("header"));
        out.extend_from_slice(&f.payload);
    }
    out
}

async fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);

    // Handshake: the sans-IO parse and the socket handshake agree.
    let reply: [u8; 4] = u.arbitrary()?;
    let serializer = u.int_in_range(1..=3)?;
    let max_len = u.int_in_range(0..=MAX_LENGTH_LIMIT - 1)?;
    let parsed = rawsocket::parse_handshake_reply(reply, serializer);
    if let Ok(limit) = parsed {
        assert_eq!(reply[0], MAGIC);
        assert_eq!(reply[1] & 0x0F, serializer);
        assert!((512..=MAX_LENGTH_LIMIT).contains(&limit));
    }
    let mut io = tokio::io::join(&reply[..], Vec::new());
    let shaken = rawsocket::handshake(&mut io, max_len, serializer).await;
    assert_eq!(
        shaken.as_ref().map_err(ToString::to_string),
        parsed.as_ref().map_err(ToString::to_string)
    );
    let sent = io.into_inner().1;
    assert_eq!(sent, rawsocket::client_handshake(max_len, serializer));

    // Frames: chunked decoding and the socket read the same frames and end the same way.
    let chunk = u.int_in_range(1..=64)?;
    let shrink_limit: bool = u.arbitrary()?;
    let stream = u.take_rest();
    let (frames, end) = decode_all(stream, chunk, max_len);
    assert_eq!(read_all(stream, max_len).await, (frames.clone(), end));
    let again = encode(&frames);
    assert_eq!(
        &stream[..again.len()],
        &again[..],
        "frames re-encode to their bytes"
    );

    // Writing: a message over the router's limit is refused, anything else is header + payload.
    if let Some(f) = frames.first() {
        let max_out = f.payload.len().saturating_sub(usize::from(shrink_limit));
        let mut socket = RawSocket::new(tokio::io::join(&[][..], Vec::new()), max_len, max_out);
        let written = socket.write_frame(f.kind, &f.payload).await;
        let too_long = f.kind == FrameType::Message && f.payload.len() > max_out;
        assert_eq!(written.is_err(), too_long);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = runtime().block_on(run(data));
});

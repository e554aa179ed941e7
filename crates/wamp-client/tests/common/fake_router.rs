//! A tiny in-process WAMP router speaking RawSocket + JSON, for reliability tests.
//!
//! It joins every HELLO (or aborts it), answers REGISTER/SUBSCRIBE/PUBLISH, echoes calls to
//! `test.echo`, never answers `test.never`, answers `test.huge` with a frame header announcing
//! 1 MiB, revokes every registration and subscription it granted on the connection when
//! `test.revoke` is called (then answers it), answers `test.bad_payload` with a RESULT whose
//! argument the client cannot decode (a byte string that is not base64), answers CANCEL with
//! `wamp.error.canceled` and GOODBYE with GOODBYE; message types listed in [`Behavior::ignore`]
//! get no answer. Every message and every accepted connection is recorded for the test to
//! inspect. It serves TCP ([`FakeRouter::start`]) or an in-process pipe ([`in_memory`], for
//! tests on a paused clock).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use wamp_proto::message::code;
use wamp_proto::{Dict, Message, Serializer, Value};

/// How the fake router behaves.
#[derive(Clone, Debug)]
pub struct Behavior {
    /// `Some(reason)`: answer HELLO with ABORT(reason) instead of WELCOME.
    pub abort_reason: Option<String>,
    /// Answer RawSocket pings with pongs.
    pub answer_pings: bool,
    /// Length exponent announced in the handshake reply (15 = 16 MiB, 0 = 512 bytes).
    pub max_len_exp: u8,
    /// Accept the TCP connection but never answer the handshake.
    pub silent_handshake: bool,
    /// Message type codes left unanswered (e.g. `code::REGISTER`, `code::GOODBYE`).
    pub ignore: Vec<u8>,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            abort_reason: None,
            answer_pings: true,
            max_len_exp: 15,
            silent_handshake: false,
            ignore: Vec::new(),
        }
    }
}

/// Something the router saw.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A connection was accepted (index, time).
    Connected(usize, Instant),
    /// A message arrived on connection `usize`.
    Message(usize, Message),
    /// A ping frame arrived.
    Ping(usize),
}

pub struct FakeRouter {
    pub url: String,
    pub port: u16,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    behavior: Arc<Mutex<Behavior>>,
    kick: broadcast::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeRouter {
    pub async fn start(behavior: Behavior) -> FakeRouter {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, behavior)
    }

    /// Serves on an already bound listener (to come up on a known port later).
    pub fn serve(listener: TcpListener, behavior: Behavior) -> FakeRouter {
        let port = listener.local_addr().expect("addr").port();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (kick, _) = broadcast::channel(4);
        let behavior = Arc::new(Mutex::new(behavior));
        let b = behavior.clone();
        let k = kick.clone();
        let task = tokio::spawn(async move {
            let mut index = 0usize;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = seen_tx.send(Seen::Connected(index, Instant::now()));
                let behavior = b.lock().unwrap().clone();
                tokio::spawn(serve_connection(
                    index,
                    stream,
                    behavior,
                    seen_tx.clone(),
                    k.subscribe(),
                ));
                index += 1;
            }
        });
        FakeRouter {
            url: format!("rs://127.0.0.1:{port}"),
            port,
            seen,
            behavior,
            kick,
            task,
        }
    }

    /// Changes the behavior for later connections.
    pub fn set_behavior(&self, behavior: Behavior) {
        *self.behavior.lock().unwrap() = behavior;
    }

    /// Drops every open connection (without GOODBYE).
    pub fn kick_all(&self) {
        let _ = self.kick.send(());
    }

    /// The next thing seen that matches `pred`, skipping others.
    pub async fn next_matching(&mut self, mut pred: impl FnMut(&Seen) -> bool) -> Seen {
        loop {
            let s = self.seen.recv().await.expect("router task ended");
            if pred(&s) {
                return s;
            }
        }
    }

    /// The next message of the given code (any connection).
    pub async fn next_message(&mut self, code: u8) -> (usize, Message) {
        match self
            .next_matching(|s| matches!(s, Seen::Message(_, m) if m.code() == code))
            .await
        {
            Seen::Message(i, m) => (i, m),
            _ => unreachable!(),
        }
    }

    /// Stops accepting (the port is closed).
    pub fn stop(&self) {
        self.task.abort();
        self.kick_all();
    }
}

impl Drop for FakeRouter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A router at the other end of an in-process pipe (no sockets: deterministic on a paused
/// clock). Returns the client's end, what the router sees, and the sender that drops the
/// connection.
pub fn in_memory(
    behavior: Behavior,
) -> (
    DuplexStream,
    mpsc::UnboundedReceiver<Seen>,
    broadcast::Sender<()>,
) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (kick, _) = broadcast::channel(4);
    tokio::spawn(serve_connection(
        0,
        server,
        behavior,
        seen_tx,
        kick.subscribe(),
    ));
    (client, seen, kick)
}

async fn write_frame<S: AsyncWrite + Unpin>(
    stream: &mut S,
    kind: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = payload.len() as u32;
    stream
        .write_all(&[kind, (len >> 16) as u8, (len >> 8) as u8, len as u8])
        .await?;
    stream.write_all(payload).await?;
    stream.flush().await
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, msg: &Message) -> std::io::Result<()> {
    let bytes = Serializer::Json.encode(msg).expect("encode");
    write_frame(stream, 0, &bytes).await
}

/// Serves one connection (any byte stream, e.g. TLS over TCP) as the fake router.
pub async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    index: usize,
    mut stream: S,
    behavior: Behavior,
    seen: mpsc::UnboundedSender<Seen>,
    mut kick: broadcast::Receiver<()>,
) {
    let mut hs = [0u8; 4];
    if stream.read_exact(&mut hs).await.is_err() {
        return;
    }
    if behavior.silent_handshake {
        let _ = kick.recv().await;
        return;
    }
    assert_eq!(hs[0], 0x7F, "client handshake magic");
    assert_eq!(hs[1] & 0x0F, 1, "the fake router speaks JSON only");
    if stream
        .write_all(&[0x7F, (behavior.max_len_exp << 4) | 1, 0, 0])
        .await
        .is_err()
    {
        return;
    }
    let mut next_id = 1000u64;
    let mut invoked_calls: Vec<(u64, u64)> = Vec::new();
    let mut granted: Vec<Message> = Vec::new();
    loop {
        let mut header = [0u8; 4];
        tokio::select! {
            r = stream.read_exact(&mut header) => if r.is_err() { return },
            _ = kick.recv() => return,
        }
        let len =
            (usize::from(header[1]) << 16) | (usize::from(header[2]) << 8) | usize::from(header[3]);
        let mut payload = vec![0u8; len];
        if stream.read_exact(&mut payload).await.is_err() {
            return;
        }
        match header[0] {
            1 => {
                let _ = seen.send(Seen::Ping(index));
                if behavior.answer_pings && write_frame(&mut stream, 2, &payload).await.is_err() {
                    return;
                }
                continue;
            }
            2 => continue,
            _ => {}
        }
        let msg = Serializer::Json
            .decode(&payload)
            .expect("client sent valid JSON WAMP");
        let _ = seen.send(Seen::Message(index, msg.clone()));
        next_id += 1;
        if behavior.ignore.contains(&msg.code()) {
            continue;
        }
        let reply = match msg {
            Message::Hello { .. } => match &behavior.abort_reason {
                Some(reason) => Some(Message::Abort {
                    details: Dict::from_iter([(
                        "message".to_string(),
                        Value::from("denied by the fake router"),
                    )]),
                    reason: reason.clone(),
                }),
                None => Some(Message::Welcome {
                    session: 4242 + index as u64,
                    details: Dict::from_iter([
                        ("authid".to_string(), Value::from("fake")),
                        (
                            "roles".to_string(),
                            Value::Dict(Dict::from_iter([
                                ("broker".to_string(), Value::Dict(Dict::new())),
                                ("dealer".to_string(), Value::Dict(Dict::new())),
                            ])),
                        ),
                    ]),
                }),
            },
            Message::Register { request, .. } => {
                granted.push(Message::Unregistered {
                    request: 0,
                    details: Some(Dict::from_iter([(
                        "registration".to_string(),
                        Value::from(next_id),
                    )])),
                });
                Some(Message::Registered {
                    request,
                    registration: next_id,
                })
            }
            Message::Subscribe { request, .. } => {
                granted.push(Message::Unsubscribed {
                    request: 0,
                    details: Some(Dict::from_iter([(
                        "subscription".to_string(),
                        Value::from(next_id),
                    )])),
                });
                Some(Message::Subscribed {
                    request,
                    subscription: next_id,
                })
            }
            Message::Publish {
                request, options, ..
            } => options
                .get("acknowledge")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .then_some(Message::Published {
                    request,
                    publication: next_id,
                }),
            Message::Call {
                request,
                procedure,
                args,
                kwargs,
                ..
            } => match procedure.as_str() {
                "test.echo" => Some(Message::Result {
                    request,
                    details: Dict::new(),
                    args,
                    kwargs,
                }),
                "test.revoke" => {
                    for revocation in granted.drain(..) {
                        if send(&mut stream, &revocation).await.is_err() {
                            return;
                        }
                    }
                    Some(Message::Result {
                        request,
                        details: Dict::new(),
                        args,
                        kwargs,
                    })
                }
                "test.bad_payload" => {
                    let frame = format!("[50,{request},{{}},[\"\\u0000***\"]]");
                    if write_frame(&mut stream, 0, frame.as_bytes()).await.is_err() {
                        return;
                    }
                    None
                }
                "test.huge" => {
                    // Announce a 1 MiB message and send nothing more.
                    let _ = stream.write_all(&[0, 0x10, 0, 0]).await;
                    None
                }
                _ => {
                    invoked_calls.push((request, next_id));
                    None
                }
            },
            Message::Cancel { request, .. } => Some(Message::Error {
                request_type: code::CALL,
                request,
                details: Dict::new(),
                error: "wamp.error.canceled".into(),
                args: vec![],
                kwargs: Dict::new(),
            }),
            Message::Goodbye { .. } => {
                let _ = send(
                    &mut stream,
                    &Message::Goodbye {
                        details: Dict::new(),
                        reason: "wamp.close.goodbye_and_out".into(),
                    },
                )
                .await;
                return;
            }
            _ => None,
        };
        if let Some(reply) = reply
            && send(&mut stream, &reply).await.is_err()
        {
            return;
        }
    }
}

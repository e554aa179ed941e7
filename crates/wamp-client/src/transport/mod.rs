//! Transports: how the bytes of WAMP messages reach the router.
//!
//! [`connect`] turns a [`TransportConfig`] into a [`Connection`]: TCP (always with
//! `TCP_NODELAY`), TLS or a Unix socket underneath, WebSocket or RawSocket framing on top, and the
//! serializer agreed with the router.

pub mod endpoint;
pub mod rawsocket;
pub mod stream;
pub mod tls;
pub mod websocket;

use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wamp_proto::Serializer;

pub use endpoint::Endpoint;
pub use tls::TlsOptions;

use crate::backoff::RetryPolicy;
use crate::error::TransportError;
use rawsocket::{FrameType, RawSocket};
use stream::Stream;

/// Default largest message accepted and sent: 16 MiB minus one byte (the RawSocket maximum).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = rawsocket::MAX_LENGTH_LIMIT - 1;

/// How to reach a router, and how to behave on the connection.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Router URL: `ws://`, `wss://`, `rs://`, `rss://` or `rs+unix:///path` (see [`Endpoint`]).
    pub url: String,
    /// Serializers in order of preference. WebSocket offers them all as subprotocols and uses the
    /// router's choice; RawSocket asks for the first one.
    pub serializers: Vec<Serializer>,
    /// Largest message accepted from the router and sent to it. RawSocket announces it in the
    /// handshake (rounded up to a power of two); larger incoming messages are refused from the
    /// frame header, before any buffering.
    pub max_message_size: usize,
    /// Limit for TCP connect + TLS + WebSocket/RawSocket handshake.
    pub connect_timeout: Duration,
    /// Interval of client-initiated pings (WebSocket ping / RawSocket ping frame); `None` disables.
    pub auto_ping_interval: Option<Duration>,
    /// How long to wait for the pong before the connection is declared dead and closed.
    pub auto_ping_timeout: Duration,
    /// TLS trust settings for `wss://` and `rss://`.
    pub tls: TlsOptions,
    /// Reconnect policy used by the component runner for this transport.
    pub retry: RetryPolicy,
}

impl TransportConfig {
    /// A transport for `url` with the defaults: serializers CBOR, MsgPack, JSON; 16 MiB messages;
    /// 10 s connect timeout; system TLS roots; Autobahn's retry defaults; auto-ping every 10 s
    /// with a 5 s timeout on WebSocket, off on RawSocket (Crossbar's RawSocket reads a ping
    /// frame's type bits as part of the length and drops the connection; enable it only for
    /// routers that implement RawSocket ping).
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let is_websocket = url.starts_with("ws://") || url.starts_with("wss://");
        TransportConfig {
            url,
            serializers: vec![Serializer::Cbor, Serializer::MsgPack, Serializer::Json],
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: Duration::from_secs(10),
            auto_ping_interval: is_websocket.then(|| Duration::from_secs(10)),
            auto_ping_timeout: Duration::from_secs(5),
            tls: TlsOptions::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Uses exactly one serializer.
    pub fn with_serializer(mut self, serializer: Serializer) -> Self {
        self.serializers = vec![serializer];
        self
    }

    /// Sets the maximum message size.
    pub fn with_max_message_size(mut self, size: usize) -> Self {
        self.max_message_size = size;
        self
    }

    /// Sets (or disables, with `None`) auto-ping, with its pong timeout.
    pub fn with_auto_ping(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.auto_ping_interval = interval;
        self.auto_ping_timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the TLS options.
    pub fn with_tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }
}

/// Something that arrived on a connection.
#[derive(Debug)]
pub enum Incoming {
    /// One serialized WAMP message.
    Message(Vec<u8>),
    /// A RawSocket ping from the router; answer with [`Connection::send_pong`].
    Ping(Vec<u8>),
    /// The answer to one of our pings.
    Pong(Vec<u8>),
    /// The router closed the connection.
    Closed,
}

enum Framing {
    WebSocket(Box<WebSocketStream<Stream>>),
    RawSocket(RawSocket<Stream>),
}

/// An established transport connection with an agreed serializer.
pub struct Connection {
    framing: Framing,
    serializer: Serializer,
    max_out: usize,
    peer: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("serializer", &self.serializer)
            .field("max_out", &self.max_out)
            .finish()
    }
}

impl Connection {
    /// The serializer agreed with the router.
    pub fn serializer(&self) -> Serializer {
        self.serializer
    }

    /// A description of the peer (URL) for logs.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Largest message the router accepts from us.
    pub fn max_outgoing(&self) -> usize {
        self.max_out
    }

    /// Receives the next message or control frame. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Incoming, TransportError> {
        use futures_util::StreamExt;
        match &mut self.framing {
            Framing::RawSocket(rs) => match rs.read_frame().await? {
                None => Ok(Incoming::Closed),
                Some(frame) => Ok(match frame.kind {
                    FrameType::Message => Incoming::Message(frame.payload),
                    FrameType::Ping => Incoming::Ping(frame.payload),
                    FrameType::Pong => Incoming::Pong(frame.payload),
                }),
            },
            Framing::WebSocket(ws) => loop {
                match ws.next().await {
                    None => return Ok(Incoming::Closed),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(msg)) => match msg {
                        WsMessage::Text(t) => return Ok(Incoming::Message(t.as_bytes().to_vec())),
                        WsMessage::Binary(b) => return Ok(Incoming::Message(b.to_vec())),
                        WsMessage::Pong(p) => return Ok(Incoming::Pong(p.to_vec())),
                        WsMessage::Close(_) => return Ok(Incoming::Closed),
                        // tungstenite answers pings itself.
                        WsMessage::Ping(_) | WsMessage::Frame(_) => continue,
                    },
                }
            },
        }
    }

    /// Sends one serialized message.
    pub async fn send(&mut self, bytes: Vec<u8>) -> Result<(), TransportError> {
        use futures_util::SinkExt;
        if bytes.len() > self.max_out {
            return Err(TransportError::MessageTooLarge {
                size: bytes.len(),
                limit: self.max_out,
            });
        }
        match &mut self.framing {
            Framing::RawSocket(rs) => rs.write_frame(FrameType::Message, &bytes).await,
            Framing::WebSocket(ws) => {
                let msg = if self.serializer.is_binary() {
                    WsMessage::Binary(bytes.into())
                } else {
                    let text = String::from_utf8(bytes).map_err(|_| {
                        TransportError::Protocol("JSON message is not UTF-8".into())
                    })?;
                    WsMessage::Text(text.into())
                };
                ws.send(msg).await.map_err(Into::into)
            }
        }
    }

    /// Sends a ping carrying `payload`.
    pub async fn send_ping(&mut self, payload: Vec<u8>) -> Result<(), TransportError> {
        use futures_util::SinkExt;
        match &mut self.framing {
            Framing::RawSocket(rs) => rs.write_frame(FrameType::Ping, &payload).await,
            Framing::WebSocket(ws) => ws
                .send(WsMessage::Ping(payload.into()))
                .await
                .map_err(Into::into),
        }
    }

    /// Answers a RawSocket ping.
    pub async fn send_pong(&mut self, payload: Vec<u8>) -> Result<(), TransportError> {
        use futures_util::SinkExt;
        match &mut self.framing {
            Framing::RawSocket(rs) => rs.write_frame(FrameType::Pong, &payload).await,
            Framing::WebSocket(ws) => ws
                .send(WsMessage::Pong(payload.into()))
                .await
                .map_err(Into::into),
        }
    }

    /// RawSocket over an already connected byte stream (handshake included, with the first of
    /// `config.serializers`); the way to run a session over [`stream::Stream::Memory`].
    pub async fn rawsocket(
        stream: Stream,
        config: &TransportConfig,
    ) -> Result<Connection, TransportError> {
        if config.serializers.is_empty() {
            return Err(no_serializer(config));
        }
        tokio::time::timeout(config.connect_timeout, rawsocket_over(stream, config))
            .await
            .map_err(|_| TransportError::ConnectTimeout(config.connect_timeout))?
    }

    /// Closes the connection (WebSocket close handshake start / RawSocket write shutdown).
    pub async fn close(&mut self) -> Result<(), TransportError> {
        match &mut self.framing {
            Framing::RawSocket(rs) => rs.shutdown().await,
            Framing::WebSocket(ws) => ws.close(None).await.map_err(Into::into),
        }
    }
}

/// Connects to the router described by `config`, within its connect timeout.
pub async fn connect(config: &TransportConfig) -> Result<Connection, TransportError> {
    let endpoint = Endpoint::parse(&config.url)?;
    if config.serializers.is_empty() {
        return Err(no_serializer(config));
    }
    tokio::time::timeout(config.connect_timeout, connect_endpoint(config, endpoint))
        .await
        .map_err(|_| TransportError::ConnectTimeout(config.connect_timeout))?
}

fn no_serializer(config: &TransportConfig) -> TransportError {
    TransportError::InvalidUrl {
        url: config.url.clone(),
        reason: "no serializer configured".into(),
    }
}

async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, TransportError> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

async fn connect_endpoint(
    config: &TransportConfig,
    endpoint: Endpoint,
) -> Result<Connection, TransportError> {
    let max_in = config.max_message_size;
    match endpoint {
        Endpoint::WebSocket {
            url,
            host,
            port,
            tls,
        } => {
            let tcp = connect_tcp(&host, port).await?;
            let stream = if tls {
                config.tls.connect(&host, tcp).await?
            } else {
                Stream::Tcp(tcp)
            };
            let (ws, serializer) =
                websocket::handshake(stream, &url, &config.serializers, max_in).await?;
            Ok(Connection {
                framing: Framing::WebSocket(Box::new(ws)),
                serializer,
                max_out: config.max_message_size,
                peer: config.url.clone(),
            })
        }
        Endpoint::RawSocketTcp { host, port, tls } => {
            let tcp = connect_tcp(&host, port).await?;
            let stream = if tls {
                config.tls.connect(&host, tcp).await?
            } else {
                Stream::Tcp(tcp)
            };
            rawsocket_over(stream, config).await
        }
        Endpoint::RawSocketUnix { path } => {
            let unix = UnixStream::connect(&path).await?;
            rawsocket_over(Stream::Unix(unix), config).await
        }
    }
}

async fn rawsocket_over(
    mut stream: Stream,
    config: &TransportConfig,
) -> Result<Connection, TransportError> {
    let serializer = config.serializers[0];
    let max_in = config.max_message_size.min(rawsocket::MAX_LENGTH_LIMIT - 1);
    let router_max = rawsocket::handshake(&mut stream, max_in, serializer.rawsocket_id()).await?;
    // The router's announced limit is a power of two up to 2^24; a frame length is at most 2^24-1.
    let max_out = router_max
        .min(rawsocket::MAX_LENGTH_LIMIT - 1)
        .min(config.max_message_size);
    Ok(Connection {
        framing: Framing::RawSocket(RawSocket::new(stream, max_in, max_out)),
        serializer,
        max_out,
        peer: config.url.clone(),
    })
}

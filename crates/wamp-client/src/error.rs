//! Error types of the client.

use std::time::Duration;

use wamp_proto::{Dict, Value};

use crate::transport::rawsocket::HandshakeRefusal;

/// A failure of the connection underneath a session.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The transport URL cannot be used.
    #[error("invalid transport URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A socket operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Connecting (TCP, TLS and the WebSocket/RawSocket handshake) took longer than allowed.
    #[error("connecting timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// TLS set-up failed (bad CA file, bad server name, no root certificates).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The WebSocket layer failed (handshake refused, bad frame, …).
    #[error("WebSocket error: {0}")]
    WebSocket(Box<tokio_tungstenite::tungstenite::Error>),
    /// The router accepted the WebSocket upgrade without any of the offered WAMP subprotocols.
    #[error("router agreed on no WAMP subprotocol (offered {offered})")]
    NoSubprotocol {
        /// The subprotocols we offered, comma separated.
        offered: String,
    },
    /// The router refused the RawSocket handshake.
    #[error("RawSocket handshake refused: {0}")]
    HandshakeRefused(HandshakeRefusal),
    /// The peer broke the transport protocol (bad framing, bad handshake bytes).
    #[error("transport protocol error: {0}")]
    Protocol(String),
    /// A message is larger than the limit of the transport (ours for incoming messages, the
    /// router's or ours for outgoing ones). Checked before the message is buffered.
    #[error("message of {size} bytes exceeds the transport limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the message.
        size: usize,
        /// The limit in force.
        limit: usize,
    },
    /// No pong came back within the auto-ping timeout: the connection is considered dead.
    #[error("no pong within {0:?}: connection considered dead")]
    PingTimeout(Duration),
    /// The router closed the connection.
    #[error("connection closed by the router")]
    Closed,
}

impl From<tokio_tungstenite::tungstenite::Error> for TransportError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        use tokio_tungstenite::tungstenite::Error as WsError;
        use tokio_tungstenite::tungstenite::error::CapacityError;
        match e {
            WsError::Io(io) => TransportError::Io(io),
            WsError::ConnectionClosed | WsError::AlreadyClosed => TransportError::Closed,
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                TransportError::MessageTooLarge {
                    size,
                    limit: max_size,
                }
            }
            other => TransportError::WebSocket(Box::new(other)),
        }
    }
}

/// An error returned by a WAMP peer (router or callee): an error URI with an optional payload.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{uri}{}", describe_payload(.args, .kwargs))]
pub struct WampError {
    /// The error URI, e.g. `wamp.error.no_such_procedure`.
    pub uri: String,
    /// Positional error payload.
    pub args: Vec<Value>,
    /// Keyword error payload.
    pub kwargs: Dict,
    /// Details of the ERROR message.
    pub details: Dict,
}

fn describe_payload(args: &[Value], kwargs: &Dict) -> String {
    match (args.first(), kwargs.is_empty()) {
        (Some(Value::Str(s)), _) => format!(": {s}"),
        (None, true) => String::new(),
        _ => format!(" (args {args:?}, kwargs {kwargs:?})"),
    }
}

/// Why a session could not be joined.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JoinError {
    /// The router refused our credentials (ABORT with an authentication/authorization reason).
    /// A component runner does not retry after this unless told to.
    #[error("authentication failed: {reason}{}", message_suffix(.details))]
    AuthenticationFailed {
        /// The ABORT reason URI.
        reason: String,
        /// The ABORT details (usually a `message`).
        details: Dict,
    },
    /// The router aborted the join for another reason (e.g. `wamp.error.no_such_realm`).
    #[error("join aborted: {reason}{}", message_suffix(.details))]
    Aborted {
        /// The ABORT reason URI.
        reason: String,
        /// The ABORT details.
        details: Dict,
    },
}

fn message_suffix(details: &Dict) -> String {
    match details.get("message").and_then(Value::as_str) {
        Some(m) => format!(" ({m})"),
        None => String::new(),
    }
}

/// ABORT reasons that mean "your credentials are wrong" rather than "try again later".
pub(crate) fn is_auth_failure(reason: &str) -> bool {
    matches!(
        reason,
        "wamp.error.authentication_failed"
            | "wamp.error.not_authorized"
            | "wamp.error.authorization_failed"
            | "wamp.error.no_such_principal"
            | "wamp.error.no_such_role"
            | "wamp.error.no_auth_method"
            | "wamp.error.cannot_authenticate"
    ) || reason.contains("authentication")
}

/// Everything a session operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection failed or could not be made.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The session could not be joined.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// A peer answered the request with an ERROR.
    #[error("WAMP error: {0}")]
    Wamp(Box<WampError>),
    /// There is no joined session right now (never connected, reconnecting, or left).
    /// Requests fail at once instead of waiting for a connection.
    #[error("not connected: no joined WAMP session")]
    NotConnected,
    /// The connection was lost while the request was in flight; its outcome is unknown.
    #[error("connection lost before the request completed")]
    ConnectionLost,
    /// The request got no answer within its timeout (a call's [`crate::CallOptions::timeout`],
    /// else the session's `Timeouts`); for a call a CANCEL was sent.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The request was refused locally by the protocol layer (bad URI, wrong state, …).
    #[error("request rejected: {0}")]
    Rejected(#[from] wamp_proto::session::SessionError),
    /// The client is configured wrongly (e.g. a component without transports).
    #[error("configuration error: {0}")]
    Config(String),
    /// The message could not be serialized (e.g. a bignum with MsgPack).
    #[error("cannot encode message: {0}")]
    Encode(#[from] wamp_proto::EncodeError),
    /// The router sent something that breaks the WAMP protocol; the session was aborted.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// A bounded queue of remote input was full: the request was given up (for a progressive
    /// call: cancelled at the callee) instead of growing memory.
    #[error("{what} overflowed: more than {limit} queued; the request was cancelled")]
    Overflow {
        /// What overflowed.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
}

impl From<WampError> for Error {
    fn from(e: WampError) -> Self {
        Error::Wamp(Box::new(e))
    }
}

impl Error {
    /// The peer's error (URI, args, kwargs) if this is an ERROR answer.
    pub fn as_wamp(&self) -> Option<&WampError> {
        match self {
            Error::Wamp(e) => Some(e),
            _ => None,
        }
    }

    /// The WAMP error URI if this is an error returned by a peer.
    pub fn wamp_uri(&self) -> Option<&str> {
        match self {
            Error::Wamp(e) => Some(&e.uri),
            _ => None,
        }
    }

    /// Whether this is an authentication failure (a runner does not retry after it by default).
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, Error::Join(JoinError::AuthenticationFailed { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamp_error_display_includes_the_message() {
        let e = WampError {
            uri: "com.example.oops".into(),
            args: vec![Value::Str("went wrong".into())],
            kwargs: Dict::new(),
            details: Dict::new(),
        };
        assert_eq!(e.to_string(), "com.example.oops: went wrong");
    }

    #[test]
    fn auth_failure_reasons() {
        assert!(is_auth_failure("wamp.error.not_authorized"));
        assert!(is_auth_failure("wamp.error.authentication_failed"));
        assert!(is_auth_failure("crossbar.error.authentication_failed"));
        assert!(!is_auth_failure("wamp.error.no_such_realm"));
        assert!(!is_auth_failure("wamp.close.system_shutdown"));
    }
}

//! The sans-IO WAMP v2 client session state machine (in the style of `quinn-proto`).
//!
//! The session never touches a socket or a clock. A driver:
//! 1. calls [`Session::join`] (with the current time and 32 fresh random bytes for the
//!    authentication nonce),
//! 2. sends every message from [`Session::poll_outgoing`] and every ping from
//!    [`Session::poll_ping`] (handing pongs back with [`Session::handle_pong`]),
//! 3. feeds each received message to [`Session::handle_message`] (or the raw frame to
//!    [`Session::handle_bytes`], which checks the size limit and decodes),
//! 4. reacts to [`Session::poll_event`] (joined, results, invocations, events, timeouts, left …),
//! 5. sleeps no longer than [`Session::poll_timeout`] and then calls
//!    [`Session::handle_timeout`] with the current time,
//! 6. issues requests with [`Session::call`], [`Session::register`], [`Session::subscribe`],
//!    [`Session::publish`] … and answers invocations with [`Session::yield_result`] /
//!    [`Session::yield_error`].
//!
//! ```text
//!  Closed ──join──▶ Establishing ──CHALLENGE──▶ Challenging
//!                       │  └──────WELCOME─────┐      │
//!                       │                     ▼      │ WELCOME
//!                       │                 Established◀┘
//!                       │ ABORT / violation    │ leave() ──▶ Closing ──GOODBYE──▶ Closed
//!                       │ join timeout         │ router GOODBYE (we reply goodbye_and_out)
//!                       ▼                      │ pong timeout       (or leave timeout)
//!                    Closed ◀──────────────────┘
//! ```
//!
//! Modules: `config` (what to join and the [`Timeouts`]), `events` (states, events, errors),
//! `joining` and `established` (received messages by state), `bad_payload` (messages whose
//! payload cannot be decoded: they fail alone), `requests` (what we send),
//! `timers` (every deadline, kept in one place and ordered by time).
//!
//! An EVENT, RESULT, ERROR or INVOCATION whose envelope decodes but whose payload does not is
//! not a violation: only that message fails ([`SessionEvent::EventDropped`], the call fails with
//! [`INVALID_PAYLOAD`], the invocation is answered with [`INVALID_ARGUMENT`]).
//!
//! Protocol violations by the router (unknown request ids, results of the wrong kind, messages
//! unexpected in the state, undecodable or oversize frames) queue an ABORT with reason
//! `wamp.error.protocol_violation`, queue an [`SessionEvent::Aborted`] with that reason, move
//! to [`SessionState::Closed`] and return [`SessionError::Protocol`]. Authentication failures on
//! our side (a challenge we cannot answer, a SCRAM server signature that does not verify) do the
//! same with reason `wamp.error.cannot_authenticate` and return [`SessionError::Auth`].
//!
//! Notes on the API:
//! * [`Session::join`] returns `Result` (it fails when the session is not closed).
//! * Router-initiated UNSUBSCRIBED / UNREGISTERED (request 0, a revocation) drop the
//!   subscription / registration named in their details and are reported as
//!   `Unsubscribed { request: 0, subscription }` / `Unregistered { request: 0, registration }`.
//!   The router sends nothing for it afterwards, so a later EVENT / INVOCATION for that id is a
//!   protocol violation.
//! * While closing (after our GOODBYE) the router may still deliver results and events already
//!   in flight; they are dropped silently.
//! * A subscription / registration stays in place until UNSUBSCRIBED / UNREGISTERED arrives:
//!   EVENTs and INVOCATIONs that cross our UNSUBSCRIBE / UNREGISTER on the wire are still
//!   delivered. Afterwards they are protocol violations.
//! * An INTERRUPT for an invocation already answered is dropped (the two crossed on the wire).
//! * Every request but an unacknowledged PUBLISH can expire: a call after its [`CallTimeout`] or
//!   [`Timeouts::call`] (none by default: calls may run long), the others after
//!   [`Timeouts::request`] (30 s by default). On expiry [`SessionEvent::RequestTimedOut`] is
//!   reported (a call also sends CANCEL) and the router's late answer is dropped when it comes.

mod bad_payload;
mod config;
mod established;
mod events;
mod joining;
mod requests;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use bad_payload::{INVALID_ARGUMENT, INVALID_PAYLOAD};
pub use config::{
    DEFAULT_LEAVE_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, PingTimeouts,
    SessionConfig, Timeouts,
};
pub use events::{CallTimeout, CancelMode, SessionError, SessionEvent, SessionState, TimeoutKind};

use crate::auth::{AuthAttempt, AuthError};
use crate::codec::{DecodeError, Serializer};
use crate::error::ProtocolError;
use crate::message::{MAX_ID, Message, code};
use crate::value::{Dict, Value};
use timers::Timers;

/// ABORT reason for protocol violations.
pub const PROTOCOL_VIOLATION: &str = "wamp.error.protocol_violation";
/// ABORT reason when this client cannot complete authentication.
pub const CANNOT_AUTHENTICATE: &str = "wamp.error.cannot_authenticate";
/// GOODBYE reason replying to a router's GOODBYE.
pub const GOODBYE_AND_OUT: &str = "wamp.close.goodbye_and_out";

/// What a pending request id is waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Call { cancel: CancelMode },
    Register { procedure: String },
    Unregister { registration: u64 },
    Subscribe { topic: String },
    Unsubscribe { subscription: u64 },
    Publish,
}

impl Pending {
    fn request_type(&self) -> u8 {
        match self {
            Pending::Call { .. } => code::CALL,
            Pending::Register { .. } => code::REGISTER,
            Pending::Unregister { .. } => code::UNREGISTER,
            Pending::Subscribe { .. } => code::SUBSCRIBE,
            Pending::Unsubscribe { .. } => code::UNSUBSCRIBE,
            Pending::Publish => code::PUBLISH,
        }
    }
}

/// A request waiting for the router, with its deadline.
#[derive(Clone, Debug)]
struct PendingRequest {
    kind: Pending,
    /// When it expires and the timeout that set it; `None` without a limit or once expired.
    timer: Option<(Instant, Duration)>,
    /// Expired already: the router's late answer is dropped.
    timed_out: bool,
}

/// A WAMP v2 client session (sans-IO). See the module docs.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: SessionState,
    session_id: Option<u64>,
    attempt: Option<AuthAttempt>,
    /// Last request id handed out (ids start at 1 and wrap at 2^53).
    last_request: u64,
    pending: HashMap<u64, PendingRequest>,
    /// Registration id → procedure.
    registrations: HashMap<u64, String>,
    /// Subscription id → topic.
    subscriptions: HashMap<u64, String>,
    /// Pending invocation id → whether the caller asked for progressive results.
    invocations: HashMap<u64, bool>,
    timers: Timers,
    outgoing: VecDeque<Message>,
    events: VecDeque<SessionEvent>,
}

impl Session {
    /// A closed session; call [`Session::join`] to start.
    pub fn new(config: SessionConfig) -> Self {
        Session {
            config,
            state: SessionState::Closed,
            session_id: None,
            attempt: None,
            last_request: 0,
            pending: HashMap::new(),
            registrations: HashMap::new(),
            subscriptions: HashMap::new(),
            invocations: HashMap::new(),
            timers: Timers::default(),
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The session id once joined.
    pub fn session_id(&self) -> Option<u64> {
        self.session_id
    }

    /// Ids of the registrations in place (procedure by registration id).
    pub fn registrations(&self) -> &HashMap<u64, String> {
        &self.registrations
    }

    /// Ids of the subscriptions in place (topic by subscription id).
    pub fn subscriptions(&self) -> &HashMap<u64, String> {
        &self.subscriptions
    }

    /// Starts joining at `now`: queues HELLO and starts the join timeout. `auth_nonce` must be
    /// fresh randomness (SCRAM uses it). Allowed only when closed; a rejoin starts from clean
    /// request/registration tables (queued messages and events are kept: drain them first).
    pub fn join(&mut self, now: Instant, auth_nonce: [u8; 32]) -> Result<(), SessionError> {
        self.require(SessionState::Closed, "join")?;
        self.reset();
        let attempt = self.config.auth.start(auth_nonce);
        let mut details = Dict::new();
        details.insert("roles".into(), Value::Dict(self.config.roles.clone()));
        details.insert(
            "authmethods".into(),
            Value::List(
                self.config
                    .auth
                    .authmethods()
                    .into_iter()
                    .map(Value::Str)
                    .collect(),
            ),
        );
        if let Some(authid) = &self.config.auth.authid {
            details.insert("authid".into(), Value::from(authid.as_str()));
        }
        if let Some(authrole) = &self.config.auth.authrole {
            details.insert("authrole".into(), Value::from(authrole.as_str()));
        }
        let authextra = attempt.hello_authextra();
        if !authextra.is_empty() {
            details.insert("authextra".into(), Value::Dict(authextra));
        }
        if let Some(agent) = &self.config.agent {
            details.insert("agent".into(), Value::from(agent.as_str()));
        }
        self.attempt = Some(attempt);
        self.outgoing.push_back(Message::Hello {
            realm: self.config.realm.clone(),
            details,
        });
        self.state = SessionState::Establishing;
        self.timers.start_join(now, &self.config.timeouts);
        Ok(())
    }

    /// The next message to send, if any.
    pub fn poll_outgoing(&mut self) -> Option<Message> {
        self.outgoing.pop_front()
    }

    /// The next event for the driver, if any.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// Checks the size limit, decodes a received frame and handles it. An oversize or
    /// undecodable frame is a protocol violation (ABORT queued, session closed), except an
    /// EVENT, RESULT, ERROR or INVOCATION whose envelope decodes but whose payload does not:
    /// only that message fails (see `bad_payload`).
    pub fn handle_bytes(
        &mut self,
        serializer: Serializer,
        bytes: &[u8],
    ) -> Result<(), SessionError> {
        match serializer.decode_received(bytes, self.config.max_message_size) {
            Ok(msg) => self.handle_message(msg),
            Err(DecodeError::Payload(e)) => self.handle_bad_payload(serializer, e),
            Err(DecodeError::Protocol(e)) => Err(self.violation(e)),
        }
    }

    /// Handles one received message: queues events and replies. Violations queue an ABORT,
    /// close the session and return an error.
    pub fn handle_message(&mut self, msg: Message) -> Result<(), SessionError> {
        match self.state {
            SessionState::Closed => Err(SessionError::Protocol(unexpected(
                &msg,
                "while the session is closed",
            ))),
            SessionState::Establishing | SessionState::Challenging => self.handle_joining(msg),
            SessionState::Established => self.handle_established(msg),
            SessionState::Closing => self.handle_closing(msg),
        }
    }

    /// Marks the session closed after the transport went away (no message is sent). Pending
    /// requests are forgotten; the driver fails them.
    pub fn transport_closed(&mut self) {
        self.close();
    }

    fn require(&self, state: SessionState, operation: &'static str) -> Result<(), SessionError> {
        if self.state == state {
            Ok(())
        } else {
            Err(SessionError::InvalidState {
                operation,
                state: self.state,
            })
        }
    }

    fn next_request(&mut self) -> u64 {
        loop {
            self.last_request = if self.last_request >= MAX_ID {
                1
            } else {
                self.last_request + 1
            };
            if !self.pending.contains_key(&self.last_request) {
                return self.last_request;
            }
        }
    }

    /// Queues ABORT protocol_violation, closes, and returns the error.
    fn violation(&mut self, err: ProtocolError) -> SessionError {
        self.abort(PROTOCOL_VIOLATION, err.to_string());
        SessionError::Protocol(err)
    }

    /// Queues ABORT cannot_authenticate, closes, and returns the error.
    fn auth_failure(&mut self, err: AuthError) -> SessionError {
        self.abort(CANNOT_AUTHENTICATE, err.to_string());
        SessionError::Auth(err)
    }

    fn abort(&mut self, reason: &str, message: String) {
        let details = Dict::from_iter([("message".to_owned(), Value::from(message))]);
        self.outgoing.push_back(Message::Abort {
            details: details.clone(),
            reason: reason.to_owned(),
        });
        self.end(SessionEvent::Aborted {
            reason: reason.to_owned(),
            details,
        });
    }

    /// Closes the session and reports how it ended (ABORT, GOODBYE or a deadline).
    fn end(&mut self, event: SessionEvent) {
        self.close();
        self.events.push_back(event);
    }

    fn close(&mut self) {
        self.state = SessionState::Closed;
        self.session_id = None;
        self.attempt = None;
        self.pending.clear();
        self.registrations.clear();
        self.subscriptions.clear();
        self.invocations.clear();
        self.timers.clear();
    }

    fn reset(&mut self) {
        self.close();
        self.last_request = 0;
    }
}

fn unexpected(msg: &Message, context: impl Into<String>) -> ProtocolError {
    unexpected_name(msg.name(), context)
}

fn unexpected_name(message: &'static str, context: impl Into<String>) -> ProtocolError {
    ProtocolError::Unexpected {
        message,
        context: context.into(),
    }
}

fn not_pending(message: &'static str, request: u64) -> ProtocolError {
    unexpected_name(
        message,
        format!("for request {request}, which is not pending (or of another kind)"),
    )
}

#[cfg(test)]
mod tests;

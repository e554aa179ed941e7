//! What a session reports: its [`SessionState`], the [`SessionEvent`]s a driver acts on and the
//! [`SessionError`]s of its operations.

use std::fmt;
use std::time::Duration;

use crate::auth::AuthError;
use crate::error::ProtocolError;
use crate::uri::UriError;
use crate::value::{Dict, Value};

/// Where the session is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Not joined (initially, and after GOODBYE/ABORT).
    Closed,
    /// HELLO sent, waiting for WELCOME, CHALLENGE or ABORT.
    Establishing,
    /// AUTHENTICATE sent, waiting for WELCOME or ABORT.
    Challenging,
    /// Joined: requests may be issued.
    Established,
    /// GOODBYE sent, waiting for the router's GOODBYE.
    Closing,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// How to cancel a call (CANCEL `options.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelMode {
    /// Stop waiting; the callee is not told.
    Skip,
    /// Interrupt the callee and wait for its answer.
    Kill,
    /// Interrupt the callee; answer the caller at once.
    KillNoWait,
}

impl CancelMode {
    /// The wire name: `skip`, `kill` or `killnowait`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CancelMode::Skip => "skip",
            CancelMode::Kill => "kill",
            CancelMode::KillNoWait => "killnowait",
        }
    }
}

/// Something the driver must act on.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// WELCOME accepted.
    Joined {
        /// Session id.
        session_id: u64,
        /// WELCOME details (authid, authrole, router roles …).
        details: Dict,
    },
    /// The join or session ended by ABORT (received, or sent by us on a violation).
    Aborted {
        /// ABORT reason, e.g. `wamp.error.not_authorized`.
        reason: String,
        /// ABORT details.
        details: Dict,
    },
    /// The session closed with GOODBYE (router-initiated, or the reply to our leave).
    Left {
        /// The router's GOODBYE reason.
        reason: String,
        /// The router's GOODBYE details.
        details: Dict,
    },
    /// An EVENT for one of our subscriptions whose payload cannot be decoded: dropped (the
    /// session stays up).
    EventDropped {
        /// Subscription id.
        subscription: u64,
        /// Publication id.
        publication: u64,
        /// What the decoder reported.
        reason: String,
    },
    /// A RESULT for a call (progressive when `progress`; the call stays pending then).
    CallResult {
        /// Request id of the call.
        request: u64,
        /// Positional result.
        args: Vec<Value>,
        /// Keyword result.
        kwargs: Dict,
        /// RESULT details.
        details: Dict,
        /// True for a progressive (intermediate) result.
        progress: bool,
    },
    /// An ERROR for one of our requests.
    RequestError {
        /// Message code of the failed request (CALL, REGISTER, SUBSCRIBE, PUBLISH …).
        request_type: u8,
        /// Its request id.
        request: u64,
        /// Error URI.
        error: String,
        /// Positional error payload.
        args: Vec<Value>,
        /// Keyword error payload.
        kwargs: Dict,
        /// ERROR details.
        details: Dict,
    },
    /// REGISTERED.
    Registered {
        /// Request id of the REGISTER.
        request: u64,
        /// Registration id.
        registration: u64,
    },
    /// UNREGISTERED (request 0: the router revoked the registration; no INVOCATION for it
    /// follows, and one that does is a protocol violation).
    Unregistered {
        /// Request id of the UNREGISTER, or 0.
        request: u64,
        /// The registration that is gone.
        registration: u64,
    },
    /// SUBSCRIBED.
    Subscribed {
        /// Request id of the SUBSCRIBE.
        request: u64,
        /// Subscription id.
        subscription: u64,
    },
    /// UNSUBSCRIBED (request 0: the router revoked the subscription; no EVENT for it follows,
    /// and one that does is a protocol violation).
    Unsubscribed {
        /// Request id of the UNSUBSCRIBE, or 0.
        request: u64,
        /// The subscription that is gone.
        subscription: u64,
    },
    /// PUBLISHED (only for publications with `acknowledge: true`).
    Published {
        /// Request id of the PUBLISH.
        request: u64,
        /// Publication id.
        publication: u64,
    },
    /// An INVOCATION of one of our registrations; answer with `yield_result` / `yield_error`.
    Invocation {
        /// Invocation request id.
        request: u64,
        /// Registration id.
        registration: u64,
        /// Positional arguments.
        args: Vec<Value>,
        /// Keyword arguments.
        kwargs: Dict,
        /// INVOCATION details (caller, procedure, receive_progress …).
        details: Dict,
    },
    /// An INTERRUPT of a pending invocation.
    Interrupt {
        /// Invocation request id.
        request: u64,
        /// `kill` or `killnowait` (`kill` when the router gives none).
        mode: String,
    },
    /// An EVENT on one of our subscriptions.
    Event {
        /// Subscription id.
        subscription: u64,
        /// Publication id.
        publication: u64,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
        /// EVENT details (publisher, topic …).
        details: Dict,
    },
    /// A request got no answer within its timeout. A call also had a CANCEL queued (with the
    /// mode of its [`CallTimeout`]). The request id stays reserved until the router answers;
    /// that late answer is dropped (a late REGISTERED / SUBSCRIBED is undone with UNREGISTER /
    /// UNSUBSCRIBE).
    RequestTimedOut {
        /// Message code of the request (CALL, REGISTER, SUBSCRIBE, PUBLISH …).
        request_type: u8,
        /// Its request id.
        request: u64,
        /// The timeout that passed.
        after: Duration,
    },
    /// A deadline of the session itself passed; the session is closed (nothing is sent: the
    /// driver closes the connection).
    TimedOut {
        /// Which deadline.
        kind: TimeoutKind,
        /// The timeout that passed.
        after: Duration,
    },
}

/// Which session deadline passed ([`SessionEvent::TimedOut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// No WELCOME (or ABORT) in time after HELLO.
    Join,
    /// No GOODBYE from the router in time after ours.
    Leave,
    /// No pong in time for an auto-ping.
    Pong,
}

/// A client-side limit for one call: when it passes, a CANCEL with `cancel` is sent and
/// [`SessionEvent::RequestTimedOut`] reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTimeout {
    /// How long the call may take.
    pub after: Duration,
    /// Mode of the CANCEL sent on expiry.
    pub cancel: CancelMode,
}

/// Why a session operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    /// The router violated the protocol; an ABORT `wamp.error.protocol_violation` is queued and
    /// the session is closed.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// Authentication could not be completed on our side; an ABORT
    /// `wamp.error.cannot_authenticate` is queued and the session is closed.
    #[error("authentication failed: {0}")]
    Auth(#[from] AuthError),
    /// The operation is not allowed in the current state.
    #[error("cannot {operation} while the session is {state}")]
    InvalidState {
        /// What was attempted.
        operation: &'static str,
        /// The state the session is in.
        state: SessionState,
    },
    /// A URI or match policy is invalid; nothing was sent.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// No pending call with this request id.
    #[error("no pending call with request id {0}")]
    NoSuchCall(u64),
    /// No registration with this id.
    #[error("no registration with id {0}")]
    NoSuchRegistration(u64),
    /// No subscription with this id.
    #[error("no subscription with id {0}")]
    NoSuchSubscription(u64),
    /// No pending invocation with this request id.
    #[error("no pending invocation with request id {0}")]
    NoSuchInvocation(u64),
    /// A progressive result for an invocation whose caller did not ask for progress.
    #[error("invocation {0} did not request progressive results")]
    ProgressNotRequested(u64),
}

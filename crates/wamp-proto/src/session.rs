//! The sans-IO WAMP v2 client session state machine (in the style of `quinn-proto`).
//!
//! The session never touches a socket or a clock. A driver:
//! 1. calls [`Session::join`] (with 32 fresh random bytes for the authentication nonce),
//! 2. sends every message from [`Session::poll_outgoing`],
//! 3. feeds each received message to [`Session::handle_message`] (or the raw frame to
//!    [`Session::handle_bytes`], which checks the size limit and decodes),
//! 4. reacts to [`Session::poll_event`] (joined, results, invocations, events, left …),
//! 5. issues requests with [`Session::call`], [`Session::register`], [`Session::subscribe`],
//!    [`Session::publish`] … and answers invocations with [`Session::yield_result`] /
//!    [`Session::yield_error`].
//!
//! ```text
//!  Closed ──join──▶ Establishing ──CHALLENGE──▶ Challenging
//!                       │  └──────WELCOME─────┐      │
//!                       │                     ▼      │ WELCOME
//!                       │                 Established◀┘
//!                       │ ABORT / violation    │ leave() ──▶ Closing ──GOODBYE──▶ Closed
//!                       ▼                      │ router GOODBYE (we reply goodbye_and_out)
//!                    Closed ◀──────────────────┘
//! ```
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
//!   subscription / registration and are reported as `Unsubscribed { request: 0 }` /
//!   `Unregistered { request: 0 }`.
//! * While closing (after our GOODBYE) the router may still deliver results and events already
//!   in flight; they are dropped silently.
//! * A subscription / registration stays in place until UNSUBSCRIBED / UNREGISTERED arrives:
//!   EVENTs and INVOCATIONs that cross our UNSUBSCRIBE / UNREGISTER on the wire are still
//!   delivered. Afterwards they are protocol violations.
//! * An INTERRUPT for an invocation already answered is dropped (the two crossed on the wire).

use std::collections::{HashMap, VecDeque};
use std::fmt;

use crate::auth::{AuthAttempt, AuthError, ClientAuth};
use crate::codec::Serializer;
use crate::error::ProtocolError;
use crate::message::{MAX_ID, Message, code};
use crate::uri::{UriError, UriMatch, check_uri};
use crate::value::{Dict, Value};

/// ABORT reason for protocol violations.
pub const PROTOCOL_VIOLATION: &str = "wamp.error.protocol_violation";
/// ABORT reason when this client cannot complete authentication.
pub const CANNOT_AUTHENTICATE: &str = "wamp.error.cannot_authenticate";
/// GOODBYE reason replying to a router's GOODBYE.
pub const GOODBYE_AND_OUT: &str = "wamp.close.goodbye_and_out";
/// Default maximum size of a received message (16 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// How to join: realm, authentication, limits and the announced client roles.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Realm to join.
    pub realm: String,
    /// Authentication method and credentials.
    pub auth: ClientAuth,
    /// Largest received message accepted by [`Session::handle_bytes`], in bytes.
    pub max_message_size: usize,
    /// Check URIs with the strict rules (`[0-9a-z_]` components) instead of the loose ones.
    pub strict_uris: bool,
    /// HELLO `details.roles` (defaults to [`SessionConfig::default_roles`]).
    pub roles: Dict,
    /// HELLO `details.agent`, if any.
    pub agent: Option<String>,
}

impl SessionConfig {
    /// A configuration with the default roles, loose URIs and a 16 MiB message limit.
    pub fn new(realm: impl Into<String>, auth: ClientAuth) -> Self {
        SessionConfig {
            realm: realm.into(),
            auth,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            strict_uris: false,
            roles: Self::default_roles(),
            agent: Some(concat!("wamp-proto/", env!("CARGO_PKG_VERSION")).to_owned()),
        }
    }

    /// The client roles and advanced-profile features this implementation supports.
    pub fn default_roles() -> Dict {
        fn role(features: &[&str]) -> Value {
            let features: Dict = features
                .iter()
                .map(|f| ((*f).to_owned(), Value::Bool(true)))
                .collect();
            Value::Dict(Dict::from_iter([(
                "features".to_owned(),
                Value::Dict(features),
            )]))
        }
        Dict::from_iter([
            (
                "caller".to_owned(),
                role(&[
                    "progressive_call_results",
                    "call_canceling",
                    "call_timeout",
                    "caller_identification",
                    "payload_passthru_mode",
                ]),
            ),
            (
                "callee".to_owned(),
                role(&[
                    "progressive_call_results",
                    "call_canceling",
                    "call_timeout",
                    "caller_identification",
                    "payload_passthru_mode",
                    "pattern_based_registration",
                    "shared_registration",
                ]),
            ),
            (
                "publisher".to_owned(),
                role(&[
                    "publisher_exclusion",
                    "publisher_identification",
                    "subscriber_blackwhite_listing",
                ]),
            ),
            (
                "subscriber".to_owned(),
                role(&["pattern_based_subscription", "publisher_identification"]),
            ),
        ])
    }
}

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
    /// UNREGISTERED (request 0: the router revoked a registration).
    Unregistered {
        /// Request id of the UNREGISTER, or 0.
        request: u64,
    },
    /// SUBSCRIBED.
    Subscribed {
        /// Request id of the SUBSCRIBE.
        request: u64,
        /// Subscription id.
        subscription: u64,
    },
    /// UNSUBSCRIBED (request 0: the router revoked a subscription).
    Unsubscribed {
        /// Request id of the UNSUBSCRIBE, or 0.
        request: u64,
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

/// What a pending request id is waiting for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pending {
    Call,
    Register { procedure: String },
    Unregister { registration: u64 },
    Subscribe { topic: String },
    Unsubscribe { subscription: u64 },
    Publish,
}

impl Pending {
    fn request_type(&self) -> u8 {
        match self {
            Pending::Call => code::CALL,
            Pending::Register { .. } => code::REGISTER,
            Pending::Unregister { .. } => code::UNREGISTER,
            Pending::Subscribe { .. } => code::SUBSCRIBE,
            Pending::Unsubscribe { .. } => code::UNSUBSCRIBE,
            Pending::Publish => code::PUBLISH,
        }
    }
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
    pending: HashMap<u64, Pending>,
    /// Registration id → procedure.
    registrations: HashMap<u64, String>,
    /// Subscription id → topic.
    subscriptions: HashMap<u64, String>,
    /// Pending invocation id → whether the caller asked for progressive results.
    invocations: HashMap<u64, bool>,
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

    /// Starts joining: queues HELLO. `auth_nonce` must be fresh randomness (SCRAM uses it).
    /// Allowed only when closed; a rejoin starts from clean request/registration tables (queued
    /// messages and events are kept: drain them first).
    pub fn join(&mut self, auth_nonce: [u8; 32]) -> Result<(), SessionError> {
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
    /// undecodable frame is a protocol violation (ABORT queued, session closed).
    pub fn handle_bytes(
        &mut self,
        serializer: Serializer,
        bytes: &[u8],
    ) -> Result<(), SessionError> {
        match serializer.decode_limited(bytes, self.config.max_message_size) {
            Ok(msg) => self.handle_message(msg),
            Err(e) => Err(self.violation(e)),
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

    fn handle_joining(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Welcome { session, details } => {
                if let Some(attempt) = &self.attempt
                    && let Err(e) = attempt.on_welcome(&details)
                {
                    return Err(self.auth_failure(e));
                }
                self.attempt = None;
                self.state = SessionState::Established;
                self.session_id = Some(session);
                self.events.push_back(SessionEvent::Joined {
                    session_id: session,
                    details,
                });
                Ok(())
            }
            Message::Challenge { authmethod, extra }
                if self.state == SessionState::Establishing =>
            {
                let answer = match self.attempt.as_mut() {
                    Some(attempt) => attempt.on_challenge(&authmethod, &extra),
                    None => {
                        return Err(
                            self.violation(unexpected_name("CHALLENGE", "without an auth attempt"))
                        );
                    }
                };
                match answer {
                    Ok((signature, extra)) => {
                        self.outgoing
                            .push_back(Message::Authenticate { signature, extra });
                        self.state = SessionState::Challenging;
                        Ok(())
                    }
                    Err(e) => Err(self.auth_failure(e)),
                }
            }
            Message::Abort { details, reason } => {
                self.close();
                self.events
                    .push_back(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            other => {
                let context = format!("while the session is {}", self.state);
                Err(self.violation(unexpected(&other, context)))
            }
        }
    }

    fn handle_closing(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Goodbye { details, reason } => {
                self.close();
                self.events
                    .push_back(SessionEvent::Left { reason, details });
                Ok(())
            }
            Message::Abort { details, reason } => {
                self.close();
                self.events
                    .push_back(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            // Results, events and invocations already in flight when we said GOODBYE.
            Message::Result { .. }
            | Message::Error { .. }
            | Message::Published { .. }
            | Message::Subscribed { .. }
            | Message::Unsubscribed { .. }
            | Message::Registered { .. }
            | Message::Unregistered { .. }
            | Message::Event { .. }
            | Message::Invocation { .. }
            | Message::Interrupt { .. } => Ok(()),
            other => Err(self.violation(unexpected(&other, "while closing"))),
        }
    }

    fn handle_established(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Goodbye { details, reason } => {
                self.outgoing.push_back(Message::Goodbye {
                    details: Dict::new(),
                    reason: GOODBYE_AND_OUT.into(),
                });
                self.close();
                self.events
                    .push_back(SessionEvent::Left { reason, details });
                Ok(())
            }
            Message::Abort { details, reason } => {
                self.close();
                self.events
                    .push_back(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            Message::Result {
                request,
                details,
                args,
                kwargs,
            } => {
                self.expect_pending(request, code::CALL, "RESULT")?;
                let progress = details
                    .get("progress")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !progress {
                    self.pending.remove(&request);
                }
                self.events.push_back(SessionEvent::CallResult {
                    request,
                    args,
                    kwargs,
                    details,
                    progress,
                });
                Ok(())
            }
            Message::Error {
                request_type,
                request,
                details,
                error,
                args,
                kwargs,
            } => {
                match self.pending.get(&request) {
                    Some(p) if p.request_type() == request_type => {}
                    _ => {
                        let what = format!(
                            "for request {request} of type {request_type}, which is not pending"
                        );
                        return Err(self.violation(unexpected_name("ERROR", what)));
                    }
                }
                self.pending.remove(&request);
                self.events.push_back(SessionEvent::RequestError {
                    request_type,
                    request,
                    error,
                    args,
                    kwargs,
                    details,
                });
                Ok(())
            }
            Message::Registered {
                request,
                registration,
            } => {
                if let Some(Pending::Register { procedure }) =
                    self.take_pending(request, code::REGISTER)
                {
                    self.registrations.insert(registration, procedure);
                } else {
                    return Err(self.violation(not_pending("REGISTERED", request)));
                }
                self.events.push_back(SessionEvent::Registered {
                    request,
                    registration,
                });
                Ok(())
            }
            Message::Unregistered {
                request: 0,
                details,
            } => {
                let id = details
                    .as_ref()
                    .and_then(|d| d.get("registration"))
                    .and_then(Value::as_u64);
                match id {
                    Some(id) => {
                        self.registrations.remove(&id);
                        self.events
                            .push_back(SessionEvent::Unregistered { request: 0 });
                        Ok(())
                    }
                    None => Err(self.violation(unexpected_name(
                        "UNREGISTERED",
                        "for request 0 without a registration",
                    ))),
                }
            }
            Message::Unregistered { request, .. } => match self.pending.get(&request) {
                Some(Pending::Unregister { registration }) => {
                    let registration = *registration;
                    self.pending.remove(&request);
                    self.registrations.remove(&registration);
                    self.events
                        .push_back(SessionEvent::Unregistered { request });
                    Ok(())
                }
                _ => Err(self.violation(not_pending("UNREGISTERED", request))),
            },
            Message::Subscribed {
                request,
                subscription,
            } => {
                if let Some(Pending::Subscribe { topic }) =
                    self.take_pending(request, code::SUBSCRIBE)
                {
                    self.subscriptions.insert(subscription, topic);
                } else {
                    return Err(self.violation(not_pending("SUBSCRIBED", request)));
                }
                self.events.push_back(SessionEvent::Subscribed {
                    request,
                    subscription,
                });
                Ok(())
            }
            Message::Unsubscribed {
                request: 0,
                details,
            } => {
                let id = details
                    .as_ref()
                    .and_then(|d| d.get("subscription"))
                    .and_then(Value::as_u64);
                match id {
                    Some(id) => {
                        self.subscriptions.remove(&id);
                        self.events
                            .push_back(SessionEvent::Unsubscribed { request: 0 });
                        Ok(())
                    }
                    None => Err(self.violation(unexpected_name(
                        "UNSUBSCRIBED",
                        "for request 0 without a subscription",
                    ))),
                }
            }
            Message::Unsubscribed { request, .. } => match self.pending.get(&request) {
                Some(Pending::Unsubscribe { subscription }) => {
                    let subscription = *subscription;
                    self.pending.remove(&request);
                    self.subscriptions.remove(&subscription);
                    self.events
                        .push_back(SessionEvent::Unsubscribed { request });
                    Ok(())
                }
                _ => Err(self.violation(not_pending("UNSUBSCRIBED", request))),
            },
            Message::Published {
                request,
                publication,
            } => {
                if self.take_pending(request, code::PUBLISH).is_none() {
                    return Err(self.violation(not_pending("PUBLISHED", request)));
                }
                self.events.push_back(SessionEvent::Published {
                    request,
                    publication,
                });
                Ok(())
            }
            Message::Event {
                subscription,
                publication,
                details,
                args,
                kwargs,
            } => {
                if self.subscriptions.contains_key(&subscription) {
                    self.events.push_back(SessionEvent::Event {
                        subscription,
                        publication,
                        args,
                        kwargs,
                        details,
                    });
                    Ok(())
                } else {
                    let what = format!("for unknown subscription {subscription}");
                    Err(self.violation(unexpected_name("EVENT", what)))
                }
            }
            Message::Invocation {
                request,
                registration,
                details,
                args,
                kwargs,
            } => {
                if self.registrations.contains_key(&registration) {
                    if self.invocations.contains_key(&request) {
                        let what = format!("reusing pending invocation id {request}");
                        return Err(self.violation(unexpected_name("INVOCATION", what)));
                    }
                    let progress = details
                        .get("receive_progress")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    self.invocations.insert(request, progress);
                    self.events.push_back(SessionEvent::Invocation {
                        request,
                        registration,
                        args,
                        kwargs,
                        details,
                    });
                    Ok(())
                } else {
                    let what = format!("for unknown registration {registration}");
                    Err(self.violation(unexpected_name("INVOCATION", what)))
                }
            }
            Message::Interrupt { request, options } => {
                if self.invocations.contains_key(&request) {
                    let mode = options
                        .get("mode")
                        .and_then(Value::as_str)
                        .unwrap_or("kill")
                        .to_owned();
                    self.events
                        .push_back(SessionEvent::Interrupt { request, mode });
                }
                Ok(())
            }
            other => Err(self.violation(unexpected(&other, "in an established session"))),
        }
    }

    /// Calls a procedure; returns the request id.
    pub fn call(
        &mut self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "call")?;
        check_uri(procedure, self.config.strict_uris, UriMatch::Exact)?;
        let request = self.next_request();
        self.pending.insert(request, Pending::Call);
        self.outgoing.push_back(Message::Call {
            request,
            options,
            procedure: procedure.to_owned(),
            args,
            kwargs,
        });
        Ok(request)
    }

    /// Cancels a pending call. The call stays pending until the router's ERROR (or RESULT).
    pub fn cancel(&mut self, request: u64, mode: CancelMode) -> Result<(), SessionError> {
        self.require(SessionState::Established, "cancel")?;
        if self.pending.get(&request) != Some(&Pending::Call) {
            return Err(SessionError::NoSuchCall(request));
        }
        let options = Dict::from_iter([("mode".to_owned(), Value::from(mode.as_str()))]);
        self.outgoing
            .push_back(Message::Cancel { request, options });
        Ok(())
    }

    /// Registers a procedure (or pattern, per `options.match`); returns the request id.
    pub fn register(&mut self, procedure: &str, options: Dict) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "register")?;
        check_uri(
            procedure,
            self.config.strict_uris,
            UriMatch::from_options(&options)?,
        )?;
        let request = self.next_request();
        self.pending.insert(
            request,
            Pending::Register {
                procedure: procedure.to_owned(),
            },
        );
        self.outgoing.push_back(Message::Register {
            request,
            options,
            procedure: procedure.to_owned(),
        });
        Ok(request)
    }

    /// Unregisters; returns the request id.
    pub fn unregister(&mut self, registration: u64) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "unregister")?;
        if !self.registrations.contains_key(&registration) || self.unregistering(registration) {
            return Err(SessionError::NoSuchRegistration(registration));
        }
        let request = self.next_request();
        self.pending
            .insert(request, Pending::Unregister { registration });
        self.outgoing.push_back(Message::Unregister {
            request,
            registration,
        });
        Ok(request)
    }

    /// Subscribes to a topic (or pattern, per `options.match`); returns the request id.
    pub fn subscribe(&mut self, topic: &str, options: Dict) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "subscribe")?;
        check_uri(
            topic,
            self.config.strict_uris,
            UriMatch::from_options(&options)?,
        )?;
        let request = self.next_request();
        self.pending.insert(
            request,
            Pending::Subscribe {
                topic: topic.to_owned(),
            },
        );
        self.outgoing.push_back(Message::Subscribe {
            request,
            options,
            topic: topic.to_owned(),
        });
        Ok(request)
    }

    /// Unsubscribes; returns the request id.
    pub fn unsubscribe(&mut self, subscription: u64) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "unsubscribe")?;
        if !self.subscriptions.contains_key(&subscription) || self.unsubscribing(subscription) {
            return Err(SessionError::NoSuchSubscription(subscription));
        }
        let request = self.next_request();
        self.pending
            .insert(request, Pending::Unsubscribe { subscription });
        self.outgoing.push_back(Message::Unsubscribe {
            request,
            subscription,
        });
        Ok(request)
    }

    /// Publishes; returns the request id. With `options.acknowledge = true` a
    /// [`SessionEvent::Published`] (or a `RequestError`) follows; otherwise nothing does.
    pub fn publish(
        &mut self,
        topic: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "publish")?;
        check_uri(topic, self.config.strict_uris, UriMatch::Exact)?;
        let request = self.next_request();
        if options
            .get("acknowledge")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            self.pending.insert(request, Pending::Publish);
        }
        self.outgoing.push_back(Message::Publish {
            request,
            options,
            topic: topic.to_owned(),
            args,
            kwargs,
        });
        Ok(request)
    }

    /// Answers an invocation with a result; `progress` sends a progressive (intermediate) result
    /// and keeps the invocation pending (allowed only when the caller asked for progress).
    pub fn yield_result(
        &mut self,
        invocation: u64,
        args: Vec<Value>,
        kwargs: Dict,
        progress: bool,
    ) -> Result<(), SessionError> {
        self.require(SessionState::Established, "yield")?;
        let receive_progress = *self
            .invocations
            .get(&invocation)
            .ok_or(SessionError::NoSuchInvocation(invocation))?;
        let mut options = Dict::new();
        if progress {
            if !receive_progress {
                return Err(SessionError::ProgressNotRequested(invocation));
            }
            options.insert("progress".into(), Value::Bool(true));
        } else {
            self.invocations.remove(&invocation);
        }
        self.outgoing.push_back(Message::Yield {
            request: invocation,
            options,
            args,
            kwargs,
        });
        Ok(())
    }

    /// Answers an invocation with an error URI and payload.
    pub fn yield_error(
        &mut self,
        invocation: u64,
        error: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), SessionError> {
        self.require(SessionState::Established, "yield an error")?;
        if !self.invocations.contains_key(&invocation) {
            return Err(SessionError::NoSuchInvocation(invocation));
        }
        check_uri(error, false, UriMatch::Exact)?;
        self.invocations.remove(&invocation);
        self.outgoing.push_back(Message::Error {
            request_type: code::INVOCATION,
            request: invocation,
            details: Dict::new(),
            error: error.to_owned(),
            args,
            kwargs,
        });
        Ok(())
    }

    /// Leaves the realm: queues GOODBYE; the session is closed after the router's GOODBYE
    /// ([`SessionEvent::Left`]).
    pub fn leave(&mut self, reason: &str) -> Result<(), SessionError> {
        self.require(SessionState::Established, "leave")?;
        check_uri(reason, false, UriMatch::Exact)?;
        self.outgoing.push_back(Message::Goodbye {
            details: Dict::new(),
            reason: reason.to_owned(),
        });
        self.state = SessionState::Closing;
        Ok(())
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

    fn expect_pending(
        &mut self,
        request: u64,
        request_type: u8,
        name: &'static str,
    ) -> Result<(), SessionError> {
        match self.pending.get(&request) {
            Some(p) if p.request_type() == request_type => Ok(()),
            _ => Err(self.violation(not_pending(name, request))),
        }
    }

    /// Removes and returns the pending request if it is of the given type.
    fn take_pending(&mut self, request: u64, request_type: u8) -> Option<Pending> {
        match self.pending.get(&request) {
            Some(p) if p.request_type() == request_type => self.pending.remove(&request),
            _ => None,
        }
    }

    fn unsubscribing(&self, subscription: u64) -> bool {
        self.pending
            .values()
            .any(|p| *p == Pending::Unsubscribe { subscription })
    }

    fn unregistering(&self, registration: u64) -> bool {
        self.pending
            .values()
            .any(|p| *p == Pending::Unregister { registration })
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
        self.events.push_back(SessionEvent::Aborted {
            reason: reason.to_owned(),
            details,
        });
        self.close();
    }

    fn close(&mut self) {
        self.state = SessionState::Closed;
        self.session_id = None;
        self.attempt = None;
        self.pending.clear();
        self.registrations.clear();
        self.subscriptions.clear();
        self.invocations.clear();
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

//! The connection driver: one task per connection owns the socket and the sans-IO session.
//!
//! Handles talk to it over a bounded channel of [`Command`]s and get replies over oneshot
//! channels. The driver feeds received messages into [`wamp_proto::session::Session`], writes
//! what the session wants sent (one encode per message), routes session events to the waiting
//! requests, runs procedure handlers as tasks, dispatches events to subscription tasks and sends
//! auto-pings. No lock is held across an await.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, trace, warn};
use wamp_proto::message::code;
use wamp_proto::session::{Session as ProtoSession, SessionConfig, SessionEvent};
use wamp_proto::{Dict, Message, Serializer, Value};

use crate::error::{Error, JoinError, TransportError, WampError, is_auth_failure};
use crate::options::CancelMode;
use crate::transport::{self, Connection, Incoming, TransportConfig};
use crate::types::{
    CallResult, Event, Invocation, InvocationError, ProcedureHandler, YieldOutcome,
};

/// Capacity of the command channel from handles to the driver.
const COMMAND_CAPACITY: usize = 256;
/// How long a leave waits for the router's GOODBYE.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the reply to a call goes.
pub(crate) enum CallReply {
    /// A plain call: one final result.
    Once(oneshot::Sender<Result<CallResult, Error>>),
    /// A progressive call: progress items, then the final result (`progress == false`).
    Progressive(mpsc::UnboundedSender<Result<(CallResult, bool), Error>>),
}

impl CallReply {
    fn fail(self, err: Error) {
        match self {
            CallReply::Once(tx) => {
                let _ = tx.send(Err(err));
            }
            CallReply::Progressive(tx) => {
                let _ = tx.send(Err(err));
            }
        }
    }
}

/// A request from a handle (or an invocation task) to the driver.
pub(crate) enum Command {
    Call {
        procedure: String,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
        token: u64,
        reply: CallReply,
    },
    CancelCall {
        token: u64,
        mode: CancelMode,
    },
    Register {
        procedure: String,
        options: Dict,
        handler: ProcedureHandler,
        reply: oneshot::Sender<Result<u64, Error>>,
    },
    Unregister {
        registration: u64,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Subscribe {
        topic: String,
        options: Dict,
        sink: mpsc::UnboundedSender<Event>,
        reply: oneshot::Sender<Result<(u64, u64), Error>>,
    },
    Unsubscribe {
        subscription: u64,
        local: u64,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Publish {
        topic: String,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
        acknowledge: bool,
        reply: oneshot::Sender<Result<Option<u64>, Error>>,
    },
    Yield {
        invocation: u64,
        outcome: YieldOutcome,
    },
    Leave {
        reason: String,
        reply: oneshot::Sender<Result<(), Error>>,
    },
}

/// What is known about a joined session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Session id assigned by the router.
    pub session_id: u64,
    /// The realm joined.
    pub realm: String,
    /// WELCOME details (`authid`, `authrole`, `authmethod`, `roles` …).
    pub details: Dict,
    /// The serializer in use.
    pub serializer: Serializer,
    /// The transport URL.
    pub url: String,
}

impl SessionInfo {
    /// The authid the router assigned, if it told.
    pub fn authid(&self) -> Option<&str> {
        self.details.get("authid").and_then(Value::as_str)
    }

    /// The authrole the router assigned, if it told.
    pub fn authrole(&self) -> Option<&str> {
        self.details.get("authrole").and_then(Value::as_str)
    }
}

/// The current link from handles to a driver.
#[derive(Clone, Default)]
pub(crate) enum Link {
    /// No joined session.
    #[default]
    Down,
    /// A joined session served by a driver.
    Up {
        tx: mpsc::Sender<Command>,
        info: Arc<SessionInfo>,
    },
}

/// Why a driver stopped.
#[derive(Debug)]
pub enum Disconnect {
    /// We left (GOODBYE exchanged, or sent and timed out).
    Left {
        /// The GOODBYE reason the router answered with (or ours).
        reason: String,
    },
    /// The router ended the session (GOODBYE or ABORT from the router).
    ClosedByRouter {
        /// The router's reason URI.
        reason: String,
    },
    /// The connection failed (I/O, ping timeout, closed socket, protocol violation).
    Failed(Error),
}

impl Disconnect {
    /// Whether the session ended by a GOODBYE exchange.
    pub fn was_clean(&self) -> bool {
        !matches!(self, Disconnect::Failed(_))
    }
}

impl std::fmt::Display for Disconnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disconnect::Left { reason } => write!(f, "left ({reason})"),
            Disconnect::ClosedByRouter { reason } => write!(f, "closed by router ({reason})"),
            Disconnect::Failed(e) => write!(f, "connection failed: {e}"),
        }
    }
}

fn to_proto_cancel_mode(mode: CancelMode) -> wamp_proto::session::CancelMode {
    match mode {
        CancelMode::Skip => wamp_proto::session::CancelMode::Skip,
        CancelMode::Kill => wamp_proto::session::CancelMode::Kill,
        CancelMode::KillNoWait => wamp_proto::session::CancelMode::KillNoWait,
    }
}

fn random_nonce() -> [u8; 32] {
    use rand::RngCore;
    let mut nonce = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

/// A connection on which the session is joined, ready to be driven.
pub(crate) struct Joined {
    pub(crate) info: Arc<SessionInfo>,
    conn: Connection,
    session: ProtoSession,
    ping_interval: Option<Duration>,
    ping_timeout: Duration,
}

/// Connects the transport and joins the realm (within the transport's connect timeout for the
/// connection and again for the join).
pub(crate) async fn connect_and_join(
    transport_config: &TransportConfig,
    session_config: SessionConfig,
) -> Result<Joined, Error> {
    let conn = transport::connect(transport_config).await?;
    join_on(conn, transport_config, session_config).await
}

/// Joins the realm on a connected transport, within the transport's connect timeout.
pub(crate) async fn join_on(
    mut conn: Connection,
    transport_config: &TransportConfig,
    session_config: SessionConfig,
) -> Result<Joined, Error> {
    let realm = session_config.realm.clone();
    let timeout = transport_config.connect_timeout;
    let mut session = ProtoSession::new(session_config);
    let joined = tokio::time::timeout(timeout, join(&mut conn, &mut session)).await;
    let (session_id, details) = match joined {
        Ok(Ok(ok)) => ok,
        Ok(Err(e)) => {
            let _ = conn.close().await;
            return Err(e);
        }
        Err(_) => {
            let _ = conn.close().await;
            return Err(TransportError::ConnectTimeout(timeout).into());
        }
    };
    let info = Arc::new(SessionInfo {
        session_id,
        realm,
        details,
        serializer: conn.serializer(),
        url: transport_config.url.clone(),
    });
    Ok(Joined {
        info,
        conn,
        session,
        ping_interval: transport_config.auto_ping_interval,
        ping_timeout: transport_config.auto_ping_timeout,
    })
}

async fn join(conn: &mut Connection, session: &mut ProtoSession) -> Result<(u64, Dict), Error> {
    session.join(random_nonce()).map_err(Error::Rejected)?;
    loop {
        flush_outgoing(conn, session).await?;
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Joined {
                    session_id,
                    details,
                } => return Ok((session_id, details)),
                SessionEvent::Aborted { reason, details } => {
                    return Err(if is_auth_failure(&reason) {
                        JoinError::AuthenticationFailed { reason, details }
                    } else {
                        JoinError::Aborted { reason, details }
                    }
                    .into());
                }
                other => trace!(?other, "ignoring event before join"),
            }
        }
        match conn.recv().await? {
            Incoming::Message(bytes) => {
                if let Err(e) = session.handle_bytes(conn.serializer(), &bytes) {
                    // Send what the session queued (an ABORT) before giving up.
                    let _ = flush_outgoing(conn, session).await;
                    if let Some(SessionEvent::Aborted { reason, details }) = drain_abort(session) {
                        return Err(if is_auth_failure(&reason) {
                            JoinError::AuthenticationFailed { reason, details }
                        } else {
                            JoinError::Aborted { reason, details }
                        }
                        .into());
                    }
                    return Err(Error::Protocol(e.to_string()));
                }
            }
            Incoming::Ping(p) => conn.send_pong(p).await?,
            Incoming::Pong(_) => {}
            Incoming::Closed => return Err(TransportError::Closed.into()),
        }
    }
}

fn drain_abort(session: &mut ProtoSession) -> Option<SessionEvent> {
    while let Some(event) = session.poll_event() {
        if matches!(event, SessionEvent::Aborted { .. }) {
            return Some(event);
        }
    }
    None
}

/// Sends everything the session queued; used before the driver loop exists.
async fn flush_outgoing(conn: &mut Connection, session: &mut ProtoSession) -> Result<(), Error> {
    while let Some(msg) = session.poll_outgoing() {
        let bytes = conn.serializer().encode(&msg)?;
        conn.send(bytes).await?;
    }
    Ok(())
}

type PendingRegister = (
    String,
    ProcedureHandler,
    oneshot::Sender<Result<u64, Error>>,
);
type PendingSubscribe = (
    String,
    mpsc::UnboundedSender<Event>,
    oneshot::Sender<Result<(u64, u64), Error>>,
);

struct PendingCall {
    token: u64,
    reply: CallReply,
}

struct SubscriptionEntry {
    topic: String,
    sinks: Vec<(u64, mpsc::UnboundedSender<Event>)>,
}

struct RegistrationEntry {
    procedure: String,
    handler: ProcedureHandler,
}

/// The driver's state for one joined connection.
struct Driver {
    conn: Connection,
    session: ProtoSession,
    commands: mpsc::Receiver<Command>,
    /// Given to invocation tasks for their yields; weak so it does not keep the channel open.
    self_tx: mpsc::WeakSender<Command>,
    calls: HashMap<u64, PendingCall>,
    call_tokens: HashMap<u64, u64>,
    registers: HashMap<u64, PendingRegister>,
    unregisters: HashMap<u64, (u64, oneshot::Sender<Result<(), Error>>)>,
    subscribes: HashMap<u64, PendingSubscribe>,
    unsubscribes: HashMap<u64, oneshot::Sender<Result<(), Error>>>,
    publishes: HashMap<u64, oneshot::Sender<Result<Option<u64>, Error>>>,
    registrations: HashMap<u64, RegistrationEntry>,
    subscriptions: HashMap<u64, SubscriptionEntry>,
    invocations: HashMap<u64, oneshot::Sender<()>>,
    next_local: u64,
    leave: Option<(oneshot::Sender<Result<(), Error>>, Instant)>,
    ping_interval: Option<Duration>,
    ping_timeout: Duration,
    next_ping: Option<Instant>,
    pong_deadline: Option<Instant>,
    ping_counter: u64,
}

/// Starts the driver task for a joined connection and publishes its link on `link`.
///
/// The task ends when the session ends; it then sets the link down, fails every pending request
/// with [`Error::ConnectionLost`] and returns why it ended.
pub(crate) fn spawn(
    joined: Joined,
    link: watch::Sender<Link>,
) -> tokio::task::JoinHandle<Disconnect> {
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    let info = joined.info.clone();
    let span =
        info_span!("wamp_session", id = info.session_id, realm = %info.realm, url = %info.url);
    let now = Instant::now();
    let driver = Driver {
        conn: joined.conn,
        session: joined.session,
        commands: rx,
        self_tx: tx.downgrade(),
        calls: HashMap::new(),
        call_tokens: HashMap::new(),
        registers: HashMap::new(),
        unregisters: HashMap::new(),
        subscribes: HashMap::new(),
        unsubscribes: HashMap::new(),
        publishes: HashMap::new(),
        registrations: HashMap::new(),
        subscriptions: HashMap::new(),
        invocations: HashMap::new(),
        next_local: 0,
        leave: None,
        ping_interval: joined.ping_interval,
        ping_timeout: joined.ping_timeout,
        next_ping: joined.ping_interval.map(|i| now + i),
        pong_deadline: None,
        ping_counter: 0,
    };
    link.send_replace(Link::Up { tx, info });
    tokio::spawn(
        async move {
            let mut driver = driver;
            let outcome = driver.run().await;
            link.send_replace(Link::Down);
            driver.fail_all();
            let _ = driver.conn.close().await;
            debug!(%outcome, "session ended");
            outcome
        }
        .instrument(span),
    )
}

enum Step {
    Continue,
    Stop(Disconnect),
}

impl Driver {
    async fn run(&mut self) -> Disconnect {
        loop {
            if let Err(e) = self.flush().await {
                return Disconnect::Failed(e);
            }
            if let Some(stop) = self.dispatch_events() {
                return stop;
            }
            let timer = self.next_timer();
            let step = tokio::select! {
                incoming = self.conn.recv() => self.on_incoming(incoming).await,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    // Only reachable when every handle and the link are gone.
                    None => {
                        let _ = self.session.leave("wamp.close.normal");
                        self.leave = Some((oneshot::channel().0, Instant::now() + LEAVE_TIMEOUT));
                        Step::Continue
                    }
                },
                () = sleep_until_opt(timer) => self.on_timer().await,
            };
            match step {
                Step::Continue => {}
                Step::Stop(d) => {
                    let _ = self.flush().await;
                    return d;
                }
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let ping = self.pong_deadline.or(self.next_ping);
        let leave = self.leave.as_ref().map(|(_, at)| *at);
        match (ping, leave) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn on_timer(&mut self) -> Step {
        let now = Instant::now();
        if let Some((_, at)) = &self.leave
            && now >= *at
        {
            let (reply, _) = self.leave.take().expect("checked above");
            let _ = reply.send(Ok(()));
            return Step::Stop(Disconnect::Left {
                reason: "wamp.close.normal".into(),
            });
        }
        if let Some(deadline) = self.pong_deadline
            && now >= deadline
        {
            warn!(timeout = ?self.ping_timeout, "no pong: closing the connection");
            return Step::Stop(Disconnect::Failed(
                TransportError::PingTimeout(self.ping_timeout).into(),
            ));
        }
        if let Some(at) = self.next_ping
            && now >= at
        {
            self.ping_counter += 1;
            let payload = self.ping_counter.to_be_bytes().to_vec();
            trace!(n = self.ping_counter, "auto-ping");
            if let Err(e) = self.conn.send_ping(payload).await {
                return Step::Stop(Disconnect::Failed(e.into()));
            }
            self.pong_deadline = Some(now + self.ping_timeout);
            self.next_ping = self.ping_interval.map(|i| now + i);
        }
        Step::Continue
    }

    async fn on_incoming(&mut self, incoming: Result<Incoming, TransportError>) -> Step {
        match incoming {
            Err(e) => Step::Stop(Disconnect::Failed(e.into())),
            Ok(Incoming::Closed) => Step::Stop(Disconnect::Failed(TransportError::Closed.into())),
            Ok(Incoming::Ping(payload)) => match self.conn.send_pong(payload).await {
                Ok(()) => Step::Continue,
                Err(e) => Step::Stop(Disconnect::Failed(e.into())),
            },
            Ok(Incoming::Pong(payload)) => {
                if payload == self.ping_counter.to_be_bytes() {
                    self.pong_deadline = None;
                }
                Step::Continue
            }
            Ok(Incoming::Message(bytes)) => {
                match self.session.handle_bytes(self.conn.serializer(), &bytes) {
                    Ok(()) => Step::Continue,
                    Err(e) => {
                        warn!(error = %e, "protocol violation by the router");
                        Step::Stop(Disconnect::Failed(Error::Protocol(e.to_string())))
                    }
                }
            }
        }
    }

    /// Sends what the session queued. Encode or size errors fail the request that produced the
    /// message, not the connection.
    async fn flush(&mut self) -> Result<(), Error> {
        while let Some(msg) = self.session.poll_outgoing() {
            let bytes = match self.conn.serializer().encode(&msg) {
                Ok(bytes) => bytes,
                Err(e) => {
                    self.fail_request_of(&msg, Error::Encode(e));
                    continue;
                }
            };
            match self.conn.send(bytes).await {
                Ok(()) => trace!(message = msg.name(), "sent"),
                Err(TransportError::MessageTooLarge { size, limit }) => {
                    self.fail_request_of(
                        &msg,
                        TransportError::MessageTooLarge { size, limit }.into(),
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Fails the local request that `msg` belonged to (it could not be sent).
    fn fail_request_of(&mut self, msg: &Message, err: Error) {
        warn!(message = msg.name(), error = %err, "message not sent");
        match msg {
            Message::Call { request, .. } => {
                if let Some(p) = self.calls.remove(request) {
                    self.call_tokens.remove(&p.token);
                    p.reply.fail(err);
                }
            }
            Message::Publish { request, .. } => {
                if let Some(reply) = self.publishes.remove(request) {
                    let _ = reply.send(Err(err));
                }
            }
            Message::Register { request, .. } => {
                if let Some((_, _, reply)) = self.registers.remove(request) {
                    let _ = reply.send(Err(err));
                }
            }
            Message::Subscribe { request, .. } => {
                if let Some((_, _, reply)) = self.subscribes.remove(request) {
                    let _ = reply.send(Err(err));
                }
            }
            Message::Yield { request, .. } => {
                // The caller would wait forever: tell it the result could not be delivered.
                let _ = self.session.yield_error(
                    *request,
                    "wamp.error.invalid_argument",
                    vec![Value::from(err.to_string())],
                    Dict::new(),
                );
            }
            _ => {}
        }
    }

    fn on_command(&mut self, cmd: Command) -> Step {
        match cmd {
            Command::Call {
                procedure,
                args,
                kwargs,
                options,
                token,
                reply,
            } => match self.session.call(&procedure, args, kwargs, options) {
                Ok(request) => {
                    self.call_tokens.insert(token, request);
                    self.calls.insert(request, PendingCall { token, reply });
                }
                Err(e) => reply.fail(Error::Rejected(e)),
            },
            Command::CancelCall { token, mode } => {
                if let Some(&request) = self.call_tokens.get(&token) {
                    debug!(request, mode = mode.as_str(), "cancelling call");
                    if let Err(e) = self.session.cancel(request, to_proto_cancel_mode(mode)) {
                        debug!(error = %e, "cancel refused");
                    }
                }
            }
            Command::Register {
                procedure,
                options,
                handler,
                reply,
            } => match self.session.register(&procedure, options) {
                Ok(request) => {
                    self.registers.insert(request, (procedure, handler, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Unregister {
                registration,
                reply,
            } => match self.session.unregister(registration) {
                Ok(request) => {
                    self.unregisters.insert(request, (registration, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Subscribe {
                topic,
                options,
                sink,
                reply,
            } => match self.session.subscribe(&topic, options) {
                Ok(request) => {
                    self.subscribes.insert(request, (topic, sink, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Unsubscribe {
                subscription,
                local,
                reply,
            } => {
                let Some(entry) = self.subscriptions.get_mut(&subscription) else {
                    let _ = reply.send(Ok(()));
                    return Step::Continue;
                };
                entry.sinks.retain(|(id, _)| *id != local);
                if !entry.sinks.is_empty() {
                    // Other local subscribers share this router subscription.
                    let _ = reply.send(Ok(()));
                    return Step::Continue;
                }
                self.subscriptions.remove(&subscription);
                match self.session.unsubscribe(subscription) {
                    Ok(request) => {
                        self.unsubscribes.insert(request, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                    }
                }
            }
            Command::Publish {
                topic,
                args,
                kwargs,
                options,
                acknowledge,
                reply,
            } => match self.session.publish(&topic, args, kwargs, options) {
                Ok(request) => {
                    if acknowledge {
                        self.publishes.insert(request, reply);
                    } else {
                        let _ = reply.send(Ok(None));
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Yield {
                invocation,
                outcome,
            } => self.on_yield(invocation, outcome),
            Command::Leave { reason, reply } => {
                if self.leave.is_some() {
                    let _ = reply.send(Ok(()));
                } else {
                    match self.session.leave(&reason) {
                        Ok(()) => self.leave = Some((reply, Instant::now() + LEAVE_TIMEOUT)),
                        Err(e) => {
                            let _ = reply.send(Err(Error::Rejected(e)));
                        }
                    }
                }
            }
        }
        Step::Continue
    }

    fn on_yield(&mut self, invocation: u64, outcome: YieldOutcome) {
        let result = match outcome {
            YieldOutcome::Progress(r) => {
                if !self.invocations.contains_key(&invocation) {
                    return; // interrupted or finished
                }
                self.session
                    .yield_result(invocation, r.args, r.kwargs, true)
            }
            YieldOutcome::Final(Ok(r)) => {
                if self.invocations.remove(&invocation).is_none() {
                    return;
                }
                // A result the serializer cannot carry would leave the caller waiting: the
                // session forgets the invocation before the YIELD is encoded. Answer with an
                // error instead.
                match unencodable(self.conn.serializer(), &r.args, &r.kwargs) {
                    None => self
                        .session
                        .yield_result(invocation, r.args, r.kwargs, false),
                    Some(why) => self.session.yield_error(
                        invocation,
                        "wamp.error.invalid_argument",
                        vec![Value::from(format!("result cannot be serialized: {why}"))],
                        Dict::new(),
                    ),
                }
            }
            YieldOutcome::Final(Err(e)) => {
                if self.invocations.remove(&invocation).is_none() {
                    return;
                }
                self.session
                    .yield_error(invocation, &e.uri, e.args, e.kwargs)
            }
        };
        if let Err(e) = result {
            debug!(invocation, error = %e, "yield refused by the session");
        }
    }

    /// Routes session events; returns a stop reason when the session ended.
    fn dispatch_events(&mut self) -> Option<Disconnect> {
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::CallResult {
                    request,
                    args,
                    kwargs,
                    details,
                    progress,
                } => self.on_call_result(
                    request,
                    CallResult {
                        args,
                        kwargs,
                        details,
                    },
                    progress,
                ),
                SessionEvent::RequestError {
                    request_type,
                    request,
                    error,
                    args,
                    kwargs,
                    details,
                } => {
                    let err = Error::from(WampError {
                        uri: error,
                        args,
                        kwargs,
                        details,
                    });
                    self.on_request_error(request_type, request, err);
                }
                SessionEvent::Registered {
                    request,
                    registration,
                } => {
                    if let Some((procedure, handler, reply)) = self.registers.remove(&request) {
                        self.registrations
                            .insert(registration, RegistrationEntry { procedure, handler });
                        let _ = reply.send(Ok(registration));
                    }
                }
                SessionEvent::Unregistered { request } => {
                    if let Some((registration, reply)) = self.unregisters.remove(&request) {
                        self.registrations.remove(&registration);
                        let _ = reply.send(Ok(()));
                    }
                }
                SessionEvent::Subscribed {
                    request,
                    subscription,
                } => {
                    if let Some((topic, sink, reply)) = self.subscribes.remove(&request) {
                        self.next_local += 1;
                        let local = self.next_local;
                        self.subscriptions
                            .entry(subscription)
                            .or_insert_with(|| SubscriptionEntry {
                                topic,
                                sinks: Vec::new(),
                            })
                            .sinks
                            .push((local, sink));
                        let _ = reply.send(Ok((subscription, local)));
                    }
                }
                SessionEvent::Unsubscribed { request } => {
                    if let Some(reply) = self.unsubscribes.remove(&request) {
                        let _ = reply.send(Ok(()));
                    }
                }
                SessionEvent::Published {
                    request,
                    publication,
                } => {
                    if let Some(reply) = self.publishes.remove(&request) {
                        let _ = reply.send(Ok(Some(publication)));
                    }
                }
                SessionEvent::Invocation {
                    request,
                    registration,
                    args,
                    kwargs,
                    details,
                } => self.on_invocation(request, registration, args, kwargs, details),
                SessionEvent::Interrupt { request, mode } => {
                    debug!(request, ?mode, "invocation interrupted");
                    if let Some(interrupt) = self.invocations.get_mut(&request) {
                        // Dropping the sender wakes the invocation task, which answers
                        // `wamp.error.canceled`.
                        let (dead, _) = oneshot::channel();
                        drop(std::mem::replace(interrupt, dead));
                    }
                }
                SessionEvent::Event {
                    subscription,
                    publication,
                    args,
                    kwargs,
                    details,
                } => self.on_event(subscription, publication, args, kwargs, details),
                SessionEvent::Left { reason, .. } => {
                    if let Some((reply, _)) = self.leave.take() {
                        let _ = reply.send(Ok(()));
                        return Some(Disconnect::Left { reason });
                    }
                    return Some(Disconnect::ClosedByRouter { reason });
                }
                SessionEvent::Aborted { reason, .. } => {
                    return Some(Disconnect::ClosedByRouter { reason });
                }
                SessionEvent::Joined { .. } => {}
            }
        }
        None
    }

    fn on_call_result(&mut self, request: u64, result: CallResult, progress: bool) {
        if progress {
            if let Some(PendingCall {
                reply: CallReply::Progressive(tx),
                ..
            }) = self.calls.get(&request)
            {
                let _ = tx.send(Ok((result, true)));
            }
            return;
        }
        if let Some(p) = self.calls.remove(&request) {
            self.call_tokens.remove(&p.token);
            match p.reply {
                CallReply::Once(tx) => {
                    let _ = tx.send(Ok(result));
                }
                CallReply::Progressive(tx) => {
                    let _ = tx.send(Ok((result, false)));
                }
            }
        }
    }

    fn on_request_error(&mut self, request_type: u8, request: u64, err: Error) {
        match request_type {
            code::CALL => {
                if let Some(p) = self.calls.remove(&request) {
                    self.call_tokens.remove(&p.token);
                    p.reply.fail(err);
                }
            }
            code::REGISTER => {
                if let Some((_, _, reply)) = self.registers.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::UNREGISTER => {
                if let Some((_, reply)) = self.unregisters.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::SUBSCRIBE => {
                if let Some((_, _, reply)) = self.subscribes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::UNSUBSCRIBE => {
                if let Some(reply) = self.unsubscribes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::PUBLISH => {
                if let Some(reply) = self.publishes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            other => debug!(
                request_type = other,
                request, "error for unknown request type"
            ),
        }
    }

    fn on_invocation(
        &mut self,
        request: u64,
        registration: u64,
        args: Vec<Value>,
        kwargs: Dict,
        details: Dict,
    ) {
        let Some(entry) = self.registrations.get(&registration) else {
            let _ = self.session.yield_error(
                request,
                "wamp.error.no_such_registration",
                Vec::new(),
                Dict::new(),
            );
            return;
        };
        let Some(tx) = self.self_tx.upgrade() else {
            return;
        };
        let procedure = details
            .get("procedure")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| entry.procedure.clone());
        let receive_progress = details
            .get("receive_progress")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let invocation = Invocation {
            request,
            registration,
            procedure,
            args,
            kwargs,
            details,
            progress: receive_progress.then(|| tx.clone()),
        };
        let (interrupt_tx, interrupt_rx) = oneshot::channel::<()>();
        self.invocations.insert(request, interrupt_tx);
        let handler = entry.handler.clone();
        let span = tracing::debug_span!("invocation", request, procedure = %invocation.procedure);
        tokio::spawn(
            async move {
                let outcome = tokio::select! {
                    result = handler(invocation) => result,
                    _ = interrupt_rx => Err(InvocationError::new(InvocationError::CANCELED)),
                };
                let _ = tx
                    .send(Command::Yield {
                        invocation: request,
                        outcome: YieldOutcome::Final(outcome),
                    })
                    .await;
            }
            .instrument(span),
        );
    }

    fn on_event(
        &mut self,
        subscription: u64,
        publication: u64,
        args: Vec<Value>,
        kwargs: Dict,
        details: Dict,
    ) {
        let Some(entry) = self.subscriptions.get_mut(&subscription) else {
            trace!(subscription, "event for a subscription we no longer have");
            return;
        };
        let topic = details
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| entry.topic.clone());
        let event = Event {
            subscription,
            publication,
            topic,
            args,
            kwargs,
            details,
        };
        // Unbounded so a slow handler never blocks the driver (and can itself call through it).
        entry
            .sinks
            .retain(|(_, sink)| sink.send(event.clone()).is_ok());
    }

    /// Fails everything still waiting: the connection is gone.
    fn fail_all(&mut self) {
        for (_, p) in self.calls.drain() {
            p.reply.fail(Error::ConnectionLost);
        }
        for (_, (_, _, reply)) in self.registers.drain() {
            let _ = reply.send(Err(Error::ConnectionLost));
        }
        for (_, (_, reply)) in self.unregisters.drain() {
            let _ = reply.send(Err(Error::ConnectionLost));
        }
        for (_, (_, _, reply)) in self.subscribes.drain() {
            let _ = reply.send(Err(Error::ConnectionLost));
        }
        for (_, reply) in self.unsubscribes.drain() {
            let _ = reply.send(Err(Error::ConnectionLost));
        }
        for (_, reply) in self.publishes.drain() {
            let _ = reply.send(Err(Error::ConnectionLost));
        }
        if let Some((reply, _)) = self.leave.take() {
            let _ = reply.send(Ok(()));
        }
        self.call_tokens.clear();
        self.invocations.clear();
        self.subscriptions.clear();
        self.registrations.clear();
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            fail_command(cmd);
        }
    }
}

/// Answers a command that will never be served.
pub(crate) fn fail_command(cmd: Command) {
    match cmd {
        Command::Call { reply, .. } => reply.fail(Error::NotConnected),
        Command::Register { reply, .. } => {
            let _ = reply.send(Err(Error::NotConnected));
        }
        Command::Unregister { reply, .. } | Command::Unsubscribe { reply, .. } => {
            let _ = reply.send(Err(Error::NotConnected));
        }
        Command::Subscribe { reply, .. } => {
            let _ = reply.send(Err(Error::NotConnected));
        }
        Command::Publish { reply, .. } => {
            let _ = reply.send(Err(Error::NotConnected));
        }
        Command::Leave { reply, .. } => {
            let _ = reply.send(Ok(()));
        }
        Command::CancelCall { .. } | Command::Yield { .. } => {}
    }
}

/// Why a payload cannot be encoded with `serializer`, if it cannot (bignums in MsgPack,
/// non-finite floats in JSON).
fn unencodable(serializer: Serializer, args: &[Value], kwargs: &Dict) -> Option<&'static str> {
    fn walk(serializer: Serializer, v: &Value) -> Option<&'static str> {
        match v {
            Value::BigUInt(_) if serializer == Serializer::MsgPack => {
                Some("integer beyond u64 in MsgPack")
            }
            Value::Float(f) if serializer == Serializer::Json && !f.is_finite() => {
                Some("non-finite float in JSON")
            }
            Value::List(items) => items.iter().find_map(|i| walk(serializer, i)),
            Value::Dict(map) => map.values().find_map(|i| walk(serializer, i)),
            _ => None,
        }
    }
    args.iter()
        .chain(kwargs.values())
        .find_map(|v| walk(serializer, v))
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unencodable_payloads_are_found() {
        let big = Value::from_u128(35_000_000_000_000_000_000);
        let nested = vec![Value::List(vec![Value::Dict(Dict::from_iter([(
            "x".to_string(),
            big,
        )]))])];
        assert!(unencodable(Serializer::MsgPack, &nested, &Dict::new()).is_some());
        assert!(unencodable(Serializer::Cbor, &nested, &Dict::new()).is_none());
        assert!(unencodable(Serializer::Json, &nested, &Dict::new()).is_none());
        let nan = Dict::from_iter([("f".to_string(), Value::Float(f64::NAN))]);
        assert!(unencodable(Serializer::Json, &[], &nan).is_some());
        assert!(unencodable(Serializer::Cbor, &[], &nan).is_none());
    }
}

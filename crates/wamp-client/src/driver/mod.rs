//! The connection driver: one task per connection owns the socket and the sans-IO session.
//!
//! Handles talk to it over a bounded channel of [`Command`]s and get replies over oneshot
//! channels. The driver feeds received messages into [`wamp_proto::session::Session`], writes
//! what the session wants sent (one encode per message) and the auto-pings it asks for, sleeps
//! until the session's next deadline ([`ProtoSession::poll_timeout`]) and hands the time back
//! ([`ProtoSession::handle_timeout`]); it keeps no deadline of its own. Session events are routed
//! to the waiting requests, procedure handlers run as tasks, events go to subscription tasks.
//! No lock is held across an await.
//!
//! Modules: `join` (connect and join), `commands` (requests from handles), `events` (session
//! events to waiting requests and handlers).

mod commands;
mod events;
mod join;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, trace, warn};
use wamp_proto::session::{CallTimeout, Session as ProtoSession};
use wamp_proto::{Dict, Message, Serializer, Value};

use crate::error::{Error, TransportError};
use crate::options::CancelMode;
use crate::transport::{Connection, Incoming};
use crate::types::{CallResult, Event, ProcedureHandler, YieldOutcome};

pub(crate) use join::{Joined, connect_and_join, join_on};

/// Capacity of the command channel from handles to the driver.
const COMMAND_CAPACITY: usize = 256;

/// Where the reply to a call goes.
pub(crate) enum CallReply {
    /// A plain call: one final result.
    Once(oneshot::Sender<Result<CallResult, Error>>),
    /// A progressive call: progress items, then the final result (`progress == false`). Bounded
    /// at [`crate::session::PROGRESS_QUEUE`] progress items plus one slot kept for the final one.
    Progressive(mpsc::Sender<Result<(CallResult, bool), Error>>),
}

impl CallReply {
    fn fail(self, err: Error) {
        match self {
            CallReply::Once(tx) => {
                let _ = tx.send(Err(err));
            }
            CallReply::Progressive(tx) => {
                let _ = tx.try_send(Err(err));
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
        /// Client-side limit, kept by the session core.
        timeout: Option<CallTimeout>,
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
        sink: mpsc::Sender<Event>,
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
        /// Events dropped because their payload could not be decoded or their subscription's
        /// queue was full.
        dropped_events: Arc<AtomicU64>,
        /// Invocations refused because [`crate::session::INVOCATIONS_IN_FLIGHT`] were running.
        refused_invocations: Arc<AtomicU64>,
        /// Progressive calls cancelled because their caller fell
        /// [`crate::session::PROGRESS_QUEUE`] results behind.
        progress_overflows: Arc<AtomicU64>,
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

pub(crate) fn to_proto_cancel_mode(mode: CancelMode) -> wamp_proto::session::CancelMode {
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

type PendingRegister = (
    String,
    ProcedureHandler,
    oneshot::Sender<Result<u64, Error>>,
);
type PendingSubscribe = (
    String,
    mpsc::Sender<Event>,
    oneshot::Sender<Result<(u64, u64), Error>>,
);

struct PendingCall {
    token: u64,
    reply: CallReply,
}

struct SubscriptionEntry {
    topic: String,
    sinks: Vec<(u64, mpsc::Sender<Event>)>,
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
    /// Who waits for our leave to complete.
    leave: Option<oneshot::Sender<Result<(), Error>>>,
    /// Events dropped because their payload could not be decoded or their subscription's queue
    /// was full (read by the handles).
    dropped_events: Arc<AtomicU64>,
    /// Invocations refused because too many were running (read by the handles).
    refused_invocations: Arc<AtomicU64>,
    /// Progressive calls cancelled because their caller fell behind (read by the handles).
    progress_overflows: Arc<AtomicU64>,
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
        dropped_events: Arc::new(AtomicU64::new(0)),
        refused_invocations: Arc::new(AtomicU64::new(0)),
        progress_overflows: Arc::new(AtomicU64::new(0)),
    };
    link.send_replace(Link::Up {
        tx,
        info,
        dropped_events: driver.dropped_events.clone(),
        refused_invocations: driver.refused_invocations.clone(),
        progress_overflows: driver.progress_overflows.clone(),
    });
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
            let deadline = self.session.poll_timeout().map(Instant::from_std);
            let step = tokio::select! {
                incoming = self.conn.recv() => self.on_incoming(incoming).await,
                cmd = self.commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    // Only reachable when every handle and the link are gone.
                    None => {
                        let _ = self.session.leave(now(), "wamp.close.normal");
                        self.leave = Some(oneshot::channel().0);
                        Step::Continue
                    }
                },
                () = sleep_until_opt(deadline) => {
                    self.session.handle_timeout(now());
                    Step::Continue
                }
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

    async fn on_incoming(&mut self, incoming: Result<Incoming, TransportError>) -> Step {
        match incoming {
            Err(e) => Step::Stop(Disconnect::Failed(e.into())),
            Ok(Incoming::Closed) => Step::Stop(Disconnect::Failed(TransportError::Closed.into())),
            Ok(Incoming::Ping(payload)) => match self.conn.send_pong(payload).await {
                Ok(()) => Step::Continue,
                Err(e) => Step::Stop(Disconnect::Failed(e.into())),
            },
            Ok(Incoming::Pong(payload)) => {
                self.session.handle_pong(&payload);
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

    /// Sends what the session queued (auto-pings first). Encode or size errors fail the request
    /// that produced the message, not the connection.
    async fn flush(&mut self) -> Result<(), Error> {
        while let Some(payload) = self.session.poll_ping() {
            trace!(?payload, "auto-ping");
            self.conn.send_ping(payload.to_vec()).await?;
        }
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
        if let Message::Call { request, .. }
        | Message::Publish { request, .. }
        | Message::Register { request, .. }
        | Message::Subscribe { request, .. } = msg
        {
            // Never sent: no answer, timeout or CANCEL may follow.
            self.session.abandon(*request);
        }
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
        if let Some(reply) = self.leave.take() {
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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The time the session core is told: tokio's clock (paused in tests), as a std instant.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

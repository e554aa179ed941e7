//! The component runner: connect, join, re-establish, reconnect with backoff — Autobahn's
//! `Component` in tokio.
//!
//! A [`Component`] holds a list of transports tried in turn, the realm and credentials, and the
//! registrations and subscriptions it declares. [`Component::start`] runs it as a task:
//!
//! 1. pick the next transport that still has retries left (round robin; a transport whose
//!    `max_retries` are used up drops out; when none is left the component fails);
//! 2. wait its backoff delay (none for the first attempt), connect, join;
//! 3. register and subscribe everything declared, **with its options**, on every join
//!    (including the first), then emit [`LifecycleEvent::Ready`];
//! 4. on disconnect emit [`LifecycleEvent::Disconnected`]; if the session had been joined for at
//!    least [`Component::stable_after`], forget the transport's past failures (reset its backoff);
//!    go to 1 (same transport first).
//!
//! An authentication failure stops the component (unless [`Component::retry_on_auth_failure`]),
//! as does a [`Session::leave`] or [`RunningComponent::shutdown`].
//!
//! ```no_run
//! use wamp_client::{Component, InvocationResult, LifecycleEvent, RegisterOptions, TransportConfig};
//! use wamp_proto::auth::ClientAuth;
//! use wamp_proto::Value;
//!
//! # async fn example() -> Result<(), wamp_client::Error> {
//! let component = Component::new("realm1", ClientAuth::anonymous())
//!     .transport(TransportConfig::new("ws://127.0.0.1:8080/ws"))
//!     .transport(TransportConfig::new("rs://127.0.0.1:8081"))
//!     .register("com.example.echo", RegisterOptions::default(), |inv| async move {
//!         Ok(InvocationResult::new(inv.args, inv.kwargs))
//!     });
//! let mut events = component.events();
//! let running = component.start();
//! while let Ok(event) = events.recv().await {
//!     if let LifecycleEvent::Ready { .. } = event {
//!         let out = running.session().call("com.example.echo", vec![Value::from(1)], Default::default(), Default::default()).await?;
//!         assert_eq!(out.args, vec![Value::from(1)]);
//!         break;
//!     }
//! }
//! running.shutdown().await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};
use wamp_proto::Dict;
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;

use crate::backoff::{Backoff, Jitter};
use crate::driver::{self, Disconnect, Link};
use crate::error::Error;
use crate::options::{RegisterOptions, SubscribeOptions};
use crate::session::Session;
use crate::transport::{self, TransportConfig};
use crate::types::{
    Event, EventHandler, Invocation, InvocationError, InvocationResult, ProcedureHandler,
    event_handler, procedure_handler,
};

/// Something that happened in a component's life. Sent on a broadcast channel
/// ([`Component::events`]); slow receivers may miss events (they get `Lagged`).
#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    /// A connection attempt is about to wait `delay` (backoff) before connecting.
    Waiting {
        /// Transport URL.
        url: String,
        /// Connect attempts on this transport since its backoff was last reset (this one included).
        attempt: u32,
        /// Backoff delay before the attempt.
        delay: Duration,
    },
    /// The transport connected (before the WAMP join).
    Connected {
        /// Transport URL.
        url: String,
    },
    /// Connecting or joining failed.
    ConnectFailed {
        /// Transport URL.
        url: String,
        /// What went wrong.
        error: String,
    },
    /// The session joined the realm.
    Joined {
        /// Session id.
        session_id: u64,
        /// WELCOME details.
        details: Dict,
    },
    /// Every declared registration and subscription was (re-)established.
    Ready {
        /// Session id.
        session_id: u64,
        /// Declared registrations/subscriptions that failed, as `"uri: error"`.
        failures: Vec<String>,
    },
    /// The session ended by a GOODBYE (ours or the router's).
    Left {
        /// The GOODBYE reason.
        reason: String,
    },
    /// The connection is gone; the component reconnects unless it is stopping.
    Disconnected {
        /// Why.
        reason: String,
        /// Whether the session ended with a GOODBYE exchange.
        was_clean: bool,
    },
    /// The component stopped for good (shut down, left, retries used up or authentication
    /// failed).
    Stopped {
        /// Why.
        reason: String,
    },
}

struct DeclaredRegistration {
    procedure: String,
    options: RegisterOptions,
    handler: ProcedureHandler,
}

struct DeclaredSubscription {
    topic: String,
    options: SubscribeOptions,
    handler: EventHandler,
}

/// A WAMP component: transports, realm, credentials and the registrations/subscriptions it
/// keeps alive across reconnects.
pub struct Component {
    transports: Vec<TransportConfig>,
    realm: String,
    auth: ClientAuth,
    max_message_size: Option<usize>,
    retry_on_auth_failure: bool,
    stable_after: Duration,
    jitter: Jitter,
    registrations: Vec<DeclaredRegistration>,
    subscriptions: Vec<DeclaredSubscription>,
    events: broadcast::Sender<LifecycleEvent>,
}

impl std::fmt::Debug for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Component")
            .field("realm", &self.realm)
            .field("transports", &self.transports)
            .field("registrations", &self.registrations.len())
            .field("subscriptions", &self.subscriptions.len())
            .finish()
    }
}

impl Component {
    /// A component joining `realm` with `auth`; add transports with [`Component::transport`].
    pub fn new(realm: impl Into<String>, auth: ClientAuth) -> Self {
        let (events, _) = broadcast::channel(256);
        Component {
            transports: Vec::new(),
            realm: realm.into(),
            auth,
            max_message_size: None,
            retry_on_auth_failure: false,
            stable_after: Duration::from_secs(10),
            jitter: Jitter::random(),
            registrations: Vec::new(),
            subscriptions: Vec::new(),
            events,
        }
    }

    /// Adds a transport (tried in the order added).
    pub fn transport(mut self, transport: TransportConfig) -> Self {
        self.transports.push(transport);
        self
    }

    /// Keeps retrying after an authentication failure (default: stop, since wrong credentials
    /// do not get better by retrying).
    pub fn retry_on_auth_failure(mut self, retry: bool) -> Self {
        self.retry_on_auth_failure = retry;
        self
    }

    /// How long a session must stay joined before a transport's backoff is reset (default 10 s).
    pub fn stable_after(mut self, duration: Duration) -> Self {
        self.stable_after = duration;
        self
    }

    /// The jitter source for backoff delays (default random; inject a fixed one in tests).
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the session's maximum message size (default: the protocol layer's).
    pub fn max_message_size(mut self, size: usize) -> Self {
        self.max_message_size = Some(size);
        self
    }

    /// Declares a procedure registered on every join.
    pub fn register<F, Fut>(
        mut self,
        procedure: impl Into<String>,
        options: RegisterOptions,
        handler: F,
    ) -> Self
    where
        F: Fn(Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<InvocationResult, InvocationError>> + Send + 'static,
    {
        self.registrations.push(DeclaredRegistration {
            procedure: procedure.into(),
            options,
            handler: procedure_handler(handler),
        });
        self
    }

    /// Declares a subscription made on every join.
    pub fn subscribe<F, Fut>(
        mut self,
        topic: impl Into<String>,
        options: SubscribeOptions,
        handler: F,
    ) -> Self
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.subscriptions.push(DeclaredSubscription {
            topic: topic.into(),
            options,
            handler: event_handler(handler),
        });
        self
    }

    /// A receiver of lifecycle events; take it before [`Component::start`] to see them all.
    pub fn events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.events.subscribe()
    }

    /// Starts the component as a task.
    pub fn start(self) -> RunningComponent {
        let (link_tx, link_rx) = watch::channel(Link::Down);
        let (stop_tx, stop_rx) = watch::channel(false);
        let session = Session::from_link(link_rx);
        let events = self.events.clone();
        let runner_session = session.clone();
        let task = tokio::spawn(async move { self.run(link_tx, runner_session, stop_rx).await });
        RunningComponent {
            session,
            events,
            stop: stop_tx,
            task,
        }
    }

    fn emit(&self, event: LifecycleEvent) {
        let _ = self.events.send(event);
    }

    fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::new(self.realm.clone(), self.auth.clone());
        if let Some(max) = self.max_message_size {
            config.max_message_size = max;
        }
        config
    }

    async fn run(
        self,
        link: watch::Sender<Link>,
        session: Session,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let result = self.run_loop(&link, &session, &mut stop).await;
        let reason = match &result {
            Ok(()) => "stopped".to_string(),
            Err(e) => e.to_string(),
        };
        self.emit(LifecycleEvent::Stopped { reason });
        result
    }

    async fn run_loop(
        &self,
        link: &watch::Sender<Link>,
        session: &Session,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), Error> {
        if self.transports.is_empty() {
            return Err(Error::Config("component has no transport".into()));
        }
        let mut backoffs: Vec<Backoff> = self
            .transports
            .iter()
            .map(|t| Backoff::new(t.retry.clone()))
            .collect();
        let mut exhausted = vec![false; self.transports.len()];
        let mut next = 0usize;
        let mut last_error: Option<Error> = None;
        loop {
            let Some(index) = (0..self.transports.len())
                .map(|k| (next + k) % self.transports.len())
                .find(|&i| !exhausted[i])
            else {
                return Err(last_error.unwrap_or(Error::NotConnected));
            };
            let transport = &self.transports[index];
            let Some(delay) = backoffs[index].next_delay(&self.jitter) else {
                exhausted[index] = true;
                continue;
            };
            if !delay.is_zero() {
                self.emit(LifecycleEvent::Waiting {
                    url: transport.url.clone(),
                    attempt: backoffs[index].attempts(),
                    delay,
                });
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stopped(stop) => return Ok(()),
                }
            }
            let attempt = async {
                let conn = transport::connect(transport).await?;
                self.emit(LifecycleEvent::Connected {
                    url: transport.url.clone(),
                });
                driver::join_on(conn, transport, self.session_config()).await
            };
            let joined = tokio::select! {
                r = attempt => r,
                () = stopped(stop) => return Ok(()),
            };
            let joined = match joined {
                Ok(j) => j,
                Err(e) => {
                    warn!(url = %transport.url, error = %e, "connect failed");
                    self.emit(LifecycleEvent::ConnectFailed {
                        url: transport.url.clone(),
                        error: e.to_string(),
                    });
                    if e.is_authentication_failure() && !self.retry_on_auth_failure {
                        return Err(e);
                    }
                    last_error = Some(e);
                    next = index + 1;
                    continue;
                }
            };
            let joined_at = Instant::now();
            let info = joined.info.clone();
            info!(session_id = info.session_id, url = %info.url, "joined");
            let mut driver_task = driver::spawn(joined, link.clone());
            self.emit(LifecycleEvent::Joined {
                session_id: info.session_id,
                details: info.details.clone(),
            });
            let failures = self.establish(session).await;
            self.emit(LifecycleEvent::Ready {
                session_id: info.session_id,
                failures,
            });
            let (disconnect, stopping) = tokio::select! {
                d = &mut driver_task => (d, false),
                () = stopped(stop) => {
                    let _ = session.leave().await;
                    (driver_task.await, true)
                }
            };
            let disconnect = disconnect.unwrap_or_else(|e| {
                Disconnect::Failed(Error::Protocol(format!("driver task failed: {e}")))
            });
            if let Disconnect::Left { reason } | Disconnect::ClosedByRouter { reason } = &disconnect
            {
                self.emit(LifecycleEvent::Left {
                    reason: reason.clone(),
                });
            }
            self.emit(LifecycleEvent::Disconnected {
                reason: disconnect.to_string(),
                was_clean: disconnect.was_clean(),
            });
            if stopping || matches!(disconnect, Disconnect::Left { .. }) {
                return Ok(());
            }
            if joined_at.elapsed() >= self.stable_after {
                backoffs[index].reset();
            }
            if let Disconnect::Failed(e) = disconnect {
                last_error = Some(e);
            }
            next = index;
        }
    }

    /// Registers and subscribes everything declared; returns what failed.
    async fn establish(&self, session: &Session) -> Vec<String> {
        let mut failures = Vec::new();
        for r in &self.registrations {
            if let Err(e) = session
                .register_handler(&r.procedure, r.options.clone(), r.handler.clone())
                .await
            {
                warn!(procedure = %r.procedure, error = %e, "declared registration failed");
                failures.push(format!("{}: {e}", r.procedure));
            }
        }
        for s in &self.subscriptions {
            if let Err(e) = session
                .subscribe_handler(&s.topic, s.options.clone(), s.handler.clone())
                .await
            {
                warn!(topic = %s.topic, error = %e, "declared subscription failed");
                failures.push(format!("{}: {e}", s.topic));
            }
        }
        failures
    }
}

/// A started component.
pub struct RunningComponent {
    session: Session,
    events: broadcast::Sender<LifecycleEvent>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), Error>>,
}

impl std::fmt::Debug for RunningComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningComponent")
            .field("session", &self.session)
            .finish()
    }
}

impl RunningComponent {
    /// A session handle that follows the component across reconnects.
    pub fn session(&self) -> Session {
        self.session.clone()
    }

    /// A receiver of further lifecycle events.
    pub fn events(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.events.subscribe()
    }

    /// Leaves the session (GOODBYE), stops reconnecting and waits for the runner to end.
    pub async fn shutdown(self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the component stops by itself (leave, retries used up, authentication
    /// failure). Returns the error that stopped it, if any.
    pub async fn wait(self) -> Result<(), Error> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(Error::Protocol(format!("component task failed: {e}"))),
        }
    }
}

/// Resolves when a stop is requested (or the component handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

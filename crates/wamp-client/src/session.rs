//! The cheap, cloneable session handle.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot, watch};
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Value};

use crate::driver::{self, CallReply, Command, Link, SessionInfo};
use crate::error::Error;
use crate::options::{CallOptions, CancelMode, PublishOptions, RegisterOptions, SubscribeOptions};
use crate::transport::{Connection, TransportConfig};

/// Events queued per subscription while its handler is busy; beyond this the driver drops the
/// newest and counts it in [`Session::dropped_events`] (any publisher on the realm can send).
pub const SUBSCRIPTION_QUEUE: usize = 1024;

/// Invocations of this session's procedures running at once; beyond this an INVOCATION is
/// answered at once with `wamp.error.unavailable` and counted in
/// [`Session::refused_invocations`] (any caller on the realm can call).
pub const INVOCATIONS_IN_FLIGHT: usize = 1024;

/// Progressive results queued per call while the caller does not read them; a callee that runs
/// further ahead gets the call cancelled, and the caller gets [`Error::Overflow`] (a callee
/// decides how many results it sends, so the caller's memory must not depend on it).
pub const PROGRESS_QUEUE: usize = 1024;
use crate::types::{
    CallResult, Event, EventHandler, Invocation, InvocationError, InvocationResult, event_handler,
    procedure_handler,
};

/// A handle to a WAMP session: call, register, subscribe, publish, leave.
///
/// Cloning is cheap; all clones talk to the same connection driver. A handle obtained from a
/// [`crate::Component`] follows the component across reconnects. While no session is joined every
/// request fails at once with [`Error::NotConnected`].
///
/// A session made by [`Session::connect`] lives until [`Session::leave`] or until the connection
/// fails; dropping the handles does not close it.
///
/// ```no_run
/// use wamp_client::{CallOptions, Session, TransportConfig};
/// use wamp_proto::auth::ClientAuth;
/// use wamp_proto::session::SessionConfig;
/// use wamp_proto::{Dict, Value};
///
/// # async fn example() -> Result<(), wamp_client::Error> {
/// let transport = TransportConfig::new("ws://127.0.0.1:8080/ws");
/// let session = Session::connect(&transport, SessionConfig::new("realm1", ClientAuth::anonymous())).await?;
/// let sum = session
///     .call("com.example.add", vec![Value::from(2), Value::from(3)], Dict::new(), CallOptions::default())
///     .await?;
/// assert_eq!(sum.args, vec![Value::from(5)]);
/// session.leave().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    link: watch::Receiver<Link>,
    tokens: Arc<AtomicU64>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("info", &self.info())
            .finish()
    }
}

impl Session {
    pub(crate) fn from_link(link: watch::Receiver<Link>) -> Self {
        Session {
            link,
            tokens: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Connects to a router and joins a realm: one session, no reconnect (use a
    /// [`crate::Component`] for that).
    pub async fn connect(
        transport: &TransportConfig,
        config: SessionConfig,
    ) -> Result<Session, Error> {
        let joined = driver::connect_and_join(transport, config).await?;
        Ok(Self::drive(joined))
    }

    /// Joins a realm over an already established connection (e.g. [`Connection::rawsocket`]
    /// over an in-process pipe): one session, no reconnect. `transport` gives the join timeout
    /// (its connect timeout) and auto-ping; its URL only names the peer.
    pub async fn join_on(
        conn: Connection,
        transport: &TransportConfig,
        config: SessionConfig,
    ) -> Result<Session, Error> {
        let joined = driver::join_on(conn, transport, config).await?;
        Ok(Self::drive(joined))
    }

    fn drive(joined: driver::Joined) -> Session {
        let (link_tx, link_rx) = watch::channel(Link::Down);
        // The driver owns the sender; the link goes down when the driver ends.
        drop(driver::spawn(joined, link_tx));
        Session::from_link(link_rx)
    }

    fn sender(&self) -> Result<mpsc::Sender<Command>, Error> {
        match &*self.link.borrow() {
            Link::Up { tx, .. } => Ok(tx.clone()),
            Link::Down => Err(Error::NotConnected),
        }
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Command,
    ) -> Result<T, Error> {
        let tx = self.sender()?;
        let (reply_tx, reply_rx) = oneshot::channel();
        tx.send(make(reply_tx)).await.map_err(|e| {
            driver::fail_command(e.0);
            Error::NotConnected
        })?;
        reply_rx.await.map_err(|_| Error::ConnectionLost)?
    }

    /// Facts about the joined session, or `None` while not joined.
    pub fn info(&self) -> Option<Arc<SessionInfo>> {
        match &*self.link.borrow() {
            Link::Up { info, .. } => Some(info.clone()),
            Link::Down => None,
        }
    }

    /// The session id, or `None` while not joined.
    pub fn session_id(&self) -> Option<u64> {
        self.info().map(|i| i.session_id)
    }

    /// How many events the joined session dropped because their payload could not be decoded
    /// (say a value this client cannot represent) or their subscription's queue
    /// ([`SUBSCRIPTION_QUEUE`]) was full; 0 while not joined. Counts per joined
    /// session: a [`crate::Component`] starts again from 0 after a reconnect.
    pub fn dropped_events(&self) -> u64 {
        match &*self.link.borrow() {
            Link::Up { dropped_events, .. } => dropped_events.load(Ordering::Relaxed),
            Link::Down => 0,
        }
    }

    /// How many invocations the joined session refused because [`INVOCATIONS_IN_FLIGHT`] were
    /// running; 0 while not joined. Counts per joined session, like [`Session::dropped_events`].
    pub fn refused_invocations(&self) -> u64 {
        match &*self.link.borrow() {
            Link::Up {
                refused_invocations,
                ..
            } => refused_invocations.load(Ordering::Relaxed),
            Link::Down => 0,
        }
    }

    /// How many progressive calls the joined session cancelled because their caller fell
    /// [`PROGRESS_QUEUE`] results behind; 0 while not joined. Counts per joined session, like
    /// [`Session::dropped_events`].
    pub fn progress_overflows(&self) -> u64 {
        match &*self.link.borrow() {
            Link::Up {
                progress_overflows, ..
            } => progress_overflows.load(Ordering::Relaxed),
            Link::Down => 0,
        }
    }

    /// Whether a session is joined right now.
    pub fn is_connected(&self) -> bool {
        matches!(&*self.link.borrow(), Link::Up { .. })
    }

    /// Waits until no session is joined (the connection of a plain [`Session::connect`] ended,
    /// or a component is between sessions).
    pub async fn closed(&self) {
        let mut link = self.link.clone();
        let _ = link.wait_for(|l| matches!(l, Link::Down)).await;
    }

    /// Calls a procedure and waits for its final result.
    ///
    /// With [`CallOptions::timeout`] set, the call fails with [`Error::Timeout`] when no result came
    /// in time, and a CANCEL is sent. Dropping the returned future before it completes also sends
    /// a CANCEL (mode [`CallOptions::cancel_mode`]). An ERROR from the callee or router comes back
    /// as [`Error::Wamp`] with its URI, args and kwargs.
    pub async fn call(
        &self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: CallOptions,
    ) -> Result<CallResult, Error> {
        let tx = self.sender()?;
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        let (reply_tx, reply_rx) = oneshot::channel();
        let cmd = Command::Call {
            procedure: procedure.to_string(),
            args,
            kwargs,
            options: options.to_dict(false),
            timeout: options.call_timeout(),
            token,
            reply: CallReply::Once(reply_tx),
        };
        tx.send(cmd).await.map_err(|e| {
            driver::fail_command(e.0);
            Error::NotConnected
        })?;
        let mut guard = CancelGuard {
            tx: Some(tx),
            token,
            mode: options.cancel_mode,
        };
        // The session core keeps the timeout: it sends the CANCEL and answers Error::Timeout.
        let outcome = reply_rx.await;
        guard.disarm();
        outcome.map_err(|_| Error::ConnectionLost)?
    }

    /// Calls a procedure asking for progressive results.
    ///
    /// The returned [`ProgressiveCall`] yields each progressive result, then the final one.
    /// [`ProgressiveCall::cancel`] or dropping it before the final result sends a CANCEL.
    ///
    /// ```no_run
    /// # async fn example(session: wamp_client::Session) -> Result<(), wamp_client::Error> {
    /// use wamp_client::CallOptions;
    /// let mut call = session
    ///     .call_progressive("com.example.count", vec![], Default::default(), CallOptions::default())
    ///     .await?;
    /// while let Some(item) = call.next().await {
    ///     let (result, is_progress) = item?;
    ///     println!("{:?} (progress: {is_progress})", result.args);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn call_progressive(
        &self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: CallOptions,
    ) -> Result<ProgressiveCall, Error> {
        let tx = self.sender()?;
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        // One slot more than the progress bound: the final item always fits.
        let (items_tx, items_rx) = mpsc::channel(PROGRESS_QUEUE + 1);
        let cmd = Command::Call {
            procedure: procedure.to_string(),
            args,
            kwargs,
            options: options.to_dict(true),
            timeout: options.call_timeout(),
            token,
            reply: CallReply::Progressive(items_tx),
        };
        tx.send(cmd).await.map_err(|e| {
            driver::fail_command(e.0);
            Error::NotConnected
        })?;
        Ok(ProgressiveCall {
            items: items_rx,
            guard: CancelGuard {
                tx: Some(tx),
                token,
                mode: options.cancel_mode,
            },
            done: false,
        })
    }

    /// Registers a procedure. The handler runs as its own task per invocation; it may send
    /// progressive results with [`Invocation::progress`]. When the caller cancels, the handler's
    /// future is dropped and the caller gets `wamp.error.canceled`.
    ///
    /// ```no_run
    /// # async fn example(session: wamp_client::Session) -> Result<(), wamp_client::Error> {
    /// use wamp_client::{InvocationError, InvocationResult, RegisterOptions};
    /// use wamp_proto::Value;
    /// let reg = session
    ///     .register("com.example.add", RegisterOptions::default(), |inv| async move {
    ///         match (inv.args.first().and_then(Value::as_i64), inv.args.get(1).and_then(Value::as_i64)) {
    ///             (Some(a), Some(b)) => Ok(InvocationResult::args(vec![Value::from(a + b)])),
    ///             _ => Err(InvocationError::message("com.example.error.bad_args", "two integers expected")),
    ///         }
    ///     })
    ///     .await?;
    /// reg.unregister().await?;
    /// # Ok(()) }
    /// ```
    pub async fn register<F, Fut>(
        &self,
        procedure: &str,
        options: RegisterOptions,
        handler: F,
    ) -> Result<Registration, Error>
    where
        F: Fn(Invocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<InvocationResult, InvocationError>> + Send + 'static,
    {
        self.register_handler(procedure, options, procedure_handler(handler))
            .await
    }

    /// [`Session::register`] with an already boxed handler.
    pub async fn register_handler(
        &self,
        procedure: &str,
        options: RegisterOptions,
        handler: crate::types::ProcedureHandler,
    ) -> Result<Registration, Error> {
        let id = self
            .request(|reply| Command::Register {
                procedure: procedure.to_string(),
                options: options.to_dict(),
                handler,
                reply,
            })
            .await?;
        Ok(Registration {
            id,
            procedure: procedure.to_string(),
            session: self.clone(),
        })
    }

    /// Subscribes to a topic. The handler is called once per event, in the order received, on a
    /// task of its own (a slow handler delays only its own subscription).
    ///
    /// ```no_run
    /// # async fn example(session: wamp_client::Session) -> Result<(), wamp_client::Error> {
    /// use wamp_client::SubscribeOptions;
    /// let sub = session
    ///     .subscribe("com.example.tick", SubscribeOptions::default(), |event| async move {
    ///         println!("{} from {:?}: {:?}", event.topic, event.publisher(), event.args);
    ///     })
    ///     .await?;
    /// sub.unsubscribe().await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe<F, Fut>(
        &self,
        topic: &str,
        options: SubscribeOptions,
        handler: F,
    ) -> Result<Subscription, Error>
    where
        F: Fn(Event) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.subscribe_handler(topic, options, event_handler(handler))
            .await
    }

    /// [`Session::subscribe`] with an already boxed handler.
    pub async fn subscribe_handler(
        &self,
        topic: &str,
        options: SubscribeOptions,
        handler: EventHandler,
    ) -> Result<Subscription, Error> {
        let (sink, mut events) = mpsc::channel::<Event>(SUBSCRIPTION_QUEUE);
        let (id, local) = self
            .request(|reply| Command::Subscribe {
                topic: topic.to_string(),
                options: options.to_dict(),
                sink,
                reply,
            })
            .await?;
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                handler(event).await;
            }
        });
        Ok(Subscription {
            id,
            local,
            topic: topic.to_string(),
            session: self.clone(),
        })
    }

    /// Publishes an event. With [`PublishOptions::acknowledge`] this waits for the router and
    /// returns the publication id (or the router's error); otherwise it returns `None` once the
    /// PUBLISH is handed to the driver.
    pub async fn publish(
        &self,
        topic: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: PublishOptions,
    ) -> Result<Option<u64>, Error> {
        self.request(|reply| Command::Publish {
            topic: topic.to_string(),
            args,
            kwargs,
            options: options.to_dict(),
            acknowledge: options.acknowledge,
            reply,
        })
        .await
    }

    /// Leaves the realm (GOODBYE `wamp.close.normal`, waiting for the router's answer up to the
    /// session's leave timeout, 5 s by default)
    /// and closes the connection. A component stops instead of reconnecting.
    pub async fn leave(&self) -> Result<(), Error> {
        self.leave_with_reason("wamp.close.normal").await
    }

    /// [`Session::leave`] with a reason URI of your own.
    pub async fn leave_with_reason(&self, reason: &str) -> Result<(), Error> {
        match self
            .request(|reply| Command::Leave {
                reason: reason.to_string(),
                reply,
            })
            .await
        {
            Err(Error::NotConnected) | Err(Error::ConnectionLost) => Ok(()),
            other => other,
        }?;
        self.closed().await;
        Ok(())
    }

    pub(crate) async fn unregister_id(&self, registration: u64) -> Result<(), Error> {
        self.request(|reply| Command::Unregister {
            registration,
            reply,
        })
        .await
    }

    pub(crate) async fn unsubscribe_id(&self, subscription: u64, local: u64) -> Result<(), Error> {
        self.request(|reply| Command::Unsubscribe {
            subscription,
            local,
            reply,
        })
        .await
    }
}

/// Sends a CANCEL for a call unless disarmed (the call completed).
struct CancelGuard {
    tx: Option<mpsc::Sender<Command>>,
    token: u64,
    mode: CancelMode,
}

impl CancelGuard {
    fn cancel(&mut self) {
        if let Some(tx) = self.tx.take() {
            // A full channel means a very busy driver; the router-side call then runs to its end
            // and its result is dropped.
            let _ = tx.try_send(Command::CancelCall {
                token: self.token,
                mode: self.mode,
            });
        }
    }

    fn disarm(&mut self) {
        self.tx = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A call with progressive results in flight.
pub struct ProgressiveCall {
    items: mpsc::Receiver<Result<(CallResult, bool), Error>>,
    guard: CancelGuard,
    done: bool,
}

impl std::fmt::Debug for ProgressiveCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressiveCall")
            .field("done", &self.done)
            .finish()
    }
}

impl ProgressiveCall {
    /// The next item: `Ok((result, true))` for a progressive result, `Ok((result, false))` for the
    /// final one, `Err` when the call failed (then the stream ends). `None` after the end.
    pub async fn next(&mut self) -> Option<Result<(CallResult, bool), Error>> {
        if self.done {
            return None;
        }
        // A timeout comes from the session core as Err(Error::Timeout), CANCEL already sent.
        let item = self
            .items
            .recv()
            .await
            .unwrap_or(Err(Error::ConnectionLost));
        if !matches!(item, Ok((_, true))) {
            self.done = true;
            self.guard.disarm();
        }
        Some(item)
    }

    /// Collects the progressive results and the final result.
    pub async fn collect(mut self) -> Result<(Vec<CallResult>, CallResult), Error> {
        let mut progress = Vec::new();
        while let Some(item) = self.next().await {
            match item? {
                (r, true) => progress.push(r),
                (r, false) => return Ok((progress, r)),
            }
        }
        Err(Error::ConnectionLost)
    }

    /// Cancels the call with the given mode; the final item will be the router's answer
    /// (usually `wamp.error.canceled`).
    pub fn cancel(&mut self, mode: CancelMode) {
        self.guard.mode = mode;
        if let Some(tx) = &self.guard.tx {
            let _ = tx.try_send(Command::CancelCall {
                token: self.guard.token,
                mode,
            });
        }
    }
}

/// A registered procedure. Dropping it keeps the registration; call
/// [`Registration::unregister`] to remove it.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Registration id from the router.
    pub id: u64,
    /// The registered URI.
    pub procedure: String,
    session: Session,
}

impl Registration {
    /// Removes the registration.
    pub async fn unregister(self) -> Result<(), Error> {
        self.session.unregister_id(self.id).await
    }
}

/// An active subscription. Dropping it keeps the subscription; call
/// [`Subscription::unsubscribe`] to remove it.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Subscription id from the router (shared by local subscriptions to the same topic).
    pub id: u64,
    local: u64,
    /// The subscribed URI.
    pub topic: String,
    session: Session,
}

impl Subscription {
    /// Removes the subscription (the router is told when the last local subscriber of the
    /// router subscription goes).
    pub async fn unsubscribe(self) -> Result<(), Error> {
        self.session.unsubscribe_id(self.id, self.local).await
    }
}

//! The one adapter between a [`Role`] and wamp-client: its declarations become the component's
//! declared registrations and subscriptions (replayed, with their options, on every join), and
//! [`AfterJoin`] runs the role's after-join step after each `Ready`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use wamp_client::{
    Component, Event, Invocation, InvocationError, InvocationResult, LifecycleEvent,
    RegisterOptions, Registration, Session, SubscribeOptions, Subscription,
};

use super::{Call, Declarations, Observer, ProcedureSpec, Role, RoleEvent, TopicSpec};
use crate::error::MarketError;
use crate::maker::CallerId;
use crate::peer::{BoxFuture, error_args, error_kwargs};

type InvocationFuture = BoxFuture<'static, Result<InvocationResult, InvocationError>>;

/// The wamp-client handler of a procedure: dispatches, reports to `observer`, maps errors to
/// the WAMP ERROR the reference sends.
pub fn invocation_handler(
    spec: ProcedureSpec,
    observer: Observer,
) -> impl Fn(Invocation) -> InvocationFuture + Send + Sync + 'static {
    move |inv| {
        let handler = Arc::clone(&spec.handler);
        let observer = Arc::clone(&observer);
        let procedure = spec.name;
        Box::pin(async move {
            // The session that really sent the call (see `CallerId::from_details`).
            let who = CallerId::from_details(&inv.details);
            let call = Call {
                caller: who.session,
                caller_authid: who.authid,
                caller_authrole: who.authrole,
                args: inv.args,
                kwargs: inv.kwargs,
            };
            let started = tokio::time::Instant::now();
            let outcome = handler(call).await;
            let elapsed = started.elapsed();
            match outcome {
                Ok((args, kwargs)) => {
                    observer.observe(RoleEvent::CallHandled { procedure, elapsed });
                    Ok(InvocationResult::new(args, kwargs))
                }
                Err(e) => {
                    observer.observe(RoleEvent::CallFailed {
                        procedure,
                        error: &e,
                        elapsed,
                    });
                    Err(invocation_error(&e))
                }
            }
        })
    }
}

/// A role error as the WAMP ERROR of an invocation.
pub fn invocation_error(e: &MarketError) -> InvocationError {
    InvocationError::with_payload(e.uri.to_string(), error_args(e), error_kwargs(e))
}

/// Events of one subscription handled at once; further events wait in the subscription's
/// bounded queue (wamp-client sheds and counts what does not fit), so no publisher can make the
/// role spawn without bound.
pub const EVENTS_IN_FLIGHT: usize = 64;

/// The wamp-client handler of a subscription: each event is handled in a task of its own (a
/// key purchase does not hold up events under keys already held), at most
/// [`EVENTS_IN_FLIGHT`] at once, and reported to `observer` unless it is a router meta event
/// (topic `wamp.*`: the role's own business, no data event).
pub fn event_handler(
    spec: TopicSpec,
    observer: Observer,
) -> impl Fn(Event) -> BoxFuture<'static, ()> + Send + Sync + 'static {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(EVENTS_IN_FLIGHT));
    let reported = !spec.topic.starts_with("wamp.");
    move |event| {
        let handler = Arc::clone(&spec.handler);
        let observer = Arc::clone(&observer);
        let in_flight = Arc::clone(&in_flight);
        Box::pin(async move {
            // Waiting here holds up the subscription's queue, which is where the bound bites.
            let Ok(permit) = in_flight.acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                let _permit = permit;
                let topic = event.topic.clone();
                let publication = event.publication;
                let outcome = handler(event).await;
                if !reported {
                    return;
                }
                observer.observe(RoleEvent::Event {
                    topic: &topic,
                    publication,
                    outcome: outcome.as_ref(),
                });
            });
        })
    }
}

type SharedInvocation = Arc<dyn Fn(Invocation) -> InvocationFuture + Send + Sync>;
type SharedEvent = Arc<dyn Fn(Event) -> BoxFuture<'static, ()> + Send + Sync>;

/// A registration or subscription made on a session.
pub enum Established {
    /// A procedure.
    Registration(Registration),
    /// A subscription.
    Subscription(Subscription),
}

/// A role's declarations as wamp-client handlers: declared on a component, and kept to
/// re-establish on the session what a join failed to.
#[derive(Clone, Default)]
pub struct Declared {
    procedures: Vec<(String, SharedInvocation)>,
    topics: Vec<(String, SubscribeOptions, SharedEvent)>,
}

impl Declared {
    /// The handlers of `declarations`, reporting to `observer`.
    pub fn new(declarations: Declarations, observer: &Observer) -> Self {
        let procedures = declarations
            .procedures
            .into_iter()
            .map(|p| {
                let uri = p.uri.clone();
                let h: SharedInvocation = Arc::new(invocation_handler(p, Arc::clone(observer)));
                (uri, h)
            })
            .collect();
        let topics = declarations
            .topics
            .into_iter()
            .map(|t| {
                let (topic, options) = (t.topic.clone(), t.options.clone());
                let h: SharedEvent = Arc::new(event_handler(t, Arc::clone(observer)));
                (topic, options, h)
            })
            .collect();
        Declared { procedures, topics }
    }

    /// Declares everything on `component` (replayed, with options, on every join).
    pub fn on_component(&self, component: Component) -> Component {
        let component = self.procedures.iter().fold(component, |c, (uri, h)| {
            let h = Arc::clone(h);
            c.register(uri.clone(), RegisterOptions::default(), move |inv| h(inv))
        });
        self.topics
            .iter()
            .fold(component, |c, (topic, options, h)| {
                let h = Arc::clone(h);
                c.subscribe(topic.clone(), options.clone(), move |ev| h(ev))
            })
    }

    /// Registers and subscribes, on `session`, what `wanted` (given the URI) selects; each with
    /// its outcome.
    pub async fn establish_where(
        &self,
        session: &Session,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<(String, Result<Established, wamp_client::Error>)> {
        let mut out = Vec::new();
        for (uri, h) in self.procedures.iter().filter(|(u, _)| wanted(u)) {
            let h = Arc::clone(h);
            let r = session
                .register(uri, RegisterOptions::default(), move |inv| h(inv))
                .await;
            out.push((uri.clone(), r.map(Established::Registration)));
        }
        for (topic, options, h) in self.topics.iter().filter(|(t, _, _)| wanted(t)) {
            let h = Arc::clone(h);
            let r = session
                .subscribe(topic, options.clone(), move |ev| h(ev))
                .await;
            out.push((topic.clone(), r.map(Established::Subscription)));
        }
        out
    }

    /// Re-establishes the declarations named in `failures` (`"uri: error"`, as the component
    /// reports them); returns what still fails, in the same form.
    pub async fn repair(&self, session: &Session, failures: &[String]) -> Vec<String> {
        self.establish_where(session, |uri| named_in(failures, uri))
            .await
            .into_iter()
            .filter_map(|(uri, r)| r.err().map(|e| format!("{uri}: {e}")))
            .collect()
    }
}

/// Whether a failure report (`"uri: error"`) names `uri`.
fn named_in(failures: &[String], uri: &str) -> bool {
    failures.iter().any(|f| {
        f.strip_prefix(uri)
            .is_some_and(|rest| rest.starts_with(": "))
    })
}

/// Declares the role's procedures and subscriptions on `component` (asked once); the returned
/// [`Declared`] goes to [`AfterJoin::spawn`] to repair failed ones.
pub fn declare(
    component: Component,
    role: &dyn Role,
    observer: &Observer,
) -> (Component, Declared) {
    let declared = Declared::new(role.declarations(observer), observer);
    (declared.on_component(component), declared)
}

/// Registers and subscribes `declarations` once on a plain session (no replay on reconnect).
pub async fn establish(
    session: &Session,
    declarations: Declarations,
    observer: &Observer,
) -> Result<(Vec<Registration>, Vec<Subscription>), wamp_client::Error> {
    let (mut regs, mut subs) = (Vec::new(), Vec::new());
    let declared = Declared::new(declarations, observer);
    for (_, r) in declared.establish_where(session, |_| true).await {
        match r? {
            Established::Registration(reg) => regs.push(reg),
            Established::Subscription(sub) => subs.push(sub),
        }
    }
    Ok((regs, subs))
}

/// Pause before after-join attempt `n` (1-based): 0.5 s, 1 s, 2 s, … capped at 8 s.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(5).saturating_sub(1)))
        .min(Duration::from_secs(10))
}

/// The task running a role's after-join step after every join.
pub struct AfterJoin {
    task: JoinHandle<()>,
    stop: watch::Sender<bool>,
    role: Arc<dyn Role>,
}

impl AfterJoin {
    /// Follows `events` (take them before the component starts): after each `Ready`, first
    /// re-establishes the declarations that failed on that join (reported, and retried with
    /// [`retry_delay`] — the role is not attached meanwhile), then runs `role.on_join()`, retried
    /// the same way; both only while that session stays up.
    pub fn spawn(
        role: Arc<dyn Role>,
        declared: Declared,
        session: Session,
        events: broadcast::Receiver<LifecycleEvent>,
        observer: Observer,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let follower = Follower {
            role: Arc::clone(&role),
            declared,
            session,
            observer,
            stop: stopped,
        };
        let task = tokio::spawn(follower.run(events));
        AfterJoin { task, stop, role }
    }

    /// Stops following, then the role's timers; waits briefly for the task.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.role.stop();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_millis(500), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// What a lifecycle event asks of the after-join loop.
enum Step {
    /// Attach to this session; first re-establish the declarations that failed on it.
    Attach(u64, Vec<String>),
    /// The session is gone: the next one needs the after-join step again.
    Reset,
    /// Nothing to do.
    Skip,
    /// The component ended.
    End,
}

fn step(ev: Result<LifecycleEvent, RecvError>, session: &Session) -> Step {
    match ev {
        Ok(LifecycleEvent::Ready {
            session_id,
            failures,
        }) => Step::Attach(session_id, failures),
        Err(RecvError::Lagged(_)) => session
            .session_id()
            .map_or(Step::Skip, |id| Step::Attach(id, Vec::new())),
        Ok(LifecycleEvent::Disconnected { .. }) => Step::Reset,
        Ok(LifecycleEvent::Stopped { .. }) | Err(RecvError::Closed) => Step::End,
        Ok(_) => Step::Skip,
    }
}

/// Stopped (or the [`AfterJoin`] is gone).
struct Stopped;

/// The after-join loop's state.
struct Follower {
    role: Arc<dyn Role>,
    declared: Declared,
    session: Session,
    observer: Observer,
    stop: watch::Receiver<bool>,
}

impl Follower {
    async fn run(mut self, mut events: broadcast::Receiver<LifecycleEvent>) {
        let mut attached: Option<u64> = None;
        loop {
            let ev = tokio::select! {
                _ = self.stop.wait_for(|s| *s) => return,
                ev = events.recv() => ev,
            };
            let (id, failures) = match step(ev, &self.session) {
                Step::Attach(id, failures) if attached != Some(id) => (id, failures),
                Step::Reset => {
                    attached = None;
                    continue;
                }
                Step::End => return,
                Step::Attach(..) | Step::Skip => continue,
            };
            match self.attach(id, failures).await {
                Ok(true) => attached = Some(id),
                Ok(false) => {}
                Err(Stopped) => return,
            }
        }
    }

    /// Pauses before attempt `attempt`'s successor; `Err` when stopped meanwhile.
    async fn pause(&mut self, attempt: u32) -> Result<(), Stopped> {
        tokio::select! {
            _ = self.stop.wait_for(|s| *s) => Err(Stopped),
            _ = tokio::time::sleep(retry_delay(attempt)) => Ok(()),
        }
    }

    /// Repairs the failed declarations, then runs the role's after-join step; `Ok(true)` once
    /// attached, `Ok(false)` when the session went away first.
    async fn attach(&mut self, id: u64, mut failures: Vec<String>) -> Result<bool, Stopped> {
        let mut attempt = 0u32;
        while !failures.is_empty() {
            attempt += 1;
            // Not silently fine: reported, and the role stays not attached until repaired.
            self.observer.observe(RoleEvent::DeclarationsFailed {
                session_id: id,
                failures: &failures,
            });
            self.pause(attempt).await?;
            if self.session.session_id() != Some(id) {
                return Ok(false);
            }
            failures = self.declared.repair(&self.session, &failures).await;
        }
        let mut attempt = 0u32;
        while self.session.session_id() == Some(id) {
            attempt += 1;
            let result = tokio::select! {
                _ = self.stop.wait_for(|s| *s) => return Err(Stopped),
                r = self.role.on_join() => r,
            };
            match result {
                Ok(()) => {
                    self.observer
                        .observe(RoleEvent::Attached { session_id: id });
                    return Ok(true);
                }
                Err(error) => {
                    self.observer.observe(RoleEvent::NotAttached {
                        session_id: id,
                        attempt,
                        retry_in: retry_delay(attempt),
                        error: &error,
                    });
                    self.pause(attempt).await?;
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wamp_proto::Dict;

    #[tokio::test]
    async fn events_in_flight_are_bounded() {
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (r, st) = (release.clone(), started.clone());
        let spec = TopicSpec {
            topic: "t".into(),
            options: SubscribeOptions::default(),
            handler: Arc::new(move |_event| {
                let (r, st) = (r.clone(), st.clone());
                Box::pin(async move {
                    st.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    r.acquire().await.expect("release").forget();
                    Ok(crate::runtime::Decrypted {
                        key_id: Default::default(),
                        payload: wamp_proto::Value::Null,
                    })
                })
            }),
        };
        let handle = event_handler(spec, Arc::new(crate::runtime::NoObserver));
        let event = || Event {
            subscription: 1,
            publication: 1,
            topic: "t".into(),
            args: vec![],
            kwargs: Dict::new(),
            details: Dict::new(),
        };
        for _ in 0..EVENTS_IN_FLIGHT {
            handle(event()).await;
        }
        let mut next = handle(event());
        // The next event waits for a free slot: its handler future does not complete.
        let pending =
            std::future::poll_fn(|cx| std::task::Poll::Ready(next.as_mut().poll(cx).is_pending()))
                .await;
        assert!(pending);
        release.add_permits(1);
        next.await;
        while started.load(std::sync::atomic::Ordering::SeqCst) < EVENTS_IN_FLIGHT + 1 {
            tokio::task::yield_now().await;
        }
        release.add_permits(EVENTS_IN_FLIGHT);
    }

    #[test]
    fn failures_name_their_uri_exactly() {
        let failures =
            vec!["xbr.marketmaker.buy_key: wamp.error.procedure_already_exists".to_owned()];
        assert!(named_in(&failures, "xbr.marketmaker.buy_key"));
        assert!(!named_in(&failures, "xbr.marketmaker.buy"));
        assert!(!named_in(&failures, "xbr.marketmaker.status"));
    }

    #[test]
    fn retry_delay_grows_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(2));
        assert_eq!(retry_delay(6), Duration::from_secs(8));
        assert_eq!(retry_delay(60), Duration::from_secs(8));
    }
}

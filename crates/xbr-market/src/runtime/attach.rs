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
    RegisterOptions, Session,
};
use wamp_proto::Dict;

use super::{Call, Declarations, Observer, ProcedureSpec, Role, RoleEvent, TopicSpec};
use crate::error::MarketError;
use crate::peer::{BoxFuture, error_args};

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
            let call = Call {
                caller: inv.caller().unwrap_or(0),
                args: inv.args,
                kwargs: inv.kwargs,
            };
            match handler(call).await {
                Ok((args, kwargs)) => {
                    observer.observe(RoleEvent::CallHandled { procedure });
                    Ok(InvocationResult::new(args, kwargs))
                }
                Err(e) => {
                    observer.observe(RoleEvent::CallFailed {
                        procedure,
                        error: &e,
                    });
                    Err(invocation_error(&e))
                }
            }
        })
    }
}

/// A role error as the WAMP ERROR of an invocation.
pub fn invocation_error(e: &MarketError) -> InvocationError {
    InvocationError::with_payload(e.uri.to_string(), error_args(e), Dict::new())
}

/// The wamp-client handler of a subscription: each event is handled in a task of its own (a
/// key purchase does not hold up events under keys already held) and reported to `observer`.
pub fn event_handler(
    spec: TopicSpec,
    observer: Observer,
) -> impl Fn(Event) -> BoxFuture<'static, ()> + Send + Sync + 'static {
    move |event| {
        let handler = Arc::clone(&spec.handler);
        let observer = Arc::clone(&observer);
        Box::pin(async move {
            tokio::spawn(async move {
                let topic = event.topic.clone();
                let publication = event.publication;
                let outcome = handler(event).await;
                observer.observe(RoleEvent::Event {
                    topic: &topic,
                    publication,
                    outcome: outcome.as_ref(),
                });
            });
        })
    }
}

/// Declares the role's procedures and subscriptions on `component` (asked once).
pub fn declare(component: Component, role: &dyn Role, observer: &Observer) -> Component {
    let Declarations { procedures, topics } = role.declarations(observer);
    let component = procedures.into_iter().fold(component, |c, p| {
        let uri = p.uri.clone();
        c.register(
            uri,
            RegisterOptions::default(),
            invocation_handler(p, Arc::clone(observer)),
        )
    });
    topics.into_iter().fold(component, |c, t| {
        let (topic, options) = (t.topic.clone(), t.options.clone());
        c.subscribe(topic, options, event_handler(t, Arc::clone(observer)))
    })
}

/// Registers and subscribes `declarations` once on a plain session (no replay on reconnect).
pub async fn establish(
    session: &Session,
    declarations: Declarations,
    observer: &Observer,
) -> Result<
    (
        Vec<wamp_client::Registration>,
        Vec<wamp_client::Subscription>,
    ),
    wamp_client::Error,
> {
    let mut regs = Vec::with_capacity(declarations.procedures.len());
    for p in declarations.procedures {
        let uri = p.uri.clone();
        let handler = invocation_handler(p, Arc::clone(observer));
        regs.push(
            session
                .register(&uri, RegisterOptions::default(), handler)
                .await?,
        );
    }
    let mut subs = Vec::with_capacity(declarations.topics.len());
    for t in declarations.topics {
        let (topic, options) = (t.topic.clone(), t.options.clone());
        let handler = event_handler(t, Arc::clone(observer));
        subs.push(session.subscribe(&topic, options, handler).await?);
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
    /// Follows `events` (take them before the component starts) and runs `role.on_join()` after
    /// each `Ready` whose declarations all succeeded, retrying with [`retry_delay`] while that
    /// session stays up.
    pub fn spawn(
        role: Arc<dyn Role>,
        session: Session,
        events: broadcast::Receiver<LifecycleEvent>,
        observer: Observer,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(follow(
            Arc::clone(&role),
            session,
            events,
            observer,
            stopped,
        ));
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
    /// Attach to this session (its declarations are in place).
    Attach(u64),
    /// The session is gone: the next one needs the after-join step again.
    Reset,
    /// Nothing to do.
    Skip,
    /// The component ended.
    End,
}

fn step(ev: Result<LifecycleEvent, RecvError>, session: &Session, observer: &Observer) -> Step {
    match ev {
        Ok(LifecycleEvent::Ready {
            session_id,
            failures,
        }) => {
            if failures.is_empty() {
                Step::Attach(session_id)
            } else {
                // Not silently fine: the role stays not attached on this session.
                observer.observe(RoleEvent::DeclarationsFailed {
                    session_id,
                    failures: &failures,
                });
                Step::Skip
            }
        }
        Err(RecvError::Lagged(_)) => session.session_id().map_or(Step::Skip, Step::Attach),
        Ok(LifecycleEvent::Disconnected { .. }) => Step::Reset,
        Ok(LifecycleEvent::Stopped { .. }) | Err(RecvError::Closed) => Step::End,
        Ok(_) => Step::Skip,
    }
}

async fn follow(
    role: Arc<dyn Role>,
    session: Session,
    mut events: broadcast::Receiver<LifecycleEvent>,
    observer: Observer,
    mut stop: watch::Receiver<bool>,
) {
    let mut attached: Option<u64> = None;
    loop {
        let ev = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            ev = events.recv() => ev,
        };
        let id = match step(ev, &session, &observer) {
            Step::Attach(id) if attached != Some(id) => id,
            Step::Reset => {
                attached = None;
                continue;
            }
            Step::End => return,
            Step::Attach(_) | Step::Skip => continue,
        };
        let mut attempt = 0u32;
        while session.session_id() == Some(id) {
            attempt += 1;
            let result = tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = role.on_join() => r,
            };
            match result {
                Ok(()) => {
                    attached = Some(id);
                    observer.observe(RoleEvent::Attached { session_id: id });
                    break;
                }
                Err(error) => {
                    let retry_in = retry_delay(attempt);
                    observer.observe(RoleEvent::NotAttached {
                        session_id: id,
                        attempt,
                        retry_in,
                        error: &error,
                    });
                    tokio::select! {
                        _ = stop.wait_for(|s| *s) => return,
                        _ = tokio::time::sleep(retry_in) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_grows_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(2));
        assert_eq!(retry_delay(6), Duration::from_secs(8));
        assert_eq!(retry_delay(60), Duration::from_secs(8));
    }
}

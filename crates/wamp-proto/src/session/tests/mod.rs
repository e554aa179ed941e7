//! Scripted-router tests of the session state machine, by concern; shared helpers here.

use super::*;
use crate::auth::ClientAuth;

fn d(entries: &[(&str, Value)]) -> Dict {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// The fixed start of every test's clock (only differences matter to the session).
fn now() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn session_with(auth: ClientAuth) -> Session {
    Session::new(SessionConfig::new("realm1", auth))
}

fn drain_out(s: &mut Session) -> Vec<Message> {
    std::iter::from_fn(|| s.poll_outgoing()).collect()
}

fn drain_events(s: &mut Session) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A joined anonymous session with its queues drained.
fn joined() -> Session {
    joined_with(Timeouts::default())
}

/// [`joined`] with other deadlines.
fn joined_with(timeouts: Timeouts) -> Session {
    let mut config = SessionConfig::new("realm1", ClientAuth::anonymous());
    config.timeouts = timeouts;
    let mut s = Session::new(config);
    s.join(now(), [7; 32]).expect("join");
    drain_out(&mut s);
    s.handle_message(Message::Welcome {
        session: 42,
        details: Dict::new(),
    })
    .expect("welcome");
    drain_events(&mut s);
    s
}

/// Asserts that the last outgoing message is ABORT protocol_violation and the session closed.
fn assert_violation(s: &mut Session, result: Result<(), SessionError>) {
    assert!(
        matches!(result, Err(SessionError::Protocol(_))),
        "{result:?}"
    );
    let out = drain_out(s);
    assert!(
        matches!(out.last(), Some(Message::Abort { reason, .. }) if reason == PROTOCOL_VIOLATION),
        "{out:?}"
    );
    assert_eq!(s.state(), SessionState::Closed);
    assert!(drain_events(s).iter().any(
        |e| matches!(e, SessionEvent::Aborted { reason, .. } if reason == PROTOCOL_VIOLATION)
    ));
}

mod bad_payload;
mod join;
mod lifecycle;
mod pubsub;
mod rpc;
mod timers;
mod violations;

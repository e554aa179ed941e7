//! Timeouts on a paused tokio clock: the session core keeps every deadline and the driver only
//! sleeps until the next one. The fake router sits at the other end of an in-process pipe (no
//! sockets), so virtual time moves only when every task waits, and deadlines are exact.

mod common;

use std::time::Duration;

use common::fake_router::{self, Behavior, Seen};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use wamp_client::transport::Connection;
use wamp_client::transport::stream::Stream;
use wamp_client::{
    CallOptions, CancelMode, Error, InvocationResult, PublishOptions, RegisterOptions, Session,
    SubscribeOptions, TransportConfig,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::message::code;
use wamp_proto::session::{DEFAULT_LEAVE_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, SessionConfig};
use wamp_proto::{Dict, Message, Serializer, Value};

/// A joined session and what its router sees.
struct Peer {
    session: Session,
    seen: mpsc::UnboundedReceiver<Seen>,
    _kick: broadcast::Sender<()>,
}

impl Peer {
    async fn next_message(&mut self, code: u8) -> Message {
        loop {
            match self.seen.recv().await.expect("router ended") {
                Seen::Message(_, m) if m.code() == code => return m,
                _ => {}
            }
        }
    }

    fn pings_seen(&mut self) -> usize {
        std::iter::from_fn(|| self.seen.try_recv().ok())
            .filter(|s| matches!(s, Seen::Ping(_)))
            .count()
    }
}

fn transport() -> TransportConfig {
    TransportConfig::new("rs://in-process").with_serializer(Serializer::Json)
}

async fn connect_with(behavior: Behavior, transport: TransportConfig) -> Peer {
    let (pipe, seen, kick) = fake_router::in_memory(behavior);
    let conn = Connection::rawsocket(Stream::Memory(pipe), &transport)
        .await
        .expect("handshake");
    let config = SessionConfig::new("realm1", ClientAuth::anonymous());
    let session = Session::join_on(conn, &transport, config)
        .await
        .expect("join");
    Peer {
        session,
        seen,
        _kick: kick,
    }
}

async fn connect(behavior: Behavior) -> Peer {
    connect_with(behavior, transport()).await
}

fn ignoring(codes: &[u8]) -> Behavior {
    Behavior {
        ignore: codes.to_vec(),
        ..Behavior::default()
    }
}

/// Asserts that `err` is a timeout of `limit` that fired exactly `limit` after `started`.
fn assert_timed_out(err: Error, limit: Duration, started: Instant) {
    assert!(matches!(err, Error::Timeout(d) if d == limit), "{err}");
    assert_eq!(started.elapsed(), limit, "virtual time at expiry");
}

#[tokio::test(start_paused = true)]
async fn call_timeout_cancels_with_the_configured_mode() {
    let mut peer = connect(Behavior::default()).await;
    let options = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        cancel_mode: CancelMode::KillNoWait,
        ..CallOptions::default()
    };
    let started = Instant::now();
    let err = peer
        .session
        .call("test.never", vec![], Dict::new(), options)
        .await
        .unwrap_err();
    assert_timed_out(err, Duration::from_millis(300), started);
    let Message::Call { request, .. } = peer.next_message(code::CALL).await else {
        unreachable!()
    };
    match peer.next_message(code::CANCEL).await {
        Message::Cancel {
            request: cancelled,
            options,
        } => {
            assert_eq!(cancelled, request);
            assert_eq!(options.get("mode"), Some(&Value::from("killnowait")));
        }
        other => panic!("{other:?}"),
    }
    // The router's late `canceled` is dropped and the session goes on.
    let echo = peer
        .session
        .call(
            "test.echo",
            vec![Value::from(1)],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .expect("echo");
    assert_eq!(echo.args, vec![Value::from(1)]);
}

#[tokio::test(start_paused = true)]
async fn progressive_call_timeout_ends_the_stream() {
    let mut peer = connect(Behavior::default()).await;
    let limit = Duration::from_secs(2);
    let started = Instant::now();
    let mut call = peer
        .session
        .call_progressive(
            "test.never",
            vec![],
            Dict::new(),
            CallOptions::with_timeout(limit),
        )
        .await
        .expect("call sent");
    let err = call.next().await.expect("an item").unwrap_err();
    assert_timed_out(err, limit, started);
    assert!(call.next().await.is_none());
    assert!(matches!(
        peer.next_message(code::CANCEL).await,
        Message::Cancel { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn register_times_out_after_the_default_request_timeout() {
    let mut peer = connect(ignoring(&[code::REGISTER])).await;
    let started = Instant::now();
    let err = peer
        .session
        .register("com.p", RegisterOptions::default(), |_| async {
            Ok(InvocationResult::default())
        })
        .await
        .unwrap_err();
    assert_timed_out(err, DEFAULT_REQUEST_TIMEOUT, started);
    assert!(matches!(
        peer.next_message(code::REGISTER).await,
        Message::Register { .. }
    ));
    assert!(peer.session.is_connected());
}

#[tokio::test(start_paused = true)]
async fn subscribe_times_out_after_the_default_request_timeout() {
    let peer = connect(ignoring(&[code::SUBSCRIBE])).await;
    let started = Instant::now();
    let err = peer
        .session
        .subscribe("com.t", SubscribeOptions::default(), |_| async {})
        .await
        .unwrap_err();
    assert_timed_out(err, DEFAULT_REQUEST_TIMEOUT, started);
    assert!(peer.session.is_connected());
}

#[tokio::test(start_paused = true)]
async fn acknowledged_publish_times_out_and_a_plain_one_does_not_wait() {
    let peer = connect(ignoring(&[code::PUBLISH])).await;
    let started = Instant::now();
    let plain = peer
        .session
        .publish("com.t", vec![], Dict::new(), PublishOptions::default())
        .await;
    assert_eq!(plain.expect("plain publish"), None);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let err = peer
        .session
        .publish("com.t", vec![], Dict::new(), PublishOptions::acknowledged())
        .await
        .unwrap_err();
    assert_timed_out(err, DEFAULT_REQUEST_TIMEOUT, started);
}

#[tokio::test(start_paused = true)]
async fn missing_pong_closes_the_connection_and_answered_pings_keep_it() {
    let pings = transport().with_auto_ping(Some(Duration::from_secs(10)), Duration::from_secs(5));
    let mut answered = connect_with(Behavior::default(), pings.clone()).await;
    let silent = connect_with(
        Behavior {
            answer_pings: false,
            ..Behavior::default()
        },
        pings,
    )
    .await;
    let started = Instant::now();
    silent.session.closed().await;
    // First ping after 10 s, no pong within 5 s.
    assert_eq!(started.elapsed(), Duration::from_secs(15));
    tokio::time::sleep_until(started + Duration::from_secs(65)).await;
    assert!(answered.session.is_connected());
    assert_eq!(answered.pings_seen(), 6, "one ping per interval");
}

#[tokio::test(start_paused = true)]
async fn leave_gives_up_waiting_for_goodbye_after_the_leave_timeout() {
    let mut peer = connect(ignoring(&[code::GOODBYE])).await;
    let started = Instant::now();
    peer.session.leave().await.expect("leave");
    assert_eq!(started.elapsed(), DEFAULT_LEAVE_TIMEOUT);
    assert!(!peer.session.is_connected());
    assert!(matches!(
        peer.next_message(code::GOODBYE).await,
        Message::Goodbye { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn revoked_registration_and_subscription_drop_their_handlers() {
    let peer = connect(Behavior::default()).await;
    // Each handler owns a sender; its receiver ends when the handler is dropped.
    let (procedure_alive, mut procedure_dropped) = mpsc::channel::<()>(1);
    let (event_alive, mut event_dropped) = mpsc::channel::<()>(1);
    peer.session
        .register("com.p", RegisterOptions::default(), move |_| {
            let _alive = &procedure_alive;
            async { Ok(InvocationResult::default()) }
        })
        .await
        .expect("register");
    peer.session
        .subscribe("com.t", SubscribeOptions::default(), move |_| {
            let _alive = &event_alive;
            async {}
        })
        .await
        .expect("subscribe");
    peer.session
        .call("test.revoke", vec![], Dict::new(), CallOptions::default())
        .await
        .expect("revoke");
    let limit = Duration::from_secs(60);
    let dropped = tokio::time::timeout(limit, async {
        (procedure_dropped.recv().await, event_dropped.recv().await)
    })
    .await
    .expect("both handlers dropped");
    assert_eq!(dropped, (None, None));
    assert!(peer.session.is_connected());
}

#[tokio::test(start_paused = true)]
async fn unregister_timeout_drops_the_handler() {
    let peer = connect(ignoring(&[code::UNREGISTER])).await;
    let (procedure_alive, mut procedure_dropped) = mpsc::channel::<()>(1);
    let registration = peer
        .session
        .register("com.p", RegisterOptions::default(), move |_| {
            let _alive = &procedure_alive;
            async { Ok(InvocationResult::default()) }
        })
        .await
        .expect("register");
    let started = Instant::now();
    let err = registration.unregister().await.unwrap_err();
    assert_timed_out(err, DEFAULT_REQUEST_TIMEOUT, started);
    assert_eq!(procedure_dropped.recv().await, None, "handler dropped");
    assert!(peer.session.is_connected());
}

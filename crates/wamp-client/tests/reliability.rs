//! Reliability of the driver and the component runner against an in-process fake router
//! (RawSocket + JSON), in the manner of rumqttc's `tests/reliability.rs`.
//!
//! They run in real time with short intervals (tokio's paused clock races with loopback TCP
//! hand-shakes) and assert only lower bounds on elapsed time plus the exact delays the backoff
//! policy computed (jitter injected), so a loaded machine makes them slower, not flaky.
//! The timeouts themselves are tested on a paused clock over an in-process pipe in
//! `tests/timeouts.rs`.

mod common;

use std::time::Duration;

use common::fake_router::{Behavior, FakeRouter, Seen};
use tokio::sync::broadcast;
use tokio::time::Instant;
use wamp_client::{
    CallOptions, CancelMode, Component, Error, InvocationResult, InvokePolicy, Jitter,
    LifecycleEvent, MatchPolicy, PublishOptions, RegisterOptions, RetryPolicy, Session,
    SubscribeOptions, TransportConfig, TransportError,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::message::code;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Message, Serializer, Value};

fn transport(url: &str) -> TransportConfig {
    TransportConfig::new(url)
        .with_serializer(Serializer::Json)
        .with_connect_timeout(Duration::from_secs(20))
        .with_retry(fast_retry())
}

/// Autobahn's policy with a 100 ms first delay, so reconnect tests take fractions of a second.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_retry_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    }
}

fn session_config() -> SessionConfig {
    SessionConfig::new("realm1", ClientAuth::anonymous())
}

async fn next_event(
    events: &mut broadcast::Receiver<LifecycleEvent>,
    mut pred: impl FnMut(&LifecycleEvent) -> bool,
) -> LifecycleEvent {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("lifecycle event in time")
            .expect("event channel open");
        if pred(&ev) {
            return ev;
        }
    }
}

/// A port on which nothing listens.
async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn connection_should_timeout_on_time() {
    let router = FakeRouter::start(Behavior {
        silent_handshake: true,
        ..Behavior::default()
    })
    .await;
    let started = Instant::now();
    let t = transport(&router.url).with_connect_timeout(Duration::from_millis(500));
    let err = Session::connect(&t, session_config()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::ConnectTimeout(d)) if d == Duration::from_millis(500)),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
}

#[tokio::test]
async fn idle_connection_sends_pings_and_stays_up_when_answered() {
    let mut router = FakeRouter::start(Behavior::default()).await;
    let t = transport(&router.url)
        .with_auto_ping(Some(Duration::from_millis(200)), Duration::from_secs(10));
    let started = Instant::now();
    let session = Session::connect(&t, session_config()).await.unwrap();
    for _ in 0..3 {
        router.next_matching(|s| matches!(s, Seen::Ping(_))).await;
    }
    // Three pings, one per interval: not earlier than the interval allows.
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(session.is_connected());
    let echo = session
        .call(
            "test.echo",
            vec![Value::from(1)],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(echo.args, vec![Value::from(1)]);
    session.leave().await.unwrap();
    assert!(!session.is_connected());
}

#[tokio::test]
async fn detects_halfopen_connection_by_missing_pong() {
    let router = FakeRouter::start(Behavior {
        answer_pings: false,
        ..Behavior::default()
    })
    .await;
    let t = transport(&router.url)
        .with_auto_ping(Some(Duration::from_millis(200)), Duration::from_millis(300))
        .with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        });
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(t)
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    let ready_at = Instant::now();
    let ev = next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::Disconnected { .. })
    })
    .await;
    // First ping after 200 ms, no pong within 300 ms.
    assert!(ready_at.elapsed() >= Duration::from_millis(300));
    match ev {
        LifecycleEvent::Disconnected { reason, was_clean } => {
            assert!(reason.contains("no pong"), "{reason}");
            assert!(!was_clean);
        }
        other => panic!("{other:?}"),
    }
    // max_retries 0: the component gives up with the ping timeout as its error.
    let err = running.wait().await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::PingTimeout(_))),
        "{err}"
    );
}

#[tokio::test]
async fn reconnects_after_connect_failure_with_configured_backoff() {
    let port = closed_port().await;
    let url = format!("rs://127.0.0.1:{port}");
    let policy = RetryPolicy {
        max_retries: 3,
        initial_retry_delay: Duration::from_millis(200),
        retry_delay_growth: 2.0,
        retry_delay_jitter: 0.1,
        max_retry_delay: Duration::from_secs(300),
    };
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&url).with_retry(policy))
        // +1 = the full +10 % jitter.
        .jitter(Jitter::from_fn(|| 1.0));
    let mut events = component.events();
    let running = component.start();
    let mut delays = Vec::new();
    let mut failures = Vec::new();
    loop {
        match next_event(&mut events, |_| true).await {
            LifecycleEvent::Waiting { delay, .. } => delays.push(delay.as_millis()),
            LifecycleEvent::ConnectFailed { .. } => failures.push(Instant::now()),
            LifecycleEvent::Stopped { .. } => break,
            _ => {}
        }
    }
    // 1 attempt + 3 retries, delays 200 ms * 2^n, each +10 %.
    assert_eq!(failures.len(), 4);
    assert_eq!(delays, vec![220, 440, 880]);
    let gaps: Vec<u128> = failures
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    for (gap, delay) in gaps.iter().zip(&delays) {
        assert!(
            gap >= delay,
            "gap {gap} ms shorter than the backoff delay {delay} ms"
        );
    }
    let err = running.wait().await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Io(_))),
        "{err}"
    );
}

#[tokio::test]
async fn next_attempt_after_connect_failure_reaches_a_router_that_came_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("rs://127.0.0.1:{port}");
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&url))
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::ConnectFailed { .. })
    })
    .await;
    // The router comes up while the component waits its first backoff delay.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let _router = FakeRouter::serve(listener, Behavior::default());
    match next_event(&mut events, |e| matches!(e, LifecycleEvent::Waiting { .. })).await {
        LifecycleEvent::Waiting { delay, attempt, .. } => {
            assert_eq!(delay, Duration::from_millis(100));
            assert_eq!(attempt, 2);
        }
        other => panic!("{other:?}"),
    }
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    let out = running
        .session()
        .call(
            "test.echo",
            vec![Value::from("up")],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.args, vec![Value::from("up")]);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_retry_after_authentication_failure() {
    let mut router = FakeRouter::start(Behavior {
        abort_reason: Some("wamp.error.not_authorized".into()),
        ..Behavior::default()
    })
    .await;
    let component = Component::new("realm1", ClientAuth::ticket("alice", "wrong"))
        .transport(transport(&router.url))
        .jitter(Jitter::none());
    let err = component.start().wait().await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err}");
    assert!(
        err.to_string().contains("wamp.error.not_authorized"),
        "{err}"
    );
    // Exactly one connection was made.
    let mut connections = 0;
    while let Ok(seen) = router.seen.try_recv() {
        if matches!(seen, Seen::Connected(..)) {
            connections += 1;
        }
    }
    assert_eq!(connections, 1);
}

#[tokio::test]
async fn retry_after_authentication_failure_when_configured() {
    let mut router = FakeRouter::start(Behavior {
        abort_reason: Some("wamp.error.not_authorized".into()),
        ..Behavior::default()
    })
    .await;
    let t = transport(&router.url).with_retry(RetryPolicy {
        max_retries: 2,
        ..fast_retry()
    });
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(t)
        .retry_on_auth_failure(true)
        .jitter(Jitter::none());
    let err = component.start().wait().await.unwrap_err();
    assert!(err.is_authentication_failure(), "{err}");
    let mut connections = 0;
    while let Ok(seen) = router.seen.try_recv() {
        if matches!(seen, Seen::Connected(..)) {
            connections += 1;
        }
    }
    assert_eq!(connections, 3);
}

#[tokio::test]
async fn oversize_incoming_message_is_refused_from_the_header() {
    let router = FakeRouter::start(Behavior::default()).await;
    let t = transport(&router.url).with_max_message_size(64 * 1024);
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(t.with_retry(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }))
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    let err = running
        .session()
        .call("test.huge", vec![], Dict::new(), CallOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionLost), "{err}");
    match next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::Disconnected { .. })
    })
    .await
    {
        LifecycleEvent::Disconnected { reason, .. } => {
            assert!(
                reason.contains("1048576 bytes exceeds the transport limit of 65536"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    let err = running.wait().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::MessageTooLarge {
                size: 1048576,
                limit: 65536
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn oversize_outgoing_message_fails_only_that_request() {
    // The router announces a 1 KiB limit.
    let router = FakeRouter::start(Behavior {
        max_len_exp: 1,
        ..Behavior::default()
    })
    .await;
    let session = Session::connect(&transport(&router.url), session_config())
        .await
        .unwrap();
    let big = Value::from("x".repeat(2000));
    let err = session
        .call("test.echo", vec![big], Dict::new(), CallOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::MessageTooLarge { limit: 1024, .. })
        ),
        "{err}"
    );
    let ok = session
        .call(
            "test.echo",
            vec![Value::from(7)],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(ok.args, vec![Value::from(7)]);
    session.leave().await.unwrap();
}

#[tokio::test]
async fn call_timeout_sends_cancel_with_the_configured_mode() {
    let mut router = FakeRouter::start(Behavior::default()).await;
    let session = Session::connect(&transport(&router.url), session_config())
        .await
        .unwrap();
    let options = CallOptions {
        timeout: Some(Duration::from_millis(300)),
        cancel_mode: CancelMode::KillNoWait,
        ..CallOptions::default()
    };
    let started = Instant::now();
    let err = session
        .call("test.never", vec![], Dict::new(), options)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Timeout(d) if d == Duration::from_millis(300)),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (_, call) = router.next_message(code::CALL).await;
    let (_, cancel) = router.next_message(code::CANCEL).await;
    match (call, cancel) {
        (
            Message::Call {
                request, options, ..
            },
            Message::Cancel {
                request: cancelled,
                options: cancel_options,
            },
        ) => {
            assert_eq!(request, cancelled);
            assert_eq!(options.get("timeout"), Some(&Value::from(300u64)));
            assert_eq!(cancel_options.get("mode"), Some(&Value::from("killnowait")));
        }
        other => panic!("{other:?}"),
    }
    // The session is still usable.
    assert!(
        session
            .call("test.echo", vec![], Dict::new(), CallOptions::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn dropping_a_call_future_cancels_the_call() {
    let mut router = FakeRouter::start(Behavior::default()).await;
    let session = Session::connect(&transport(&router.url), session_config())
        .await
        .unwrap();
    let s = session.clone();
    let call = tokio::spawn(async move {
        s.call("test.never", vec![], Dict::new(), CallOptions::default())
            .await
    });
    router.next_message(code::CALL).await;
    call.abort();
    let (_, cancel) = router.next_message(code::CANCEL).await;
    match cancel {
        Message::Cancel { options, .. } => {
            assert_eq!(options.get("mode"), Some(&Value::from("kill")))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn requests_fail_fast_while_not_connected() {
    let port = closed_port().await;
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&format!("rs://127.0.0.1:{port}")))
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::ConnectFailed { .. })
    })
    .await;
    let session = running.session();
    let err = session
        .call("test.echo", vec![], Dict::new(), CallOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err}");
    let err = session
        .publish("t", vec![], Dict::new(), PublishOptions::acknowledged())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err}");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn reconnection_reestablishes_registrations_and_subscriptions_with_options() {
    let mut router = FakeRouter::start(Behavior::default()).await;
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&router.url))
        .jitter(Jitter::none())
        .register(
            "test.proc.",
            RegisterOptions {
                match_policy: MatchPolicy::Prefix,
                invoke: InvokePolicy::RoundRobin,
                disclose_caller: true,
                ..RegisterOptions::default()
            },
            |_inv| async { Ok(InvocationResult::empty()) },
        )
        .subscribe(
            "test..topic",
            SubscribeOptions {
                match_policy: MatchPolicy::Wildcard,
                ..SubscribeOptions::default()
            },
            |_ev| async {},
        );
    let mut events = component.events();
    let running = component.start();
    for connection in 0..3 {
        let (i, reg) = router.next_message(code::REGISTER).await;
        assert_eq!(i, connection);
        let (j, sub) = router.next_message(code::SUBSCRIBE).await;
        assert_eq!(j, connection);
        match (reg, sub) {
            (
                Message::Register {
                    procedure, options, ..
                },
                Message::Subscribe {
                    topic,
                    options: sub_options,
                    ..
                },
            ) => {
                assert_eq!(procedure, "test.proc.");
                assert_eq!(options.get("match"), Some(&Value::from("prefix")));
                assert_eq!(options.get("invoke"), Some(&Value::from("roundrobin")));
                assert_eq!(options.get("disclose_caller"), Some(&Value::Bool(true)));
                assert_eq!(topic, "test..topic");
                assert_eq!(sub_options.get("match"), Some(&Value::from("wildcard")));
            }
            other => panic!("{other:?}"),
        }
        next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
        // Break the connection; the component reconnects.
        router.kick_all();
        next_event(&mut events, |e| {
            matches!(e, LifecycleEvent::Disconnected { .. })
        })
        .await;
    }
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn backoff_resets_only_after_a_stable_session() {
    let router = FakeRouter::start(Behavior::default()).await;
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&router.url))
        .jitter(Jitter::none())
        .stable_after(Duration::from_secs(3));
    let mut events = component.events();
    let running = component.start();
    let mut delays = Vec::new();
    // Three sessions kicked at once: the delays grow although every connect succeeded.
    for _ in 0..3 {
        next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
        router.kick_all();
        match next_event(&mut events, |e| matches!(e, LifecycleEvent::Waiting { .. })).await {
            LifecycleEvent::Waiting { delay, .. } => delays.push(delay.as_millis()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(delays, vec![100, 150, 225]);
    // A session that stays up for 3 s resets the backoff: the next reconnect is immediate.
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    router.kick_all();
    next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::Disconnected { .. })
    })
    .await;
    let next = next_event(&mut events, |e| {
        matches!(
            e,
            LifecycleEvent::Waiting { .. } | LifecycleEvent::Connected { .. }
        )
    })
    .await;
    assert!(matches!(next, LifecycleEvent::Connected { .. }), "{next:?}");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn transports_are_tried_in_turn() {
    let port = closed_port().await;
    let dead = format!("rs://127.0.0.1:{port}");
    let router = FakeRouter::start(Behavior::default()).await;
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&dead))
        .transport(transport(&router.url))
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    match next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::ConnectFailed { .. })
    })
    .await
    {
        LifecycleEvent::ConnectFailed { url, .. } => assert_eq!(url, dead),
        other => panic!("{other:?}"),
    }
    match next_event(&mut events, |e| {
        matches!(e, LifecycleEvent::Connected { .. })
    })
    .await
    {
        LifecycleEvent::Connected { url } => assert_eq!(url, router.url),
        other => panic!("{other:?}"),
    }
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_says_goodbye_and_stops() {
    let mut router = FakeRouter::start(Behavior::default()).await;
    let component = Component::new("realm1", ClientAuth::anonymous())
        .transport(transport(&router.url))
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Ready { .. })).await;
    let session = running.session();
    assert!(session.is_connected());
    running.shutdown().await.expect("clean shutdown");
    let (_, goodbye) = router.next_message(code::GOODBYE).await;
    match goodbye {
        Message::Goodbye { reason, .. } => assert_eq!(reason, "wamp.close.normal"),
        other => panic!("{other:?}"),
    }
    match next_event(&mut events, |e| matches!(e, LifecycleEvent::Left { .. })).await {
        LifecycleEvent::Left { reason } => assert_eq!(reason, "wamp.close.goodbye_and_out"),
        other => panic!("{other:?}"),
    }
    next_event(&mut events, |e| matches!(e, LifecycleEvent::Stopped { .. })).await;
    // The handle outlives the component and fails fast.
    let err = session
        .call("test.echo", vec![], Dict::new(), CallOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err}");
    // No reconnect after a shutdown.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut reconnects = 0;
    while let Ok(seen) = router.seen.try_recv() {
        if matches!(seen, Seen::Connected(..)) {
            reconnects += 1;
        }
    }
    assert_eq!(reconnects, 0);
}

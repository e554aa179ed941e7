//! A component survives a Crossbar restart: it reconnects with growing backoff delays, its
//! registration and subscription work again, and requests made while the router is down fail
//! at once with `NotConnected`.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use wamp_client::{
    CallOptions, Component, Error, InvocationResult, Jitter, LifecycleEvent, PublishOptions,
    RegisterOptions, RetryPolicy, Session, SubscribeOptions, TransportConfig,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit as tk;

/// Crossbar may need minutes to start on a loaded machine (the harness allows 180 s).
const WAIT: Duration = Duration::from_secs(240);

async fn next_event(
    events: &mut broadcast::Receiver<LifecycleEvent>,
    mut pred: impl FnMut(&LifecycleEvent) -> bool,
) -> LifecycleEvent {
    loop {
        let ev = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("lifecycle event in time")
            .expect("event channel open");
        if pred(&ev) {
            return ev;
        }
    }
}

/// A second client calls the component's procedure and publishes to its topic.
async fn check_service(url: &str, events: &mut mpsc::UnboundedReceiver<Value>, round: i64) {
    let transport = TransportConfig::new(url).with_serializer(Serializer::Json);
    let client = tokio::time::timeout(
        WAIT,
        Session::connect(
            &transport,
            SessionConfig::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous()),
        ),
    )
    .await
    .expect("connect in time")
    .expect("client joins");
    let out = client
        .call(
            "test.restart.echo",
            vec![Value::from(round)],
            Dict::new(),
            CallOptions::with_timeout(WAIT),
        )
        .await
        .expect("echo call");
    assert_eq!(out.args, vec![Value::from(round)]);
    client
        .publish(
            "test.restart.topic",
            vec![Value::from(round)],
            Dict::new(),
            PublishOptions::acknowledged(),
        )
        .await
        .expect("publish");
    let got = tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("event in time")
        .expect("event");
    assert_eq!(got, Value::from(round));
    client.leave().await.expect("leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn component_survives_router_restart() {
    let mut router = tokio::task::spawn_blocking(tk::Crossbar::start)
        .await
        .expect("router starts");
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let retry = RetryPolicy {
        max_retries: -1,
        initial_retry_delay: Duration::from_millis(200),
        retry_delay_growth: 1.5,
        retry_delay_jitter: 0.1,
        max_retry_delay: Duration::from_secs(2),
    };
    let component = Component::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous())
        .transport(
            TransportConfig::new(router.ws_url.clone())
                .with_serializer(Serializer::Cbor)
                .with_retry(retry),
        )
        .jitter(Jitter::none())
        .stable_after(Duration::from_secs(1))
        .register(
            "test.restart.echo",
            RegisterOptions::default(),
            |inv| async move { Ok(InvocationResult::new(inv.args, inv.kwargs)) },
        )
        .subscribe(
            "test.restart.topic",
            SubscribeOptions::default(),
            move |ev| {
                let tx = events_tx.clone();
                async move {
                    let _ = tx.send(ev.args.first().cloned().unwrap_or(Value::Null));
                }
            },
        );
    let mut lifecycle = component.events();
    let running = component.start();
    match next_event(&mut lifecycle, |e| {
        matches!(e, LifecycleEvent::Ready { .. })
    })
    .await
    {
        LifecycleEvent::Ready { failures, .. } => assert!(failures.is_empty(), "{failures:?}"),
        _ => unreachable!(),
    }
    check_service(&router.ws_url, &mut events_rx, 1).await;
    let first_session = running.session().session_id().expect("joined");

    // Router goes away.
    let mut router = tokio::task::spawn_blocking(move || {
        router.stop();
        router
    })
    .await
    .unwrap();
    next_event(&mut lifecycle, |e| {
        matches!(e, LifecycleEvent::Disconnected { .. })
    })
    .await;
    let asked = Instant::now();
    let err = running
        .session()
        .call(
            "test.restart.echo",
            vec![],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected), "{err}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "fail fast, not wait for a reconnect"
    );

    // The component keeps trying with growing delays (capped at 2 s).
    let mut delays = Vec::new();
    while delays.len() < 3 {
        if let LifecycleEvent::Waiting { delay, .. } = next_event(&mut lifecycle, |e| {
            matches!(e, LifecycleEvent::Waiting { .. })
        })
        .await
        {
            delays.push(delay);
        }
    }
    assert_eq!(
        delays,
        vec![
            Duration::from_millis(200),
            Duration::from_millis(300),
            Duration::from_millis(450)
        ]
    );

    // Router comes back on the same ports.
    let router = tokio::task::spawn_blocking(move || {
        router.restart();
        router
    })
    .await
    .unwrap();
    match next_event(&mut lifecycle, |e| {
        matches!(e, LifecycleEvent::Ready { .. })
    })
    .await
    {
        LifecycleEvent::Ready {
            session_id,
            failures,
        } => {
            assert!(failures.is_empty(), "{failures:?}");
            assert_ne!(session_id, first_session);
        }
        _ => unreachable!(),
    }
    check_service(&router.ws_url, &mut events_rx, 2).await;
    // The component's own handle works again too.
    let out = running
        .session()
        .call(
            "test.restart.echo",
            vec![Value::from("self")],
            Dict::new(),
            CallOptions::with_timeout(WAIT),
        )
        .await
        .expect("call through the component's handle");
    assert_eq!(out.args, vec![Value::from("self")]);

    running.shutdown().await.expect("clean shutdown");
    drop(router);
}

//! Advanced-profile features against a real Crossbar.io router, Rust caller and Rust callee:
//! progressive results, cancel (interrupting the callee), client-side call timeout, pattern
//! registrations and subscriptions, caller/publisher disclosure, publish exclude/eligible,
//! message size limits, and auto-ping detecting a frozen router.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use wamp_client::{
    CallOptions, CancelMode, Component, Error, Event, InvocationError, InvocationResult, Jitter,
    LifecycleEvent, MatchPolicy, PublishOptions, RegisterOptions, RetryPolicy, Session,
    SubscribeOptions, TransportConfig, TransportError,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit as tk;

const STEP: Duration = Duration::from_secs(60);

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

async fn connect(url: &str, serializer: Serializer) -> Session {
    let t = TransportConfig::new(url).with_serializer(serializer);
    step(
        "connect",
        Session::connect(
            &t,
            SessionConfig::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous()),
        ),
    )
    .await
    .expect("join realm1")
}

async fn rpc_features(callee: &Session, caller: &Session) {
    // Progressive results: the callee sends three progress items, then the final result.
    let reg_progress = callee
        .register(
            "test.features.countdown",
            RegisterOptions::default(),
            |inv| async move {
                let n = inv.args.first().and_then(Value::as_i64).unwrap_or(0);
                for i in (1..=n).rev() {
                    inv.progress(vec![Value::from(i)], Dict::new())
                        .await
                        .map_err(|e| {
                            InvocationError::message("test.error.progress", e.to_string())
                        })?;
                }
                Ok(InvocationResult::args(vec![Value::from("liftoff")]))
            },
        )
        .await
        .expect("register countdown");
    let call = step(
        "progressive call",
        caller.call_progressive(
            "test.features.countdown",
            vec![Value::from(3)],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .expect("progressive call starts");
    let (progress, last) = step("progressive results", call.collect())
        .await
        .expect("progressive call");
    let items: Vec<Value> = progress.iter().map(|r| r.args[0].clone()).collect();
    assert_eq!(items, vec![Value::from(3), Value::from(2), Value::from(1)]);
    assert_eq!(last.args, vec![Value::from("liftoff")]);
    // A plain call to the same procedure gets only the final result.
    let plain = step(
        "plain call",
        caller.call(
            "test.features.countdown",
            vec![Value::from(2)],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .expect("plain call");
    assert_eq!(plain.args, vec![Value::from("liftoff")]);
    reg_progress.unregister().await.expect("unregister");

    // Cancel with mode kill: the callee's handler is interrupted (its future dropped) and the
    // caller gets wamp.error.canceled.
    let (started_tx, started_rx) = mpsc::unbounded_channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let f = finished.clone();
    let reg_slow = callee
        .register(
            "test.features.slow",
            RegisterOptions::default(),
            move |_inv| {
                let started_tx = started_tx.clone();
                let finished = f.clone();
                let guard = DropSignal(dropped_tx.lock().unwrap().take());
                async move {
                    let _guard = guard;
                    let _ = started_tx.send(());
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    finished.store(true, Ordering::SeqCst);
                    Ok(InvocationResult::empty())
                }
            },
        )
        .await
        .expect("register slow");
    let mut started_rx = started_rx;
    let options = CallOptions {
        cancel_mode: CancelMode::Kill,
        ..CallOptions::default()
    };
    let mut call = caller
        .call_progressive("test.features.slow", vec![], Dict::new(), options)
        .await
        .expect("slow call starts");
    step("invocation started", started_rx.recv())
        .await
        .expect("started");
    call.cancel(CancelMode::Kill);
    let outcome = step("cancelled call", call.next())
        .await
        .expect("an outcome");
    let err = outcome.expect_err("cancelled call fails");
    assert_eq!(err.wamp_uri(), Some("wamp.error.canceled"), "{err}");
    step("handler dropped", dropped_rx)
        .await
        .expect("handler future dropped on interrupt");
    assert!(!finished.load(Ordering::SeqCst));

    // Client-side timeout: CANCEL is sent and the caller gets Error::Timeout promptly.
    let err = step(
        "timed out call",
        caller.call(
            "test.features.slow",
            vec![],
            Dict::new(),
            CallOptions {
                timeout: Some(Duration::from_millis(500)),
                cancel_mode: CancelMode::KillNoWait,
                ..CallOptions::default()
            },
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
    reg_slow.unregister().await.expect("unregister slow");

    // Prefix registration: the called URI comes in the details; caller disclosure.
    let reg_prefix = callee
        .register(
            "test.features.prefix.",
            RegisterOptions {
                match_policy: MatchPolicy::Prefix,
                disclose_caller: true,
                ..RegisterOptions::default()
            },
            |inv| async move {
                Ok(InvocationResult::args(vec![
                    Value::from(inv.procedure.clone()),
                    inv.caller().map(Value::from).unwrap_or(Value::Null),
                ]))
            },
        )
        .await
        .expect("register prefix");
    let out = step(
        "prefix call",
        caller.call(
            "test.features.prefix.deep.name",
            vec![Value::bytes(vec![1u8, 2, 3])],
            Dict::new(),
            CallOptions {
                disclose_me: true,
                ..CallOptions::default()
            },
        ),
    )
    .await
    .expect("prefix call");
    assert_eq!(
        out.args,
        vec![
            Value::from("test.features.prefix.deep.name"),
            Value::from(caller.session_id().unwrap()),
        ]
    );
    reg_prefix.unregister().await.expect("unregister prefix");

    // Oversize outgoing: refused locally with a clear error, the session keeps working.
    let small =
        TransportConfig::new(caller.info().unwrap().url.clone()).with_max_message_size(64 * 1024);
    let limited = step(
        "limited session",
        Session::connect(
            &small,
            SessionConfig::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous()),
        ),
    )
    .await
    .expect("join");
    let err = step(
        "oversize call",
        limited.call(
            "test.features.none",
            vec![Value::bytes(vec![0u8; 100_000])],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::MessageTooLarge { limit: 65536, .. })
        ),
        "{err}"
    );
    let err = step(
        "call after oversize",
        limited.call(
            "test.features.none",
            vec![],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.wamp_uri(), Some("wamp.error.no_such_procedure"));
    limited.leave().await.expect("leave");
}

struct DropSignal(Option<oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn pubsub_features(subscriber: &Session, publisher: &Session, bystander: &Session) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let sink = move |ev: Event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(ev);
        }
    };
    let wild = subscriber
        .subscribe(
            "test.features..temperature",
            SubscribeOptions {
                match_policy: MatchPolicy::Wildcard,
                ..SubscribeOptions::default()
            },
            sink,
        )
        .await
        .expect("wildcard subscribe");
    let (btx, mut brx) = mpsc::unbounded_channel::<Event>();
    let _b = bystander
        .subscribe(
            "test.features.kitchen.temperature",
            SubscribeOptions::default(),
            move |ev| {
                let btx = btx.clone();
                async move {
                    let _ = btx.send(ev);
                }
            },
        )
        .await
        .expect("bystander subscribe");

    // Eligible: only the subscriber gets it; the topic comes from the details.
    publisher
        .publish(
            "test.features.kitchen.temperature",
            vec![Value::from(21.5)],
            Dict::new(),
            PublishOptions {
                acknowledge: true,
                disclose_me: true,
                eligible: vec![subscriber.session_id().unwrap()],
                ..PublishOptions::default()
            },
        )
        .await
        .expect("publish eligible");
    let ev = step("wildcard event", rx.recv()).await.expect("event");
    assert_eq!(ev.topic, "test.features.kitchen.temperature");
    assert_eq!(ev.args, vec![Value::from(21.5)]);
    assert_eq!(ev.publisher(), Some(publisher.session_id().unwrap()));

    // Exclude: the subscriber is excluded, the bystander gets it.
    publisher
        .publish(
            "test.features.kitchen.temperature",
            vec![Value::from(22)],
            Dict::new(),
            PublishOptions {
                acknowledge: true,
                exclude: vec![subscriber.session_id().unwrap()],
                ..PublishOptions::default()
            },
        )
        .await
        .expect("publish exclude");
    let ev = step("bystander event", brx.recv()).await.expect("event");
    assert_eq!(ev.args, vec![Value::from(22)]);
    // The earlier publication was eligible for the subscriber only: the bystander never saw it.
    assert!(brx.try_recv().is_err());
    // A marker publication to everyone shows the excluded one never reached the subscriber.
    publisher
        .publish(
            "test.features.hall.temperature",
            vec![Value::from("marker")],
            Dict::new(),
            PublishOptions::acknowledged(),
        )
        .await
        .expect("publish marker");
    let ev = step("marker event", rx.recv()).await.expect("event");
    assert_eq!(
        ev.args,
        vec![Value::from("marker")],
        "excluded event was delivered"
    );
    wild.unsubscribe().await.expect("unsubscribe");

    // An acknowledged publication the router refuses comes back as a WAMP error.
    let err = publisher
        .publish(
            "wamp.reserved.topic",
            vec![],
            Dict::new(),
            PublishOptions::acknowledged(),
        )
        .await
        .unwrap_err();
    assert!(err.wamp_uri().is_some(), "{err}");
}

async fn ping_detects_frozen_router(router: &tk::Crossbar) {
    let component = Component::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous())
        .transport(
            TransportConfig::new(router.ws_url.clone())
                .with_serializer(Serializer::MsgPack)
                .with_auto_ping(Some(Duration::from_millis(500)), Duration::from_secs(2))
                .with_retry(RetryPolicy {
                    max_retries: 0,
                    ..RetryPolicy::default()
                }),
        )
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    loop {
        match step("ready", events.recv()).await.expect("events") {
            LifecycleEvent::Ready { .. } => break,
            LifecycleEvent::Stopped { reason } => panic!("component stopped: {reason}"),
            _ => {}
        }
    }
    // Answered pings keep the session up across several intervals.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(running.session().is_connected());
    router.freeze();
    let reason = loop {
        match step("disconnect", events.recv()).await.expect("events") {
            LifecycleEvent::Disconnected { reason, .. } => break reason,
            _ => continue,
        }
    };
    router.thaw();
    assert!(reason.contains("no pong"), "{reason}");
    let err = step("component end", running.wait()).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::PingTimeout(_))),
        "{err}"
    );
}

/// A result larger than the client's WebSocket limit fails the connection with a clear error
/// (tungstenite's frame/message limit), not an allocation of the whole message.
async fn oversize_incoming_on_websocket(router: &tk::Crossbar) {
    let callee = connect(&router.ws_url, Serializer::Cbor).await;
    let reg = callee
        .register(
            "test.features.big",
            RegisterOptions::default(),
            |_inv| async move {
                Ok(InvocationResult::args(vec![Value::bytes(vec![
                    7u8;
                    200_000
                ])]))
            },
        )
        .await
        .expect("register big");
    let component = Component::new(tk::REALM_ANONYMOUS, ClientAuth::anonymous())
        .transport(
            TransportConfig::new(router.ws_url.clone())
                .with_serializer(Serializer::Cbor)
                .with_max_message_size(64 * 1024)
                .with_retry(RetryPolicy {
                    max_retries: 0,
                    ..RetryPolicy::default()
                }),
        )
        .jitter(Jitter::none());
    let mut events = component.events();
    let running = component.start();
    loop {
        match step("ready", events.recv()).await.expect("events") {
            LifecycleEvent::Ready { .. } => break,
            LifecycleEvent::Stopped { reason } => panic!("component stopped: {reason}"),
            _ => {}
        }
    }
    let err = step(
        "big call",
        running.session().call(
            "test.features.big",
            vec![],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ConnectionLost), "{err}");
    let err = step("component end", running.wait()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport(TransportError::MessageTooLarge { limit: 65536, .. })
        ),
        "{err}"
    );
    reg.unregister().await.expect("unregister");
    callee.leave().await.expect("leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advanced_features_on_crossbar() {
    let router = tokio::task::spawn_blocking(tk::Crossbar::start)
        .await
        .expect("router starts");
    for (url, serializer) in [
        (router.ws_url.clone(), Serializer::Cbor),
        (router.rs_url.clone(), Serializer::MsgPack),
        (router.ws_url.clone(), Serializer::Json),
    ] {
        let callee = connect(&url, serializer).await;
        let caller = connect(&url, serializer).await;
        let bystander = connect(&url, serializer).await;
        rpc_features(&callee, &caller).await;
        pubsub_features(&callee, &caller, &bystander).await;
        for s in [callee, caller, bystander] {
            s.leave().await.expect("leave");
        }
    }
    oversize_incoming_on_websocket(&router).await;
    ping_detects_frozen_router(&router).await;
    full_subscription_queue_sheds(&router).await;
    progress_overflow_cancels_the_call(&router).await;
    invocations_beyond_the_bound_are_refused(&router).await;
    drop(router);
}

/// A handler that does not keep up: the events beyond the subscription's queue are dropped and
/// counted, the queued ones are delivered once it resumes, and the session stays up.
async fn full_subscription_queue_sheds(router: &tk::Crossbar) {
    let subscriber = connect(&router.ws_url, Serializer::Cbor).await;
    let publisher = connect(&router.ws_url, Serializer::Cbor).await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (seen_tx, mut seen) = mpsc::channel::<i64>(wamp_client::session::SUBSCRIPTION_QUEUE + 8);
    let holding = Arc::new(AtomicBool::new(false));
    let (g, h) = (gate.clone(), holding.clone());
    let _sub = subscriber
        .subscribe(
            "test.features.flood",
            SubscribeOptions::default(),
            move |ev| {
                let (g, h) = (g.clone(), h.clone());
                let seen_tx = seen_tx.clone();
                async move {
                    h.store(true, Ordering::SeqCst);
                    g.acquire().await.expect("gate").forget();
                    let n = ev.args.first().and_then(Value::as_i64).unwrap_or(-1);
                    let _ = seen_tx.send(n).await;
                }
            },
        )
        .await
        .expect("subscribe");
    // The handler holds the first event; the queue takes SUBSCRIPTION_QUEUE more; 50 overflow.
    let total = wamp_client::session::SUBSCRIPTION_QUEUE as i64 + 51;
    for n in 0..total {
        if n == 1 {
            step("the handler holds the first event", async {
                while !holding.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
        }
        step(
            "publish",
            publisher.publish(
                "test.features.flood",
                vec![Value::from(n)],
                Dict::new(),
                PublishOptions::acknowledged(),
            ),
        )
        .await
        .expect("publish");
    }
    step("the overflow is counted", async {
        while subscriber.dropped_events() < 50 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(subscriber.dropped_events(), 50);
    gate.add_permits(total as usize);
    let mut got = Vec::new();
    while got.len() < total as usize - 50 {
        got.push(
            step("queued events arrive", seen.recv())
                .await
                .expect("event"),
        );
    }
    assert_eq!(
        got,
        (0..total - 50).collect::<Vec<_>>(),
        "the oldest are kept, in order"
    );
    assert!(subscriber.is_connected());
    for s in [subscriber, publisher] {
        s.leave().await.expect("leave");
    }
}

/// A caller that does not read a progressive call's results while the callee sends without
/// end: past the progress queue the call is cancelled at the callee (its handler is dropped),
/// the caller gets the queued results and then `Error::Overflow`, and the session stays up.
async fn progress_overflow_cancels_the_call(router: &tk::Crossbar) {
    let callee = connect(&router.ws_url, Serializer::Cbor).await;
    let caller = connect(&router.ws_url, Serializer::Cbor).await;
    let (dropped_tx, dropped_rx) = oneshot::channel::<()>();
    let dropped_tx = Arc::new(std::sync::Mutex::new(Some(dropped_tx)));
    let _reg = callee
        .register(
            "test.features.endless",
            RegisterOptions::default(),
            move |inv| {
                let guard = DropSignal(dropped_tx.lock().unwrap().take());
                async move {
                    let _guard = guard;
                    for i in 0..1_000_000i64 {
                        inv.progress(vec![Value::from(i)], Dict::new())
                            .await
                            .map_err(|e| {
                                InvocationError::message("test.error.progress", e.to_string())
                            })?;
                    }
                    Ok(InvocationResult::empty())
                }
            },
        )
        .await
        .expect("register endless");
    let mut call = step(
        "endless call",
        caller.call_progressive(
            "test.features.endless",
            vec![],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .expect("endless call starts");
    step("the callee is interrupted", dropped_rx)
        .await
        .expect("handler future dropped on the overflow's cancel");
    let limit = wamp_client::session::PROGRESS_QUEUE;
    for i in 0..limit {
        let (r, progress) = step("queued result", call.next())
            .await
            .expect("an item")
            .expect("a progressive result");
        assert!(progress);
        assert_eq!(r.args, vec![Value::from(i as i64)]);
    }
    let last = step("the overflow", call.next())
        .await
        .expect("a last item");
    assert!(
        matches!(last, Err(Error::Overflow { limit: l, .. }) if l == limit),
        "{last:?}"
    );
    assert!(call.next().await.is_none());
    assert!(caller.is_connected() && callee.is_connected());
    assert_eq!(caller.progress_overflows(), 1, "the overflow is counted");
    for s in [caller, callee] {
        s.leave().await.expect("leave");
    }
}

/// A callee whose handlers do not finish while callers keep calling: the invocations beyond
/// `INVOCATIONS_IN_FLIGHT` are refused at once with `wamp.error.unavailable` and counted, the
/// running ones complete once released, and both sessions stay up.
async fn invocations_beyond_the_bound_are_refused(router: &tk::Crossbar) {
    let callee = connect(&router.ws_url, Serializer::Cbor).await;
    let caller = connect(&router.ws_url, Serializer::Cbor).await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let _reg = callee
        .register(
            "test.features.stuck",
            RegisterOptions::default(),
            move |_inv| {
                let g = g.clone();
                async move {
                    g.acquire().await.expect("gate").forget();
                    Ok(InvocationResult::args(vec![Value::from("done")]))
                }
            },
        )
        .await
        .expect("register stuck");
    let limit = wamp_client::session::INVOCATIONS_IN_FLIGHT;
    let extra = 3;
    let calls: Vec<_> = (0..limit + extra)
        .map(|_| {
            let caller = caller.clone();
            tokio::spawn(async move {
                caller
                    .call(
                        "test.features.stuck",
                        vec![],
                        Dict::new(),
                        CallOptions::default(),
                    )
                    .await
            })
        })
        .collect();
    step("the extra invocations are refused", async {
        while callee.refused_invocations() < extra as u64 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    gate.add_permits(limit + extra);
    let (mut done, mut refused) = (0, 0);
    for call in calls {
        match step("a call ends", call).await.expect("call task") {
            Ok(r) => {
                assert_eq!(r.args, vec![Value::from("done")]);
                done += 1;
            }
            Err(e) => {
                assert_eq!(e.wamp_uri(), Some("wamp.error.unavailable"), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((done, refused), (limit, extra));
    assert_eq!(callee.refused_invocations(), extra as u64);
    assert!(caller.is_connected() && callee.is_connected());
    for s in [caller, callee] {
        s.leave().await.expect("leave");
    }
}

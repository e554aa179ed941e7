//! Integers of any sign and size, and payloads this client cannot represent, from an
//! Autobahn|Python peer (`tests/peers/integers_peer.py`) through Crossbar.io, in JSON and CBOR.
//!
//! The peer publishes integers below −2^63 and beyond u64 (they arrive exactly), then an event
//! nested deeper than the client accepts (dropped and counted, the session stays up), then one
//! more event (it arrives). A call returns such integers, and an echo shows that Python decodes
//! what we send back as the same integers.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use wamp_client::{CallOptions, Session, SubscribeOptions, TransportConfig};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit::{Crossbar, PythonPeer, REALM_ANONYMOUS};

const PEER: &str = "crates/wamp-client/tests/peers/integers_peer.py";
const PEER_START: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(30);

/// The peer's `INTEGERS`.
fn integers() -> Vec<Value> {
    let two_200: Vec<u8> = std::iter::once(1).chain([0; 25]).collect();
    vec![
        Value::from(i128::from(i64::MIN) - 1),
        Value::from(-(1i128 << 64)),
        Value::from(-(1i128 << 64) - 1),
        Value::from(1u128 << 64),
        Value::from_be_bytes_neg(&two_200),
        Value::from_be_bytes_uint(&two_200),
    ]
}

fn integers_from_python(serializer: Serializer) {
    let router = Crossbar::start();
    let mut peer = PythonPeer::spawn(
        Path::new(PEER),
        &[&router.ws_url, REALM_ANONYMOUS, serializer.name()],
        &[],
    );
    peer.wait_for_line("READY", PEER_START);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let transport = TransportConfig::new(&router.rs_url).with_serializer(serializer);
    let config = SessionConfig::new(REALM_ANONYMOUS, ClientAuth::anonymous());
    let session = rt
        .block_on(Session::connect(&transport, config))
        .expect("join");
    let call = |procedure: &str, args: Vec<Value>| {
        rt.block_on(session.call(
            procedure,
            args,
            Dict::new(),
            CallOptions::with_timeout(STEP),
        ))
        .unwrap_or_else(|e| panic!("{procedure}: {e}"))
    };

    // A result holding them.
    let values = call("com.interop.int.values", vec![]);
    assert_eq!(values.args, integers());
    assert_eq!(values.kwargs.get("neg"), Some(&integers()[2]));

    // Sent back, Python decodes the same integers.
    let echoed = call("com.interop.int.echo", integers());
    assert_eq!(echoed.args, integers());
    assert_eq!(echoed.kwargs.get("same"), Some(&Value::Bool(true)));

    // Events: the integers, then one we cannot represent (dropped), then one more.
    // The Python peer publishes three events; a few slots are plenty.
    let (events_tx, mut events) = mpsc::channel(8);
    rt.block_on(session.subscribe(
        "com.interop.int.event",
        SubscribeOptions::default(),
        move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event.args).await;
            }
        },
    ))
    .expect("subscribe");
    let published = call("com.interop.int.publish", vec![]);
    assert_eq!(published.args, vec![Value::from(3)]);
    let mut next = || {
        rt.block_on(async { tokio::time::timeout(STEP, events.recv()).await })
            .expect("event in time")
            .expect("subscription open")
    };
    assert_eq!(next(), integers());
    assert_eq!(next(), vec![Value::from("after")]);
    assert_eq!(session.dropped_events(), 1);
    assert!(session.is_connected());

    rt.block_on(session.leave()).expect("leave");
}

#[test]
fn integers_from_python_json() {
    integers_from_python(Serializer::Json);
}

#[test]
fn integers_from_python_cbor() {
    integers_from_python(Serializer::Cbor);
}

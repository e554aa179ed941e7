//! The client against a real Crossbar.io router: every transport × serializer × authentication
//! method joins, registers and calls, subscribes and publishes with acknowledgement; wrong
//! credentials end in a clean authentication error. One router serves the whole binary.

use std::time::Duration;

use tokio::sync::mpsc;
use wamp_client::{
    CallOptions, Component, Error, InvocationError, InvocationResult, JoinError, LifecycleEvent,
    PublishOptions, RegisterOptions, Session, SubscribeOptions, TransportConfig,
};
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit as tk;

/// Upper bound for any single step: a hang is a failure, not a stuck test.
const STEP: Duration = Duration::from_secs(60);

async fn step<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {STEP:?}"))
}

#[derive(Clone, Copy, Debug)]
enum Auth {
    Anonymous,
    Ticket,
    WampCra,
    WampCraSalted,
    Cryptosign,
}

impl Auth {
    const ALL: [Auth; 5] = [
        Auth::Anonymous,
        Auth::Ticket,
        Auth::WampCra,
        Auth::WampCraSalted,
        Auth::Cryptosign,
    ];

    fn realm(self) -> &'static str {
        match self {
            Auth::Anonymous => tk::REALM_ANONYMOUS,
            _ => tk::REALM_AUTH,
        }
    }

    fn good(self) -> ClientAuth {
        match self {
            Auth::Anonymous => ClientAuth::anonymous(),
            Auth::Ticket => ClientAuth::ticket(tk::TICKET_AUTHID, tk::TICKET_SECRET),
            Auth::WampCra => ClientAuth::wampcra(tk::WAMPCRA_AUTHID, tk::WAMPCRA_SECRET),
            Auth::WampCraSalted => {
                ClientAuth::wampcra(tk::WAMPCRA_SALTED_AUTHID, tk::WAMPCRA_SECRET)
            }
            Auth::Cryptosign => ClientAuth::cryptosign(
                tk::CRYPTOSIGN_AUTHID,
                CryptosignKey::from_hex(tk::CRYPTOSIGN_PRIVATE_KEY_HEX).expect("test key"),
            ),
        }
    }

    fn bad(self) -> Option<ClientAuth> {
        match self {
            Auth::Anonymous => None,
            Auth::Ticket => Some(ClientAuth::ticket(tk::TICKET_AUTHID, "not-the-ticket")),
            Auth::WampCra => Some(ClientAuth::wampcra(tk::WAMPCRA_AUTHID, "not-the-secret")),
            Auth::WampCraSalted => Some(ClientAuth::wampcra(
                tk::WAMPCRA_SALTED_AUTHID,
                "not-the-secret",
            )),
            Auth::Cryptosign => Some(ClientAuth::cryptosign(
                tk::CRYPTOSIGN_AUTHID,
                CryptosignKey::from_seed([7u8; 32]),
            )),
        }
    }

    fn method(self) -> &'static str {
        match self {
            Auth::Anonymous => "anonymous",
            Auth::Ticket => "ticket",
            Auth::WampCra | Auth::WampCraSalted => "wampcra",
            Auth::Cryptosign => "cryptosign",
        }
    }
}

/// Join, register + call (ints, bytes, a big integer where the serializer has them, an error
/// with payload), subscribe + acknowledged publish with the event's details, leave.
async fn exercise(url: &str, serializer: Serializer, auth: Auth, tag: &str) {
    let transport = TransportConfig::new(url).with_serializer(serializer);
    let session = step(
        tag,
        Session::connect(&transport, SessionConfig::new(auth.realm(), auth.good())),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: join failed: {e}"));
    let info = session.info().expect("joined");
    assert_eq!(info.serializer, serializer, "{tag}");
    assert_eq!(
        info.details.get("authmethod").and_then(Value::as_str),
        Some(auth.method()),
        "{tag}: {:?}",
        info.details
    );

    let procedure = format!("test.matrix.{tag}.add");
    let reg = step(
        tag,
        session.register(&procedure, RegisterOptions::default(), |inv| async move {
            match (inv.args.first().and_then(Value::as_i64), inv.args.get(1)) {
                (Some(a), Some(Value::Bytes(b))) => Ok(InvocationResult::new(
                    vec![
                        Value::from(a + b.len() as i64),
                        Value::bytes(b.iter().rev().copied().collect::<Vec<u8>>()),
                    ],
                    inv.kwargs,
                )),
                (Some(a), Some(b)) => match b.as_i64() {
                    Some(b) => Ok(InvocationResult::args(vec![Value::from(a + b)])),
                    None => Err(InvocationError::with_payload(
                        "test.error.bad_argument",
                        vec![Value::from("second argument must be an integer or bytes")],
                        Dict::from_iter([("got".to_string(), b.clone())]),
                    )),
                },
                _ => Err(InvocationError::new("test.error.missing_arguments")),
            }
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: register failed: {e}"));

    let sum = step(
        tag,
        session.call(
            &procedure,
            vec![Value::from(2), Value::from(3)],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: call failed: {e}"));
    assert_eq!(sum.args, vec![Value::from(5)], "{tag}");

    let mut kwargs = Dict::new();
    if serializer != Serializer::MsgPack {
        // 35e18 does not fit in MsgPack's 64-bit integers; CBOR and JSON carry it.
        kwargs.insert(
            "amount".into(),
            Value::from_u128(35_000_000_000_000_000_000),
        );
    }
    kwargs.insert(
        "nested".into(),
        Value::Dict(Dict::from_iter([(
            "list".to_string(),
            Value::List(vec![Value::Null, Value::Bool(true)]),
        )])),
    );
    let out = step(
        tag,
        session.call(
            &procedure,
            vec![Value::from(1), Value::bytes(vec![0u8, 1, 2, 255])],
            kwargs.clone(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: bytes call failed: {e}"));
    assert_eq!(
        out.args,
        vec![Value::from(5), Value::bytes(vec![255u8, 2, 1, 0])],
        "{tag}"
    );
    assert_eq!(out.kwargs, kwargs, "{tag}");

    let err = step(
        tag,
        session.call(
            &procedure,
            vec![Value::from(1), Value::from("x")],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    let wamp = err
        .as_wamp()
        .unwrap_or_else(|| panic!("{tag}: expected a WAMP error, got {err}"));
    assert_eq!(wamp.uri, "test.error.bad_argument", "{tag}");
    assert_eq!(
        wamp.args,
        vec![Value::from("second argument must be an integer or bytes")],
        "{tag}"
    );
    assert_eq!(wamp.kwargs.get("got"), Some(&Value::from("x")), "{tag}");

    let topic = format!("test.matrix.{tag}.news");
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let sub = step(
        tag,
        session.subscribe(&topic, SubscribeOptions::default(), move |ev| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(ev);
            }
        }),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: subscribe failed: {e}"));
    let options = PublishOptions {
        acknowledge: true,
        exclude_me: Some(false),
        disclose_me: true,
        ..PublishOptions::default()
    };
    let publication = step(
        tag,
        session.publish(
            &topic,
            vec![Value::from("hello"), Value::bytes(vec![9u8; 3])],
            Dict::new(),
            options,
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: publish failed: {e}"));
    let publication = publication.expect("acknowledged publish returns the publication id");
    let event = step(tag, events_rx.recv()).await.expect("event");
    assert_eq!(event.publication, publication, "{tag}");
    assert_eq!(event.topic, topic, "{tag}");
    assert_eq!(
        event.args,
        vec![Value::from("hello"), Value::bytes(vec![9u8; 3])],
        "{tag}"
    );
    assert_eq!(
        event.publisher(),
        Some(info.session_id),
        "{tag}: {:?}",
        event.details
    );

    step(tag, sub.unsubscribe())
        .await
        .unwrap_or_else(|e| panic!("{tag}: unsubscribe: {e}"));
    step(tag, reg.unregister())
        .await
        .unwrap_or_else(|e| panic!("{tag}: unregister: {e}"));
    let gone = step(
        tag,
        session.call(
            &procedure,
            vec![Value::from(1), Value::from(1)],
            Dict::new(),
            CallOptions::default(),
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(
        gone.wamp_uri(),
        Some("wamp.error.no_such_procedure"),
        "{tag}: {gone}"
    );
    step(tag, session.leave())
        .await
        .unwrap_or_else(|e| panic!("{tag}: leave: {e}"));
    assert!(!session.is_connected(), "{tag}");
}

async fn expect_auth_failure(url: &str, serializer: Serializer, auth: Auth, tag: &str) {
    let transport = TransportConfig::new(url).with_serializer(serializer);
    let bad = auth.bad().expect("has bad credentials");
    let err = step(
        tag,
        Session::connect(&transport, SessionConfig::new(auth.realm(), bad)),
    )
    .await
    .expect_err("wrong credentials must not join");
    match &err {
        Error::Join(JoinError::AuthenticationFailed { reason, .. }) => {
            assert!(reason.starts_with("wamp.error."), "{tag}: {reason}")
        }
        other => panic!("{tag}: expected an authentication failure, got {other:?}"),
    }
}

fn start_router() -> tk::Crossbar {
    tk::Crossbar::start()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_on_crossbar() {
    let router = tokio::task::spawn_blocking(start_router)
        .await
        .expect("router starts");
    let unix_url = format!("rs+unix://{}", router.unix_path.display());
    let transports = [("ws", router.ws_url.clone()), ("rs", router.rs_url.clone())];

    for (kind, url) in &transports {
        for serializer in Serializer::ALL {
            for auth in Auth::ALL {
                let tag = format!("{kind}_{}_{:?}", serializer.name(), auth).to_lowercase();
                exercise(url, serializer, auth, &tag).await;
            }
        }
    }
    // RawSocket over the Unix socket.
    for serializer in Serializer::ALL {
        let tag = format!("unix_{}", serializer.name());
        exercise(&unix_url, serializer, Auth::Ticket, &tag).await;
    }
    exercise(
        &unix_url,
        Serializer::Cbor,
        Auth::Cryptosign,
        "unix_cbor_cryptosign",
    )
    .await;

    // Wrong credentials: a clean authentication error for every method on both transports.
    for (kind, url) in &transports {
        for auth in [
            Auth::Ticket,
            Auth::WampCra,
            Auth::WampCraSalted,
            Auth::Cryptosign,
        ] {
            let tag = format!("bad_{kind}_{auth:?}");
            expect_auth_failure(url, Serializer::Cbor, auth, &tag).await;
        }
    }

    // A component with wrong credentials stops after one attempt instead of retrying forever.
    let component = Component::new(tk::REALM_AUTH, Auth::Ticket.bad().unwrap())
        .transport(TransportConfig::new(router.rs_url.clone()).with_serializer(Serializer::Json));
    let mut events = component.events();
    let err = step("component with bad ticket", component.start().wait())
        .await
        .unwrap_err();
    assert!(err.is_authentication_failure(), "{err}");
    let mut attempts = 0;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, LifecycleEvent::Connected { .. }) {
            attempts += 1;
        }
    }
    assert_eq!(attempts, 1);

    drop(router);
}

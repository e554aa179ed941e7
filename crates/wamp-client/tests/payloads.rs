//! A result this client cannot decode fails only its call (against the in-process fake router).

mod common;

use common::fake_router::{Behavior, FakeRouter};
use wamp_client::{CallOptions, Error, Session, TransportConfig};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::{INVALID_PAYLOAD, SessionConfig};
use wamp_proto::{Dict, Serializer, Value};

#[tokio::test]
async fn an_undecodable_result_fails_its_call_and_the_session_stays() {
    let router = FakeRouter::start(Behavior::default()).await;
    let transport = TransportConfig::new(&router.url).with_serializer(Serializer::Json);
    let config = SessionConfig::new("realm1", ClientAuth::anonymous());
    let session = Session::connect(&transport, config).await.expect("join");

    let call = |procedure: &'static str| {
        let session = session.clone();
        async move {
            session
                .call(
                    procedure,
                    vec![Value::from(1)],
                    Dict::new(),
                    CallOptions::default(),
                )
                .await
        }
    };
    match call("test.bad_payload").await {
        Err(Error::Wamp(e)) => {
            assert_eq!(e.uri, INVALID_PAYLOAD);
            assert!(format!("{:?}", e.args).contains("RESULT"), "{e:?}");
        }
        other => panic!("expected {INVALID_PAYLOAD}, got {other:?}"),
    }
    assert!(session.is_connected());
    let echoed = call("test.echo").await.expect("echo after the bad result");
    assert_eq!(echoed.args, vec![Value::from(1)]);
    session.leave().await.expect("leave");
}

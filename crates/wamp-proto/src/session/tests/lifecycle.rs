//! URI checks, states, leaving, the router's GOODBYE / ABORT, frame limits and request ids.

use super::*;

#[test]
fn invalid_uris_are_refused_before_sending() {
    let mut s = joined();
    assert!(matches!(
        s.call(now(), "com..x", vec![], Dict::new(), Dict::new(), None),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.publish(now(), "com x", vec![], Dict::new(), Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.subscribe(now(), "com..x", Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.register(now(), "", Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.register(now(), "com.x", d(&[("match", "regex".into())])),
        Err(SessionError::Uri(_))
    ));
    assert!(drain_out(&mut s).is_empty());
    let mut strict = SessionConfig::new("realm1", ClientAuth::anonymous());
    strict.strict_uris = true;
    let mut s = Session::new(strict);
    s.join(now(), [0; 32]).expect("join");
    s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    })
    .expect("welcome");
    assert!(matches!(
        s.call(now(), "com.Upper", vec![], Dict::new(), Dict::new(), None),
        Err(SessionError::Uri(_))
    ));
}

#[test]
fn requests_need_an_established_session() {
    let mut s = session_with(ClientAuth::anonymous());
    assert!(matches!(
        s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None),
        Err(SessionError::InvalidState { .. })
    ));
    assert!(matches!(
        s.leave(now(), "wamp.close.normal"),
        Err(SessionError::InvalidState { .. })
    ));
    let r = s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    });
    assert!(matches!(r, Err(SessionError::Protocol(_))));
}

#[test]
fn client_leave_then_router_goodbye() {
    let mut s = joined();
    s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)
        .expect("call");
    drain_out(&mut s);
    s.leave(now(), "wamp.close.normal").expect("leave");
    assert_eq!(s.state(), SessionState::Closing);
    assert_eq!(
        drain_out(&mut s),
        vec![Message::Goodbye {
            details: Dict::new(),
            reason: "wamp.close.normal".into()
        }]
    );
    // A result in flight is dropped while closing.
    s.handle_message(Message::Result {
        request: 1,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("late result");
    s.handle_message(Message::Goodbye {
        details: Dict::new(),
        reason: GOODBYE_AND_OUT.into(),
    })
    .expect("goodbye");
    assert_eq!(s.state(), SessionState::Closed);
    assert!(
        drain_out(&mut s).is_empty(),
        "no reply to the router's GOODBYE"
    );
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Left {
            reason: GOODBYE_AND_OUT.into(),
            details: Dict::new()
        }]
    );
    // The session can join again; request ids restart.
    s.join(now(), [0; 32]).expect("rejoin");
    s.handle_message(Message::Welcome {
        session: 2,
        details: Dict::new(),
    })
    .expect("welcome");
    assert_eq!(
        s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None),
        Ok(1)
    );
}

#[test]
fn router_goodbye_is_answered() {
    let mut s = joined();
    s.handle_message(Message::Goodbye {
        details: Dict::new(),
        reason: "wamp.close.system_shutdown".into(),
    })
    .expect("goodbye");
    assert_eq!(
        drain_out(&mut s),
        vec![Message::Goodbye {
            details: Dict::new(),
            reason: GOODBYE_AND_OUT.into()
        }]
    );
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Left {
            reason: "wamp.close.system_shutdown".into(),
            details: Dict::new()
        }]
    );
}

#[test]
fn router_abort_when_established() {
    let mut s = joined();
    s.handle_message(Message::Abort {
        details: Dict::new(),
        reason: "wamp.error.system_shutdown".into(),
    })
    .expect("abort");
    assert_eq!(s.state(), SessionState::Closed);
    assert!(drain_out(&mut s).is_empty());
}

#[test]
fn handle_bytes_decodes_within_limit() {
    let mut s = joined();
    let req = s
        .call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)
        .expect("call");
    let bytes = Serializer::MsgPack
        .encode(&Message::Result {
            request: req,
            details: Dict::new(),
            args: vec![Value::bytes(vec![1u8; 8])],
            kwargs: Dict::new(),
        })
        .expect("encode");
    s.handle_bytes(Serializer::MsgPack, &bytes).expect("result");
    assert!(matches!(
        drain_events(&mut s).as_slice(),
        [SessionEvent::CallResult { .. }]
    ));
}

#[test]
fn request_ids_wrap_at_2_pow_53() {
    let mut s = joined();
    s.last_request = MAX_ID - 1;
    assert_eq!(
        s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None),
        Ok(MAX_ID)
    );
    assert_eq!(
        s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None),
        Ok(1)
    );
    s.last_request = MAX_ID;
    // 1 is still pending: skipped.
    assert_eq!(
        s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None),
        Ok(2)
    );
}

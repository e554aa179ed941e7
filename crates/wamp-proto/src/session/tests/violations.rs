//! Protocol violations by the router.

use super::*;

#[test]
fn violations_abort_with_protocol_violation() {
    type Case = (&'static str, fn(&mut Session) -> Result<(), SessionError>);
    let cases: &[Case] = &[
        ("result for unknown request", |s| {
            s.handle_message(Message::Result {
                request: 9,
                details: Dict::new(),
                args: vec![],
                kwargs: Dict::new(),
            })
        }),
        ("error of wrong kind", |s| {
            let req = s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)?;
            s.handle_message(Message::Error {
                request_type: code::REGISTER,
                request: req,
                details: Dict::new(),
                error: "e.x".into(),
                args: vec![],
                kwargs: Dict::new(),
            })
        }),
        ("registered for a call", |s| {
            let req = s.call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)?;
            s.handle_message(Message::Registered {
                request: req,
                registration: 1,
            })
        }),
        ("subscribed for unknown", |s| {
            s.handle_message(Message::Subscribed {
                request: 3,
                subscription: 1,
            })
        }),
        ("unsubscribed for unknown", |s| {
            s.handle_message(Message::Unsubscribed {
                request: 3,
                details: None,
            })
        }),
        ("unregistered for unknown", |s| {
            s.handle_message(Message::Unregistered {
                request: 3,
                details: None,
            })
        }),
        ("revocation without id", |s| {
            s.handle_message(Message::Unregistered {
                request: 0,
                details: Some(Dict::new()),
            })
        }),
        ("event unknown subscription", |s| {
            s.handle_message(Message::Event {
                subscription: 1,
                publication: 1,
                details: Dict::new(),
                args: vec![],
                kwargs: Dict::new(),
            })
        }),
        ("invocation unknown registration", |s| {
            s.handle_message(Message::Invocation {
                request: 1,
                registration: 1,
                details: Dict::new(),
                args: vec![],
                kwargs: Dict::new(),
            })
        }),
        ("welcome when established", |s| {
            s.handle_message(Message::Welcome {
                session: 1,
                details: Dict::new(),
            })
        }),
        ("challenge when established", |s| {
            s.handle_message(Message::Challenge {
                authmethod: "ticket".into(),
                extra: Dict::new(),
            })
        }),
        ("client message from router", |s| {
            s.handle_message(Message::Call {
                request: 1,
                options: Dict::new(),
                procedure: "a.b".into(),
                args: vec![],
                kwargs: Dict::new(),
            })
        }),
        ("hello from router", |s| {
            s.handle_message(Message::Hello {
                realm: "r".into(),
                details: Dict::new(),
            })
        }),
        ("undecodable frame", |s| {
            s.handle_bytes(Serializer::Json, b"[36, 1")
        }),
        ("unknown code", |s| {
            s.handle_bytes(Serializer::Cbor, &[0x81, 0x18, 0x63])
        }),
        ("oversize frame", |s| {
            let mut big = b"[36,1,2,{},[\"".to_vec();
            big.resize(DEFAULT_MAX_MESSAGE_SIZE + 1, b'a');
            s.handle_bytes(Serializer::Json, &big)
        }),
    ];
    for (name, case) in cases {
        let mut s = joined();
        let r = case(&mut s);
        assert!(matches!(r, Err(SessionError::Protocol(_))), "{name}: {r:?}");
        let out = drain_out(&mut s);
        assert!(
            matches!(out.last(), Some(Message::Abort { reason, .. }) if reason == PROTOCOL_VIOLATION),
            "{name}: {out:?}"
        );
        assert_eq!(s.state(), SessionState::Closed, "{name}");
    }
    // While joining, anything but WELCOME/CHALLENGE/ABORT is a violation.
    let mut s = session_with(ClientAuth::anonymous());
    s.join(now(), [0; 32]).expect("join");
    let r = s.handle_message(Message::Event {
        subscription: 1,
        publication: 1,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    });
    assert_violation(&mut s, r);
    // A second CHALLENGE after AUTHENTICATE is a violation too.
    let mut s = session_with(ClientAuth::ticket("a", "b"));
    s.join(now(), [0; 32]).expect("join");
    s.handle_message(Message::Challenge {
        authmethod: "ticket".into(),
        extra: Dict::new(),
    })
    .expect("challenge");
    let r = s.handle_message(Message::Challenge {
        authmethod: "ticket".into(),
        extra: Dict::new(),
    });
    assert_violation(&mut s, r);
}

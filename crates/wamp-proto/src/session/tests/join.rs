//! Joining: HELLO, challenges, WELCOME and ABORT.

use super::*;

#[test]
fn anonymous_join_sends_hello_with_roles_and_emits_joined() {
    let mut s = session_with(ClientAuth::anonymous());
    assert_eq!(s.state(), SessionState::Closed);
    s.join(now(), [0; 32]).expect("join");
    assert_eq!(s.state(), SessionState::Establishing);
    let out = drain_out(&mut s);
    let [Message::Hello { realm, details }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(realm, "realm1");
    assert_eq!(
        details.get("authmethods"),
        Some(&Value::List(vec!["anonymous".into()]))
    );
    let roles = details
        .get("roles")
        .and_then(Value::as_dict)
        .expect("roles");
    for role in ["caller", "callee", "publisher", "subscriber"] {
        assert!(roles.contains_key(role), "{role}");
    }
    let caller = roles
        .get("caller")
        .and_then(Value::as_dict)
        .and_then(|r| r.get("features"))
        .and_then(Value::as_dict);
    assert_eq!(
        caller.and_then(|f| f.get("call_canceling")),
        Some(&Value::Bool(true))
    );
    assert!(matches!(
        s.join(now(), [0; 32]),
        Err(SessionError::InvalidState { .. })
    ));

    s.handle_message(Message::Welcome {
        session: 9,
        details: d(&[("authrole", "anonymous".into())]),
    })
    .expect("welcome");
    assert_eq!(s.state(), SessionState::Established);
    assert_eq!(s.session_id(), Some(9));
    assert!(matches!(
        drain_events(&mut s).as_slice(),
        [SessionEvent::Joined { session_id: 9, .. }]
    ));
}

#[test]
fn ticket_challenge_is_answered_with_authenticate() {
    let mut s = session_with(ClientAuth::ticket("alice", "secret-ticket"));
    s.join(now(), [1; 32]).expect("join");
    let out = drain_out(&mut s);
    let [Message::Hello { details, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(details.get("authid"), Some(&Value::from("alice")));
    s.handle_message(Message::Challenge {
        authmethod: "ticket".into(),
        extra: Dict::new(),
    })
    .expect("challenge");
    assert_eq!(s.state(), SessionState::Challenging);
    assert_eq!(
        drain_out(&mut s),
        vec![Message::Authenticate {
            signature: "secret-ticket".into(),
            extra: Dict::new()
        }]
    );
    s.handle_message(Message::Welcome {
        session: 5,
        details: Dict::new(),
    })
    .expect("welcome");
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn wampcra_challenge_signature_is_hmac_of_challenge() {
    let mut s = session_with(ClientAuth::wampcra("joe", "secret2"));
    s.join(now(), [1; 32]).expect("join");
    drain_out(&mut s);
    let challenge = "{\"nonce\": \"x\"}";
    s.handle_message(Message::Challenge {
        authmethod: "wampcra".into(),
        extra: d(&[("challenge", challenge.into())]),
    })
    .expect("challenge");
    let out = drain_out(&mut s);
    let [Message::Authenticate { signature, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    let expected = crate::auth::wampcra::compute_signature(b"secret2", challenge.as_bytes());
    assert_eq!(signature, &expected);
}

#[test]
fn challenge_for_another_method_aborts_cannot_authenticate() {
    let mut s = session_with(ClientAuth::anonymous());
    s.join(now(), [1; 32]).expect("join");
    drain_out(&mut s);
    let r = s.handle_message(Message::Challenge {
        authmethod: "ticket".into(),
        extra: Dict::new(),
    });
    assert!(matches!(r, Err(SessionError::Auth(_))), "{r:?}");
    assert!(
        matches!(drain_out(&mut s).as_slice(), [Message::Abort { reason, .. }] if reason == CANNOT_AUTHENTICATE)
    );
    assert_eq!(s.state(), SessionState::Closed);
}

#[test]
fn scram_welcome_without_server_signature_is_refused() {
    let mut s = session_with(ClientAuth::scram("u", "p"));
    s.join(now(), [3; 32]).expect("join");
    drain_out(&mut s);
    // WELCOME without a prior CHALLENGE: the router was never verified.
    let r = s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    });
    assert!(matches!(r, Err(SessionError::Auth(_))), "{r:?}");
    assert_eq!(s.state(), SessionState::Closed);
    assert!(
        drain_events(&mut s)
            .iter()
            .all(|e| !matches!(e, SessionEvent::Joined { .. }))
    );
}

#[test]
fn abort_during_join_keeps_reason() {
    for reason in [
        "wamp.error.not_authorized",
        "wamp.error.authentication_failed",
    ] {
        let mut s = session_with(ClientAuth::ticket("a", "b"));
        s.join(now(), [1; 32]).expect("join");
        s.handle_message(Message::Challenge {
            authmethod: "ticket".into(),
            extra: Dict::new(),
        })
        .expect("challenge");
        drain_out(&mut s);
        s.handle_message(Message::Abort {
            details: d(&[("message", "no".into())]),
            reason: reason.into(),
        })
        .expect("abort is not a violation");
        assert_eq!(s.state(), SessionState::Closed);
        assert!(drain_out(&mut s).is_empty());
        assert_eq!(
            drain_events(&mut s),
            vec![SessionEvent::Aborted {
                reason: reason.into(),
                details: d(&[("message", "no".into())])
            }]
        );
    }
}

#[test]
fn hello_carries_authid_authrole_and_method_authextra() {
    let auth = ClientAuth::scram("alice", "pw").with_authrole("user");
    let mut s = session_with(auth);
    s.join(now(), [9; 32]).expect("join");
    let out = drain_out(&mut s);
    let [Message::Hello { details, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(details.get("authid"), Some(&Value::from("alice")));
    assert_eq!(details.get("authrole"), Some(&Value::from("user")));
    assert_eq!(
        details.get("authmethods"),
        Some(&Value::List(vec!["scram".into()]))
    );
    let extra = details
        .get("authextra")
        .and_then(Value::as_dict)
        .expect("authextra");
    assert!(
        extra
            .get("nonce")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(extra.get("channel_binding"), Some(&Value::Null));
    // Anonymous HELLO has no authextra and no authid.
    let mut s = session_with(ClientAuth::anonymous());
    s.join(now(), [9; 32]).expect("join");
    let out = drain_out(&mut s);
    let [Message::Hello { details, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(!details.contains_key("authextra") && !details.contains_key("authid"));
}

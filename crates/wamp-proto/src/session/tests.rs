//! Scripted-router tests of the session state machine.

use super::*;
use crate::auth::ClientAuth;

fn d(entries: &[(&str, Value)]) -> Dict {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn session_with(auth: ClientAuth) -> Session {
    Session::new(SessionConfig::new("realm1", auth))
}

fn drain_out(s: &mut Session) -> Vec<Message> {
    std::iter::from_fn(|| s.poll_outgoing()).collect()
}

fn drain_events(s: &mut Session) -> Vec<SessionEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// A joined anonymous session with its queues drained.
fn joined() -> Session {
    let mut s = session_with(ClientAuth::anonymous());
    s.join([7; 32]).expect("join");
    drain_out(&mut s);
    s.handle_message(Message::Welcome {
        session: 42,
        details: Dict::new(),
    })
    .expect("welcome");
    drain_events(&mut s);
    s
}

/// Asserts that the last outgoing message is ABORT protocol_violation and the session closed.
fn assert_violation(s: &mut Session, result: Result<(), SessionError>) {
    assert!(
        matches!(result, Err(SessionError::Protocol(_))),
        "{result:?}"
    );
    let out = drain_out(s);
    assert!(
        matches!(out.last(), Some(Message::Abort { reason, .. }) if reason == PROTOCOL_VIOLATION),
        "{out:?}"
    );
    assert_eq!(s.state(), SessionState::Closed);
    assert!(drain_events(s).iter().any(
        |e| matches!(e, SessionEvent::Aborted { reason, .. } if reason == PROTOCOL_VIOLATION)
    ));
}

#[test]
fn anonymous_join_sends_hello_with_roles_and_emits_joined() {
    let mut s = session_with(ClientAuth::anonymous());
    assert_eq!(s.state(), SessionState::Closed);
    s.join([0; 32]).expect("join");
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
        s.join([0; 32]),
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
    s.join([1; 32]).expect("join");
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
    s.join([1; 32]).expect("join");
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
    s.join([1; 32]).expect("join");
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
    s.join([3; 32]).expect("join");
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
        s.join([1; 32]).expect("join");
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
fn call_result_progress_and_error() {
    let mut s = joined();
    let opts = d(&[("receive_progress", true.into())]);
    let r1 = s
        .call(
            "com.add",
            vec![1.into(), 2.into()],
            Dict::new(),
            opts.clone(),
        )
        .expect("call");
    let r2 = s
        .call("com.fail", vec![], Dict::new(), Dict::new())
        .expect("call");
    assert_eq!((r1, r2), (1, 2), "request ids are sequential from 1");
    let out = drain_out(&mut s);
    assert_eq!(
        out.first(),
        Some(&Message::Call {
            request: 1,
            options: opts,
            procedure: "com.add".into(),
            args: vec![1.into(), 2.into()],
            kwargs: Dict::new()
        })
    );

    let progress = d(&[("progress", true.into())]);
    s.handle_message(Message::Result {
        request: 1,
        details: progress.clone(),
        args: vec![1.into()],
        kwargs: Dict::new(),
    })
    .expect("progressive result");
    s.handle_message(Message::Result {
        request: 1,
        details: Dict::new(),
        args: vec![3.into()],
        kwargs: Dict::new(),
    })
    .expect("final result");
    s.handle_message(Message::Error {
        request_type: code::CALL,
        request: 2,
        details: Dict::new(),
        error: "com.error".into(),
        args: vec!["x".into()],
        kwargs: d(&[("k", 1.into())]),
    })
    .expect("error");
    assert_eq!(
        drain_events(&mut s),
        vec![
            SessionEvent::CallResult {
                request: 1,
                args: vec![1.into()],
                kwargs: Dict::new(),
                details: progress,
                progress: true
            },
            SessionEvent::CallResult {
                request: 1,
                args: vec![3.into()],
                kwargs: Dict::new(),
                details: Dict::new(),
                progress: false
            },
            SessionEvent::RequestError {
                request_type: code::CALL,
                request: 2,
                error: "com.error".into(),
                args: vec!["x".into()],
                kwargs: d(&[("k", 1.into())]),
                details: Dict::new(),
            },
        ]
    );
    // Request 1 is done: a second final RESULT is a violation.
    let r = s.handle_message(Message::Result {
        request: 1,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    });
    assert_violation(&mut s, r);
}

#[test]
fn cancel_sends_mode_and_waits_for_error() {
    let mut s = joined();
    let req = s
        .call("com.slow", vec![], Dict::new(), Dict::new())
        .expect("call");
    drain_out(&mut s);
    for (mode, name) in [
        (CancelMode::Skip, "skip"),
        (CancelMode::Kill, "kill"),
        (CancelMode::KillNoWait, "killnowait"),
    ] {
        s.cancel(req, mode).expect("cancel");
        assert_eq!(
            drain_out(&mut s),
            vec![Message::Cancel {
                request: req,
                options: d(&[("mode", name.into())])
            }]
        );
    }
    assert_eq!(
        s.cancel(99, CancelMode::Kill),
        Err(SessionError::NoSuchCall(99))
    );
    s.handle_message(Message::Error {
        request_type: code::CALL,
        request: req,
        details: Dict::new(),
        error: "wamp.error.canceled".into(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("canceled");
    assert!(
        matches!(drain_events(&mut s).as_slice(), [SessionEvent::RequestError { error, .. }] if error == "wamp.error.canceled")
    );
    assert_eq!(
        s.cancel(req, CancelMode::Kill),
        Err(SessionError::NoSuchCall(req))
    );
}

#[test]
fn register_invocation_yield_interrupt_unregister() {
    let mut s = joined();
    let req = s
        .register("com.p", d(&[("match", "prefix".into())]))
        .expect("register");
    drain_out(&mut s);
    s.handle_message(Message::Registered {
        request: req,
        registration: 100,
    })
    .expect("registered");
    assert_eq!(
        s.registrations().get(&100).map(String::as_str),
        Some("com.p")
    );

    let details = d(&[("receive_progress", true.into())]);
    s.handle_message(Message::Invocation {
        request: 5,
        registration: 100,
        details: details.clone(),
        args: vec![1.into()],
        kwargs: Dict::new(),
    })
    .expect("invocation");
    s.handle_message(Message::Invocation {
        request: 6,
        registration: 100,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("invocation");
    s.handle_message(Message::Interrupt {
        request: 6,
        options: d(&[("mode", "killnowait".into())]),
    })
    .expect("interrupt");
    assert_eq!(
        drain_events(&mut s),
        vec![
            SessionEvent::Registered {
                request: req,
                registration: 100
            },
            SessionEvent::Invocation {
                request: 5,
                registration: 100,
                args: vec![1.into()],
                kwargs: Dict::new(),
                details
            },
            SessionEvent::Invocation {
                request: 6,
                registration: 100,
                args: vec![],
                kwargs: Dict::new(),
                details: Dict::new()
            },
            SessionEvent::Interrupt {
                request: 6,
                mode: "killnowait".into()
            },
        ]
    );

    s.yield_result(5, vec!["p".into()], Dict::new(), true)
        .expect("progress");
    s.yield_result(5, vec!["done".into()], Dict::new(), false)
        .expect("final");
    assert_eq!(
        s.yield_result(5, vec![], Dict::new(), false),
        Err(SessionError::NoSuchInvocation(5))
    );
    assert_eq!(
        s.yield_result(6, vec![], Dict::new(), true),
        Err(SessionError::ProgressNotRequested(6))
    );
    assert!(matches!(
        s.yield_error(6, "not a uri", vec![], Dict::new()),
        Err(SessionError::Uri(_))
    ));
    s.yield_error(6, "wamp.error.canceled", vec![], Dict::new())
        .expect("error");
    let out = drain_out(&mut s);
    assert_eq!(
        out,
        vec![
            Message::Yield {
                request: 5,
                options: d(&[("progress", true.into())]),
                args: vec!["p".into()],
                kwargs: Dict::new()
            },
            Message::Yield {
                request: 5,
                options: Dict::new(),
                args: vec!["done".into()],
                kwargs: Dict::new()
            },
            Message::Error {
                request_type: code::INVOCATION,
                request: 6,
                details: Dict::new(),
                error: "wamp.error.canceled".into(),
                args: vec![],
                kwargs: Dict::new()
            },
        ]
    );
    // INTERRUPT after the answer crossed on the wire: dropped.
    s.handle_message(Message::Interrupt {
        request: 6,
        options: Dict::new(),
    })
    .expect("late interrupt");
    assert!(drain_events(&mut s).is_empty());

    let unreq = s.unregister(100).expect("unregister");
    assert_eq!(
        s.unregister(100),
        Err(SessionError::NoSuchRegistration(100)),
        "already unregistering"
    );
    // An invocation crossing the UNREGISTER on the wire is still delivered.
    s.handle_message(Message::Invocation {
        request: 7,
        registration: 100,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("racing invocation");
    s.handle_message(Message::Unregistered {
        request: unreq,
        details: None,
    })
    .expect("unregistered");
    assert!(s.registrations().is_empty());
    assert!(matches!(
        drain_events(&mut s).as_slice(),
        [SessionEvent::Invocation { request: 7, .. }, SessionEvent::Unregistered { request }] if *request == unreq
    ));
    let r = s.handle_message(Message::Invocation {
        request: 8,
        registration: 100,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    });
    assert_violation(&mut s, r);
}

#[test]
fn subscribe_event_unsubscribe_and_revocation() {
    let mut s = joined();
    let req = s.subscribe("com.t", Dict::new()).expect("subscribe");
    let req2 = s
        .subscribe("com..t", d(&[("match", "wildcard".into())]))
        .expect("subscribe");
    drain_out(&mut s);
    s.handle_message(Message::Subscribed {
        request: req,
        subscription: 10,
    })
    .expect("subscribed");
    s.handle_message(Message::Subscribed {
        request: req2,
        subscription: 11,
    })
    .expect("subscribed");
    let details = d(&[("publisher", 3.into())]);
    s.handle_message(Message::Event {
        subscription: 10,
        publication: 77,
        details: details.clone(),
        args: vec![Value::bytes(vec![1u8])],
        kwargs: Dict::new(),
    })
    .expect("event");
    assert_eq!(
        drain_events(&mut s),
        vec![
            SessionEvent::Subscribed {
                request: req,
                subscription: 10
            },
            SessionEvent::Subscribed {
                request: req2,
                subscription: 11
            },
            SessionEvent::Event {
                subscription: 10,
                publication: 77,
                args: vec![Value::bytes(vec![1u8])],
                kwargs: Dict::new(),
                details
            },
        ]
    );
    let unreq = s.unsubscribe(10).expect("unsubscribe");
    assert_eq!(
        drain_out(&mut s),
        vec![Message::Unsubscribe {
            request: unreq,
            subscription: 10
        }]
    );
    // Events in flight before the router processed the UNSUBSCRIBE are still delivered.
    s.handle_message(Message::Event {
        subscription: 10,
        publication: 78,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("late event");
    s.handle_message(Message::Unsubscribed {
        request: unreq,
        details: None,
    })
    .expect("unsubscribed");
    assert!(matches!(
        drain_events(&mut s).as_slice(),
        [SessionEvent::Event { publication: 78, .. }, SessionEvent::Unsubscribed { request }] if *request == unreq
    ));
    assert_eq!(s.unsubscribe(10), Err(SessionError::NoSuchSubscription(10)));
    // Router revokes subscription 11.
    s.handle_message(Message::Unsubscribed {
        request: 0,
        details: Some(d(&[("subscription", 11.into())])),
    })
    .expect("revoked");
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Unsubscribed { request: 0 }]
    );
    assert!(s.subscriptions().is_empty());
    let r = s.handle_message(Message::Event {
        subscription: 11,
        publication: 1,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    });
    assert_violation(&mut s, r);
}

#[test]
fn publish_acknowledged_and_not() {
    let mut s = joined();
    let quiet = s
        .publish("com.t", vec![1.into()], Dict::new(), Dict::new())
        .expect("publish");
    let acked = s
        .publish(
            "com.t",
            vec![],
            d(&[("k", 1.into())]),
            d(&[("acknowledge", true.into())]),
        )
        .expect("publish");
    assert_eq!(drain_out(&mut s).len(), 2);
    s.handle_message(Message::Published {
        request: acked,
        publication: 500,
    })
    .expect("published");
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Published {
            request: acked,
            publication: 500
        }]
    );
    // No acknowledgement was requested for `quiet`: a PUBLISHED for it is a violation.
    let r = s.handle_message(Message::Published {
        request: quiet,
        publication: 501,
    });
    assert_violation(&mut s, r);
}

#[test]
fn publish_error_is_reported() {
    let mut s = joined();
    let req = s
        .publish(
            "com.t",
            vec![],
            Dict::new(),
            d(&[("acknowledge", true.into())]),
        )
        .expect("publish");
    s.handle_message(Message::Error {
        request_type: code::PUBLISH,
        request: req,
        details: Dict::new(),
        error: "wamp.error.not_authorized".into(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("error");
    assert!(matches!(
        drain_events(&mut s).as_slice(),
        [SessionEvent::RequestError {
            request_type: code::PUBLISH,
            ..
        }]
    ));
}

#[test]
fn invalid_uris_are_refused_before_sending() {
    let mut s = joined();
    assert!(matches!(
        s.call("com..x", vec![], Dict::new(), Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.publish("com x", vec![], Dict::new(), Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.subscribe("com..x", Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.register("", Dict::new()),
        Err(SessionError::Uri(_))
    ));
    assert!(matches!(
        s.register("com.x", d(&[("match", "regex".into())])),
        Err(SessionError::Uri(_))
    ));
    assert!(drain_out(&mut s).is_empty());
    let mut strict = SessionConfig::new("realm1", ClientAuth::anonymous());
    strict.strict_uris = true;
    let mut s = Session::new(strict);
    s.join([0; 32]).expect("join");
    s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    })
    .expect("welcome");
    assert!(matches!(
        s.call("com.Upper", vec![], Dict::new(), Dict::new()),
        Err(SessionError::Uri(_))
    ));
}

#[test]
fn requests_need_an_established_session() {
    let mut s = session_with(ClientAuth::anonymous());
    assert!(matches!(
        s.call("com.x", vec![], Dict::new(), Dict::new()),
        Err(SessionError::InvalidState { .. })
    ));
    assert!(matches!(
        s.leave("wamp.close.normal"),
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
    s.call("com.x", vec![], Dict::new(), Dict::new())
        .expect("call");
    drain_out(&mut s);
    s.leave("wamp.close.normal").expect("leave");
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
    s.join([0; 32]).expect("rejoin");
    s.handle_message(Message::Welcome {
        session: 2,
        details: Dict::new(),
    })
    .expect("welcome");
    assert_eq!(s.call("com.x", vec![], Dict::new(), Dict::new()), Ok(1));
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
            let req = s.call("com.x", vec![], Dict::new(), Dict::new())?;
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
            let req = s.call("com.x", vec![], Dict::new(), Dict::new())?;
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
    s.join([0; 32]).expect("join");
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
    s.join([0; 32]).expect("join");
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

#[test]
fn handle_bytes_decodes_within_limit() {
    let mut s = joined();
    let req = s
        .call("com.x", vec![], Dict::new(), Dict::new())
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
        s.call("com.x", vec![], Dict::new(), Dict::new()),
        Ok(MAX_ID)
    );
    assert_eq!(s.call("com.x", vec![], Dict::new(), Dict::new()), Ok(1));
    s.last_request = MAX_ID;
    // 1 is still pending: skipped.
    assert_eq!(s.call("com.x", vec![], Dict::new(), Dict::new()), Ok(2));
}

#[test]
fn hello_carries_authid_authrole_and_method_authextra() {
    let auth = ClientAuth::scram("alice", "pw").with_authrole("user");
    let mut s = session_with(auth);
    s.join([9; 32]).expect("join");
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
    s.join([9; 32]).expect("join");
    let out = drain_out(&mut s);
    let [Message::Hello { details, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(!details.contains_key("authextra") && !details.contains_key("authid"));
}

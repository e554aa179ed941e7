//! Deadlines, driven with explicit `now` values: request timeouts, join, leave and auto-ping.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn call_timeout_cancels_with_its_mode_and_drops_the_late_answer() {
    let mut s = joined();
    let timeout = CallTimeout {
        after: ms(300),
        cancel: CancelMode::Skip,
    };
    let req = s
        .call(
            now(),
            "com.slow",
            vec![],
            Dict::new(),
            Dict::new(),
            Some(timeout),
        )
        .expect("call");
    drain_out(&mut s);
    assert_eq!(s.poll_timeout(), Some(now() + ms(300)));
    s.handle_timeout(now() + ms(299));
    assert!(drain_out(&mut s).is_empty() && drain_events(&mut s).is_empty());
    s.handle_timeout(now() + ms(300));
    let out = drain_out(&mut s);
    assert!(
        matches!(out.as_slice(), [Message::Cancel { request, options }]
            if *request == req && options.get("mode") == Some(&Value::from("skip"))),
        "{out:?}"
    );
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::RequestTimedOut {
            request_type: code::CALL,
            request: req,
            after: ms(300),
        }]
    );
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        s.cancel(req, CancelMode::Kill),
        Err(SessionError::NoSuchCall(req))
    );
    // The router's answer to the CANCEL is expected and dropped.
    s.handle_message(Message::Error {
        request_type: code::CALL,
        request: req,
        details: Dict::new(),
        error: "wamp.error.canceled".into(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("late error");
    assert!(drain_events(&mut s).is_empty());
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn calls_use_the_configured_default_and_answers_clear_the_deadline() {
    let mut s = joined_with(Timeouts {
        call: Some(ms(1000)),
        ..Timeouts::default()
    });
    let req = s
        .call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)
        .expect("call");
    assert_eq!(s.poll_timeout(), Some(now() + ms(1000)));
    s.handle_message(Message::Result {
        request: req,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("result");
    assert_eq!(s.poll_timeout(), None);
    let late = s
        .call(now(), "com.x", vec![], Dict::new(), Dict::new(), None)
        .expect("call");
    drain_out(&mut s);
    s.handle_timeout(now() + ms(1000));
    assert!(
        matches!(drain_out(&mut s).as_slice(), [Message::Cancel { request, options }]
            if *request == late && options.get("mode") == Some(&Value::from("kill")))
    );
}

#[test]
fn requests_expire_in_deadline_order_with_the_default_timeout() {
    let mut s = joined();
    let t = DEFAULT_REQUEST_TIMEOUT;
    let reg = s.register(now(), "com.p", Dict::new()).expect("register");
    let sub = s
        .subscribe(now() + ms(1), "com.t", Dict::new())
        .expect("subscribe");
    let acknowledge = d(&[("acknowledge", true.into())]);
    let publ = s
        .publish(now() + ms(2), "com.t", vec![], Dict::new(), acknowledge)
        .expect("publish");
    s.publish(now(), "com.t", vec![], Dict::new(), Dict::new())
        .expect("unacknowledged publish has no deadline");
    drain_out(&mut s);
    assert_eq!(s.poll_timeout(), Some(now() + t));
    s.handle_timeout(now() + t + ms(1));
    assert_eq!(
        drain_events(&mut s),
        vec![
            SessionEvent::RequestTimedOut {
                request_type: code::REGISTER,
                request: reg,
                after: t,
            },
            SessionEvent::RequestTimedOut {
                request_type: code::SUBSCRIBE,
                request: sub,
                after: t,
            },
        ]
    );
    assert!(drain_out(&mut s).is_empty(), "only calls are cancelled");
    assert_eq!(s.poll_timeout(), Some(now() + t + ms(2)));
    s.handle_timeout(now() + t + ms(2));
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::RequestTimedOut {
            request_type: code::PUBLISH,
            request: publ,
            after: t,
        }]
    );
    assert_eq!(s.poll_timeout(), None);
    s.handle_message(Message::Published {
        request: publ,
        publication: 9,
    })
    .expect("late published is dropped");
    assert!(drain_events(&mut s).is_empty());
}

#[test]
fn late_registration_and_subscription_are_undone() {
    let mut s = joined_with(Timeouts {
        request: Some(ms(50)),
        ..Timeouts::default()
    });
    let reg = s.register(now(), "com.p", Dict::new()).expect("register");
    let sub = s.subscribe(now(), "com.t", Dict::new()).expect("subscribe");
    drain_out(&mut s);
    s.handle_timeout(now() + ms(50));
    assert_eq!(drain_events(&mut s).len(), 2);
    s.handle_message(Message::Registered {
        request: reg,
        registration: 100,
    })
    .expect("late registered");
    s.handle_message(Message::Subscribed {
        request: sub,
        subscription: 200,
    })
    .expect("late subscribed");
    assert!(drain_events(&mut s).is_empty());
    let out = drain_out(&mut s);
    let [
        Message::Unregister {
            request: unreg,
            registration: 100,
        },
        Message::Unsubscribe {
            request: unsub,
            subscription: 200,
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    // An invocation crossing the UNREGISTER is still delivered (the driver refuses it).
    s.handle_message(Message::Invocation {
        request: 5,
        registration: 100,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    })
    .expect("crossing invocation");
    assert_eq!(drain_events(&mut s).len(), 1);
    s.handle_message(Message::Unregistered {
        request: *unreg,
        details: None,
    })
    .expect("unregistered");
    s.handle_message(Message::Unsubscribed {
        request: *unsub,
        details: None,
    })
    .expect("unsubscribed");
    assert!(drain_events(&mut s).is_empty(), "the undo is silent");
    assert!(s.registrations().is_empty() && s.subscriptions().is_empty());
    assert_eq!(s.poll_timeout(), None, "an undo has no deadline");
}

#[test]
fn unregister_and_unsubscribe_expire() {
    let mut s = joined();
    let reg = s.register(now(), "com.p", Dict::new()).expect("register");
    let sub = s.subscribe(now(), "com.t", Dict::new()).expect("subscribe");
    s.handle_message(Message::Registered {
        request: reg,
        registration: 1,
    })
    .expect("registered");
    s.handle_message(Message::Subscribed {
        request: sub,
        subscription: 2,
    })
    .expect("subscribed");
    let unreg = s.unregister(now() + ms(5), 1).expect("unregister");
    let unsub = s.unsubscribe(now() + ms(5), 2).expect("unsubscribe");
    drain_events(&mut s);
    s.handle_timeout(now() + DEFAULT_REQUEST_TIMEOUT + ms(5));
    assert_eq!(
        drain_events(&mut s),
        vec![
            SessionEvent::RequestTimedOut {
                request_type: code::UNREGISTER,
                request: unreg,
                after: DEFAULT_REQUEST_TIMEOUT,
            },
            SessionEvent::RequestTimedOut {
                request_type: code::UNSUBSCRIBE,
                request: unsub,
                after: DEFAULT_REQUEST_TIMEOUT,
            },
        ]
    );
}

#[test]
fn leave_times_out_without_the_routers_goodbye() {
    let mut s = joined();
    s.leave(now(), "wamp.close.normal").expect("leave");
    assert_eq!(s.poll_timeout(), Some(now() + DEFAULT_LEAVE_TIMEOUT));
    s.handle_timeout(now() + DEFAULT_LEAVE_TIMEOUT - ms(1));
    assert_eq!(s.state(), SessionState::Closing);
    s.handle_timeout(now() + DEFAULT_LEAVE_TIMEOUT);
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::TimedOut {
            kind: TimeoutKind::Leave,
            after: DEFAULT_LEAVE_TIMEOUT,
        }]
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn join_times_out_and_welcome_ends_the_deadline() {
    let mut config = SessionConfig::new("realm1", ClientAuth::anonymous());
    config.timeouts.join = Some(ms(2000));
    let mut s = Session::new(config);
    s.join(now(), [0; 32]).expect("join");
    assert_eq!(s.poll_timeout(), Some(now() + ms(2000)));
    s.handle_timeout(now() + ms(2000));
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::TimedOut {
            kind: TimeoutKind::Join,
            after: ms(2000),
        }]
    );
    s.join(now(), [0; 32]).expect("rejoin");
    s.handle_message(Message::Welcome {
        session: 1,
        details: Dict::new(),
    })
    .expect("welcome");
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn auto_ping_waits_for_its_pong_and_closes_without_one() {
    let ping = PingTimeouts {
        interval: ms(10_000),
        timeout: ms(5_000),
    };
    let mut s = joined_with(Timeouts {
        ping: Some(ping),
        ..Timeouts::default()
    });
    assert_eq!(s.poll_timeout(), Some(now() + ms(10_000)));
    assert_eq!(s.poll_ping(), None);
    s.handle_timeout(now() + ms(10_000));
    let first = s.poll_ping().expect("first ping");
    assert_eq!(first, 1u64.to_be_bytes());
    assert_eq!(s.poll_ping(), None);
    assert_eq!(s.poll_timeout(), Some(now() + ms(15_000)), "pong deadline");
    s.handle_pong(&2u64.to_be_bytes());
    assert_eq!(s.poll_timeout(), Some(now() + ms(15_000)), "not our pong");
    s.handle_pong(&first);
    assert_eq!(s.poll_timeout(), Some(now() + ms(20_000)), "next ping");
    s.handle_timeout(now() + ms(20_000));
    assert_eq!(s.poll_ping(), Some(2u64.to_be_bytes()));
    s.handle_timeout(now() + ms(25_000));
    assert_eq!(s.state(), SessionState::Closed);
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::TimedOut {
            kind: TimeoutKind::Pong,
            after: ms(5_000),
        }]
    );
    assert!(
        drain_out(&mut s).is_empty(),
        "nothing is sent on a dead connection"
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn no_ping_before_welcome() {
    let mut config = SessionConfig::new("realm1", ClientAuth::anonymous());
    config.timeouts.ping = Some(PingTimeouts {
        interval: ms(100),
        timeout: ms(100),
    });
    let mut s = Session::new(config);
    s.join(now(), [0; 32]).expect("join");
    s.handle_timeout(now() + ms(100));
    assert_eq!(s.poll_ping(), None);
    assert_eq!(s.poll_timeout(), Some(now() + ms(200)), "rescheduled");
}

#[test]
fn revoked_registration_names_its_id() {
    let mut s = joined();
    let reg = s.register(now(), "com.p", Dict::new()).expect("register");
    s.handle_message(Message::Registered {
        request: reg,
        registration: 100,
    })
    .expect("registered");
    drain_events(&mut s);
    s.handle_message(Message::Unregistered {
        request: 0,
        details: Some(d(&[("registration", 100.into())])),
    })
    .expect("revoked");
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Unregistered {
            request: 0,
            registration: 100,
        }]
    );
    assert!(s.registrations().is_empty());
    let r = s.handle_message(Message::Invocation {
        request: 1,
        registration: 100,
        details: Dict::new(),
        args: vec![],
        kwargs: Dict::new(),
    });
    assert_violation(&mut s, r);
}

#[test]
fn an_abandoned_request_has_no_deadline() {
    let mut s = joined();
    let req = s
        .call(
            now(),
            "com.x",
            vec![],
            Dict::new(),
            Dict::new(),
            Some(CallTimeout {
                after: ms(10),
                cancel: CancelMode::Kill,
            }),
        )
        .expect("call");
    drain_out(&mut s);
    s.abandon(req);
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(now() + ms(10));
    assert!(drain_out(&mut s).is_empty() && drain_events(&mut s).is_empty());
}

//! Calls, cancels, registrations and invocations.

use super::*;

#[test]
fn call_result_progress_and_error() {
    let mut s = joined();
    let opts = d(&[("receive_progress", true.into())]);
    let r1 = s
        .call(
            now(),
            "com.add",
            vec![1.into(), 2.into()],
            Dict::new(),
            opts.clone(),
            None,
        )
        .expect("call");
    let r2 = s
        .call(now(), "com.fail", vec![], Dict::new(), Dict::new(), None)
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
        .call(now(), "com.slow", vec![], Dict::new(), Dict::new(), None)
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
        .register(now(), "com.p", d(&[("match", "prefix".into())]))
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

    let unreq = s.unregister(now(), 100).expect("unregister");
    assert_eq!(
        s.unregister(now(), 100),
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
        [SessionEvent::Invocation { request: 7, .. }, SessionEvent::Unregistered { request, registration: 100 }] if *request == unreq
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

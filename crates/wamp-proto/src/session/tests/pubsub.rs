//! Subscriptions, events, revocations and publications.

use super::*;

#[test]
fn subscribe_event_unsubscribe_and_revocation() {
    let mut s = joined();
    let req = s.subscribe(now(), "com.t", Dict::new()).expect("subscribe");
    let req2 = s
        .subscribe(now(), "com..t", d(&[("match", "wildcard".into())]))
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
    let unreq = s.unsubscribe(now(), 10).expect("unsubscribe");
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
        [SessionEvent::Event { publication: 78, .. }, SessionEvent::Unsubscribed { request, subscription: 10 }] if *request == unreq
    ));
    assert_eq!(
        s.unsubscribe(now(), 10),
        Err(SessionError::NoSuchSubscription(10))
    );
    // Router revokes subscription 11.
    s.handle_message(Message::Unsubscribed {
        request: 0,
        details: Some(d(&[("subscription", 11.into())])),
    })
    .expect("revoked");
    assert_eq!(
        drain_events(&mut s),
        vec![SessionEvent::Unsubscribed {
            request: 0,
            subscription: 11
        }]
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
        .publish(now(), "com.t", vec![1.into()], Dict::new(), Dict::new())
        .expect("publish");
    let acked = s
        .publish(
            now(),
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
            now(),
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

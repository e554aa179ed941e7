//! Messages whose payload cannot be decoded fail alone; the session stays established.

use super::*;

/// A JSON binary string that is not base64: a value this client cannot represent.
const BAD: &str = "[\"\\u0000***\"]";

fn json(frame: String) -> Vec<u8> {
    frame.into_bytes()
}

fn subscribed(s: &mut Session, subscription: u64) {
    let request = s.subscribe(now(), "com.t", Dict::new()).expect("subscribe");
    s.handle_message(Message::Subscribed {
        request,
        subscription,
    })
    .expect("subscribed");
    drain_out(s);
    drain_events(s);
}

fn registered(s: &mut Session, registration: u64) {
    let request = s.register(now(), "com.p", Dict::new()).expect("register");
    s.handle_message(Message::Registered {
        request,
        registration,
    })
    .expect("registered");
    drain_out(s);
    drain_events(s);
}

fn call(s: &mut Session, options: Dict) -> u64 {
    let request = s
        .call(now(), "com.p", vec![], Dict::new(), options, None)
        .expect("call");
    drain_out(s);
    request
}

fn assert_invalid_payload(events: &[SessionEvent], request: u64) {
    assert!(
        matches!(
            events,
            [SessionEvent::RequestError { request: r, error, args, .. }]
                if *r == request && error == INVALID_PAYLOAD && args.len() == 1
        ),
        "{events:?}"
    );
}

#[test]
fn an_undecodable_event_is_dropped_and_later_events_arrive() {
    let mut s = joined();
    subscribed(&mut s, 5);
    // CBOR `[36, 5, 1, {}, [{1: 2}]]`: a map with an integer key.
    let cbor = [0x85, 0x18, 0x24, 0x05, 0x01, 0xa0, 0x81, 0xa1, 0x01, 0x02];
    s.handle_bytes(Serializer::Cbor, &cbor).expect("dropped");
    s.handle_bytes(Serializer::Json, &json(format!("[36,5,2,{{}},{BAD}]")))
        .expect("dropped");
    s.handle_bytes(Serializer::Json, b"[36,5,3,{},[1]]")
        .expect("delivered");
    let events = drain_events(&mut s);
    assert!(
        matches!(
            &events[..],
            [
                SessionEvent::EventDropped {
                    subscription: 5,
                    publication: 1,
                    ..
                },
                SessionEvent::EventDropped {
                    subscription: 5,
                    publication: 2,
                    ..
                },
                SessionEvent::Event { publication: 3, .. },
            ]
        ),
        "{events:?}"
    );
    assert!(drain_out(&mut s).is_empty());
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn an_undecodable_result_or_error_fails_only_its_call() {
    let mut s = joined();
    let request = call(&mut s, Dict::new());
    s.handle_bytes(
        Serializer::Json,
        &json(format!("[50,{request},{{}},{BAD}]")),
    )
    .expect("call failed");
    assert_invalid_payload(&drain_events(&mut s), request);
    assert_eq!(s.state(), SessionState::Established);

    let request = call(&mut s, Dict::new());
    let error = format!("[8,48,{request},{{}},\"com.e\",{BAD}]");
    s.handle_bytes(Serializer::Json, &json(error))
        .expect("call failed");
    assert_invalid_payload(&drain_events(&mut s), request);

    // The session still works: a later call gets its result.
    let request = call(&mut s, Dict::new());
    s.handle_bytes(Serializer::Json, &json(format!("[50,{request},{{}},[7]]")))
        .expect("result");
    assert!(matches!(
        &drain_events(&mut s)[..],
        [SessionEvent::CallResult { args, .. }] if args == &[Value::Int(7)]
    ));
    assert!(drain_out(&mut s).is_empty());
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn an_undecodable_progressive_result_cancels_the_call_and_drops_the_rest() {
    let mut s = joined();
    let request = call(&mut s, d(&[("receive_progress", Value::Bool(true))]));
    let progress = format!("[50,{request},{{\"progress\":true}},{BAD}]");
    s.handle_bytes(Serializer::Json, &json(progress))
        .expect("call failed");
    assert_invalid_payload(&drain_events(&mut s), request);
    assert!(matches!(
        &drain_out(&mut s)[..],
        [Message::Cancel { request: r, .. }] if *r == request
    ));
    // What the router still sends for it is dropped, without a violation.
    let later = format!("[50,{request},{{\"progress\":true}},[1]]");
    s.handle_bytes(Serializer::Json, &json(later))
        .expect("dropped");
    s.handle_bytes(Serializer::Json, &json(format!("[50,{request},{{}},[2]]")))
        .expect("dropped");
    assert!(drain_events(&mut s).is_empty());
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn an_undecodable_invocation_is_answered_with_invalid_argument() {
    let mut s = joined();
    registered(&mut s, 9);
    s.handle_bytes(Serializer::Json, &json(format!("[68,1,9,{{}},{BAD}]")))
        .expect("answered");
    assert!(drain_events(&mut s).is_empty());
    let out = drain_out(&mut s);
    assert!(
        matches!(
            &out[..],
            [Message::Error { request_type: code::INVOCATION, request: 1, error, .. }]
                if error == INVALID_ARGUMENT
        ),
        "{out:?}"
    );
    // The same request id is free for a later invocation.
    s.handle_bytes(Serializer::Json, b"[68,1,9,{},[1]]")
        .expect("delivered");
    assert!(matches!(
        &drain_events(&mut s)[..],
        [SessionEvent::Invocation { request: 1, .. }]
    ));
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn undecodable_payloads_with_unknown_ids_or_while_joining_are_violations() {
    let mut s = joined();
    let r = s.handle_bytes(Serializer::Json, &json(format!("[36,5,1,{{}},{BAD}]")));
    assert_violation(&mut s, r);

    let mut s = joined();
    let r = s.handle_bytes(Serializer::Json, &json(format!("[50,77,{{}},{BAD}]")));
    assert_violation(&mut s, r);

    let mut s = joined();
    let r = s.handle_bytes(Serializer::Json, &json(format!("[68,1,9,{{}},{BAD}]")));
    assert_violation(&mut s, r);

    let mut s = session_with(ClientAuth::anonymous());
    s.join(now(), [0; 32]).expect("join");
    drain_out(&mut s);
    let r = s.handle_bytes(Serializer::Json, &json(format!("[36,5,1,{{}},{BAD}]")));
    assert_violation(&mut s, r);

    // Closed: refused like any message, nothing is sent.
    let r = s.handle_bytes(Serializer::Json, &json(format!("[36,5,1,{{}},{BAD}]")));
    assert!(matches!(r, Err(SessionError::Protocol(_))), "{r:?}");
    assert!(drain_out(&mut s).is_empty());
}

#[test]
fn undecodable_payloads_while_closing_are_dropped() {
    let mut s = joined();
    subscribed(&mut s, 5);
    s.leave(now(), "wamp.close.normal").expect("leave");
    drain_out(&mut s);
    s.handle_bytes(Serializer::Json, &json(format!("[36,5,1,{{}},{BAD}]")))
        .expect("dropped");
    assert_eq!(s.state(), SessionState::Closing);
    assert!(drain_events(&mut s).is_empty());
}

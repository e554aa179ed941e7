//! Round trips, the payload rule and decode errors.

use super::*;
use crate::error::ProtocolError;

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

#[test]
fn payload_rule() {
    let call = |args: Vec<Value>, kwargs: Dict| Message::Call {
        request: 1,
        options: Dict::new(),
        procedure: "a.b".into(),
        args,
        kwargs,
    };
    assert_eq!(call(vec![], Dict::new()).wire_len(), 4);
    assert_eq!(call(vec![1.into()], Dict::new()).wire_len(), 5);
    let mut kw = Dict::new();
    kw.insert("k".into(), 1.into());
    let v = call(vec![], kw).to_value();
    assert_eq!(v.as_list().map(<[Value]>::len), Some(6));
    assert_eq!(
        v.as_list().and_then(|l| l.get(4)),
        Some(&Value::List(vec![]))
    );
}

#[test]
fn parse_round_trip_via_value() {
    let m = Message::Event {
        subscription: 5,
        publication: 6,
        details: Dict::new(),
        args: vec![Value::bytes(vec![1, 2])],
        kwargs: Dict::new(),
    };
    assert_eq!(Message::from_value(m.to_value()).expect("parses"), m);
}

#[test]
fn arity_and_type_errors() {
    assert!(matches!(
        Message::from_value(list(vec![])),
        Err(ProtocolError::EmptyMessage)
    ));
    assert!(matches!(
        Message::from_value(list(vec![99.into()])),
        Err(ProtocolError::UnknownCode(99))
    ));
    assert!(matches!(
        Message::from_value(list(vec![2.into(), 1.into()])),
        Err(ProtocolError::MissingField {
            message: "WELCOME",
            index: 2,
            ..
        })
    ));
    assert!(matches!(
        Message::from_value(list(vec![2.into(), "x".into(), Value::Dict(Dict::new())])),
        Err(ProtocolError::Field {
            message: "WELCOME",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        Message::from_value(list(vec![17.into(), 1.into(), 2.into(), 3.into()])),
        Err(ProtocolError::TrailingFields {
            message: "PUBLISHED",
            len: 4
        })
    ));
    assert!(matches!(
        Message::from_value(list(vec![
            17.into(),
            1.into(),
            Value::from((1u64 << 53) + 1)
        ])),
        Err(ProtocolError::Field { .. })
    ));
    assert!(matches!(
        Message::from_value(Value::Int(1)),
        Err(ProtocolError::NotAList("integer"))
    ));
}

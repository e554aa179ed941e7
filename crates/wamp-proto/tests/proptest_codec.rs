//! Property tests: decoders never panic on any input, values round-trip through every
//! serializer, and the session survives any message sequence.

use proptest::prelude::*;
use wamp_proto::auth::ClientAuth;
use wamp_proto::codec::{DecodeError, Envelope};
use wamp_proto::session::{Session, SessionConfig, SessionState};
use wamp_proto::{Dict, Message, Serializer, Value};

fn serializers() -> impl Strategy<Value = Serializer> {
    prop_oneof![
        Just(Serializer::Json),
        Just(Serializer::MsgPack),
        Just(Serializer::Cbor)
    ]
}

/// Values in normal form; strings never start with U+0000 (JSON would read them as bytes).
fn value(big_ints: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::Float),
        "[^\u{0}][a-zA-Zé0-9 .\"\\\\\n\u{1}]{0,12}|".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(
                move |(big, negative, mag)| match (big && big_ints, negative) {
                    (true, false) => Value::from_be_bytes_uint(&mag),
                    (true, true) => Value::from_be_bytes_neg(&mag),
                    (false, _) => Value::Int(mag.len() as i64),
                }
            ),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            proptest::collection::vec(("[a-z_]{0,8}", inner), 0..6)
                .prop_map(|entries| Value::Dict(entries.into_iter().collect::<Dict>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        for ser in Serializer::ALL {
            let decoded = ser.decode(&bytes);
            let received = ser.decode_received(&bytes, usize::MAX);
            prop_assert_eq!(decoded.is_ok(), received.is_ok());
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_messages(
        ser in serializers(),
        args in proptest::collection::vec(value(false), 0..4),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let msg = Message::Call { request: 7, options: Dict::new(), procedure: "com.x".into(), args, kwargs: Dict::new() };
        let mut bytes = ser.encode(&msg).expect("encodes");
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= byte;
        }
        let _ = ser.decode_received(&bytes, usize::MAX);
        let _ = ser.decode_received(&bytes[..cut.index(bytes.len() + 1)], usize::MAX);
    }

    #[test]
    fn values_round_trip_in_cbor_and_json(v in value(true)) {
        for ser in [Serializer::Cbor, Serializer::Json] {
            let bytes = ser.encode_value(&v).expect("encodes");
            prop_assert_eq!(&ser.decode_value(&bytes).expect("decodes"), &v);
        }
    }

    #[test]
    fn an_undecodable_argument_fails_only_its_event(
        ser in serializers(),
        args in proptest::collection::vec(value(false), 0..4),
        at in any::<prop::sample::Index>(),
    ) {
        // Nesting beyond the decoder's limit: representable on the wire, not by this client.
        let deep = (0..80).fold(Value::List(vec![]), |v, _| Value::List(vec![v]));
        let mut args = args;
        args.insert(at.index(args.len() + 1), deep);
        let msg = Message::Event { subscription: 3, publication: 4, details: Dict::new(), args, kwargs: Dict::new() };
        let bytes = ser.encode(&msg).expect("encodes");
        match ser.decode_received(&bytes, usize::MAX) {
            Err(DecodeError::Payload(p)) => prop_assert_eq!(p.envelope, Envelope::Event { subscription: 3, publication: 4 }),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn values_round_trip_in_msgpack(v in value(false)) {
        let bytes = Serializer::MsgPack.encode_value(&v).expect("encodes");
        prop_assert_eq!(&Serializer::MsgPack.decode_value(&bytes).expect("decodes"), &v);
    }

    #[test]
    fn session_survives_any_message_sequence(
        ser in serializers(),
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..24), 0..12),
        codes in proptest::collection::vec((prop::sample::select(vec![2u64, 3, 4, 6, 8, 17, 33, 35, 36, 50, 65, 67, 68, 69]), 0u64..4), 0..12),
    ) {
        let mut s = Session::new(SessionConfig::new("realm1", ClientAuth::anonymous()));
        let now = std::time::Instant::now();
        s.join(now, [0; 32]).expect("join");
        let _ = s.handle_message(Message::Welcome { session: 1, details: Dict::new() });
        let _ = s.call(now, "com.x", vec![], Dict::new(), Dict::new(), None);
        let _ = s.subscribe(now, "com.t", Dict::new());
        // Every request expires before the messages arrive: late answers must be handled too.
        s.handle_timeout(now + wamp_proto::session::DEFAULT_REQUEST_TIMEOUT);
        for (code, id) in codes {
            // Structurally valid messages with small ids: exercises every state transition.
            let list = Value::List(match code {
                2 => vec![code.into(), id.into(), Value::Dict(Dict::new())],
                3 | 6 => vec![code.into(), Value::Dict(Dict::new()), "wamp.close.x".into()],
                4 => vec![code.into(), "ticket".into(), Value::Dict(Dict::new())],
                8 => vec![code.into(), 48.into(), id.into(), Value::Dict(Dict::new()), "e.x".into()],
                36 | 68 => vec![code.into(), id.into(), id.into(), Value::Dict(Dict::new())],
                50 => vec![code.into(), id.into(), Value::Dict(Dict::new())],
                69 => vec![code.into(), id.into(), Value::Dict(Dict::new())],
                _ => vec![code.into(), id.into(), id.into()],
            });
            let bytes = ser.encode_value(&list).expect("encodes");
            let _ = s.handle_bytes(ser, &bytes);
            while s.poll_outgoing().is_some() {}
            while s.poll_event().is_some() {}
        }
        for frame in frames {
            let _ = s.handle_bytes(ser, &frame);
        }
        prop_assert!(matches!(s.state(), SessionState::Closed | SessionState::Established | SessionState::Closing));
    }
}

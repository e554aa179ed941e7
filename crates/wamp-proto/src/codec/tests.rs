//! Codec tests: round trips of every message in every serializer, reference wire vectors.

use super::*;
use crate::message::code;
use crate::value::Dict;

fn dict(entries: &[(&str, Value)]) -> Dict {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// A payload exercising every value kind except integers beyond u64.
fn rich_args() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(-1),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::UInt(u64::MAX),
        Value::Float(1.5),
        Value::Float(-0.1),
        Value::from("héllo \"wörld\" \n \u{0001}"),
        Value::from(""),
        Value::bytes(vec![]),
        Value::bytes(vec![0u8, 1, 2, 255]),
        Value::List(vec![Value::List(vec![]), Value::Dict(Dict::new())]),
        Value::Dict(dict(&[
            ("z", 1.into()),
            ("a", Value::bytes(vec![9u8; 40])),
            ("m", Value::Null),
        ])),
    ]
}

fn rich_kwargs() -> Dict {
    dict(&[
        ("key_id", Value::bytes(vec![7u8; 16])),
        ("count", 3.into()),
        ("nested", Value::List(rich_args())),
    ])
}

/// One message of each type, with and without payloads where the type carries one.
fn all_messages() -> Vec<Message> {
    let opts = dict(&[("acknowledge", true.into()), ("timeout", 1000.into())]);
    let mut out = vec![
        Message::Hello {
            realm: "realm1".into(),
            details: dict(&[("roles", Value::Dict(opts.clone()))]),
        },
        Message::Welcome {
            session: 1 << 53,
            details: opts.clone(),
        },
        Message::Abort {
            details: Dict::new(),
            reason: "wamp.error.no_such_realm".into(),
        },
        Message::Challenge {
            authmethod: "wampcra".into(),
            extra: dict(&[("challenge", "{}".into())]),
        },
        Message::Authenticate {
            signature: "c2ln".into(),
            extra: Dict::new(),
        },
        Message::Goodbye {
            details: Dict::new(),
            reason: "wamp.close.normal".into(),
        },
        Message::Published {
            request: 1,
            publication: 2,
        },
        Message::Subscribe {
            request: 3,
            options: dict(&[("match", "prefix".into())]),
            topic: "com.x".into(),
        },
        Message::Subscribed {
            request: 3,
            subscription: 4,
        },
        Message::Unsubscribe {
            request: 5,
            subscription: 4,
        },
        Message::Unsubscribed {
            request: 5,
            details: None,
        },
        Message::Unsubscribed {
            request: 0,
            details: Some(dict(&[("subscription", 4.into())])),
        },
        Message::Cancel {
            request: 9,
            options: dict(&[("mode", "kill".into())]),
        },
        Message::Register {
            request: 10,
            options: Dict::new(),
            procedure: "com.p".into(),
        },
        Message::Registered {
            request: 10,
            registration: 11,
        },
        Message::Unregister {
            request: 12,
            registration: 11,
        },
        Message::Unregistered {
            request: 12,
            details: None,
        },
        Message::Unregistered {
            request: 0,
            details: Some(dict(&[("reason", "x".into())])),
        },
        Message::Interrupt {
            request: 13,
            options: dict(&[("mode", "killnowait".into())]),
        },
    ];
    for (args, kwargs) in [
        (vec![], Dict::new()),
        (rich_args(), Dict::new()),
        (vec![], rich_kwargs()),
        (rich_args(), rich_kwargs()),
    ] {
        let (a, k) = (args.clone(), kwargs.clone());
        out.push(Message::Error {
            request_type: code::CALL,
            request: 7,
            details: Dict::new(),
            error: "wamp.error.runtime_error".into(),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Publish {
            request: 8,
            options: opts.clone(),
            topic: "com.t".into(),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Event {
            subscription: 4,
            publication: 5,
            details: Dict::new(),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Call {
            request: 6,
            options: opts.clone(),
            procedure: "com.p".into(),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Result {
            request: 6,
            details: dict(&[("progress", true.into())]),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Invocation {
            request: 14,
            registration: 11,
            details: Dict::new(),
            args: a.clone(),
            kwargs: k.clone(),
        });
        out.push(Message::Yield {
            request: 14,
            options: Dict::new(),
            args: a,
            kwargs: k,
        });
    }
    out
}

#[test]
fn every_message_round_trips_in_every_serializer() {
    let messages = all_messages();
    let codes: std::collections::BTreeSet<u8> = messages.iter().map(Message::code).collect();
    assert_eq!(codes.len(), 24, "every message type is covered");
    for ser in Serializer::ALL {
        for msg in &messages {
            let bytes = ser
                .encode(msg)
                .unwrap_or_else(|e| panic!("{ser} encode {}: {e}", msg.name()));
            let back = ser
                .decode(&bytes)
                .unwrap_or_else(|e| panic!("{ser} decode {}: {e}", msg.name()));
            assert_eq!(&back, msg, "{ser} round trip of {}", msg.name());
        }
    }
}

#[test]
fn big_integers_round_trip_in_cbor_and_json() {
    let values = [
        Value::from_u128(999_000_000_000_000_000_000),
        Value::from_u128(u128::MAX),
        Value::from_be_bytes_uint(&[0xff; 32]),
        Value::from_be_bytes_uint(&[1, 0, 0, 0, 0, 0, 0, 0, 0]),
    ];
    for ser in [Serializer::Cbor, Serializer::Json] {
        for v in &values {
            let msg = Message::Result {
                request: 1,
                details: Dict::new(),
                args: vec![v.clone()],
                kwargs: Dict::new(),
            };
            let bytes = ser.encode(&msg).expect("encodes");
            assert_eq!(ser.decode(&bytes).expect("decodes"), msg, "{ser}");
        }
    }
    let json = Serializer::Json
        .encode(&Message::Result {
            request: 1,
            details: Dict::new(),
            args: vec![values[0].clone()],
            kwargs: Dict::new(),
        })
        .expect("encodes");
    assert_eq!(
        std::str::from_utf8(&json).expect("utf8"),
        "[50,1,{},[999000000000000000000]]"
    );
    let max256 = Serializer::Json.encode_value(&values[2]).expect("encodes");
    assert_eq!(
        std::str::from_utf8(&max256).expect("utf8"),
        "115792089237316195423570985008687907853269984665640564039457584007913129639935"
    );
}

#[test]
fn msgpack_rejects_integers_beyond_u64() {
    let msg = Message::Yield {
        request: 1,
        options: Dict::new(),
        args: vec![Value::from_u128(35_000_000_000_000_000_000)],
        kwargs: Dict::new(),
    };
    assert_eq!(
        Serializer::MsgPack.encode(&msg),
        Err(EncodeError::IntegerTooLarge {
            serializer: "msgpack"
        })
    );
    let ok = Message::Yield {
        request: 1,
        options: Dict::new(),
        args: vec![Value::UInt(u64::MAX)],
        kwargs: Dict::new(),
    };
    assert!(Serializer::MsgPack.encode(&ok).is_ok());
}

#[test]
fn json_rejects_non_finite_floats() {
    let v = Value::List(vec![Value::Float(f64::NAN)]);
    assert_eq!(
        Serializer::Json.encode_value(&v),
        Err(EncodeError::NonFiniteFloat)
    );
}

fn hex_file(text: &str) -> Vec<u8> {
    hex::decode(text.trim()).expect("valid hex test vector")
}

#[test]
fn buy_key_call_matches_reference_cbor_and_json() {
    let cbor = hex_file(include_str!("../../tests/data/buy_key_call.cbor.hex"));
    let json = include_str!("../../tests/data/buy_key_call.json").trim();

    let msg = Serializer::Cbor
        .decode(&cbor)
        .expect("reference CBOR decodes");
    let Message::Call {
        request,
        options,
        procedure,
        args,
        kwargs,
    } = &msg
    else {
        panic!("expected CALL, got {msg:?}");
    };
    assert_eq!(
        (*request, options.len(), procedure.as_str(), kwargs.len()),
        (7, 0, "xbr.marketmaker.buy_key", 0)
    );
    let byte_lens: Vec<Option<usize>> =
        args.iter().map(|a| a.as_bytes().map(<[u8]>::len)).collect();
    assert_eq!(
        byte_lens,
        vec![
            Some(20),
            Some(32),
            Some(16),
            Some(16),
            None,
            Some(32),
            Some(32),
            Some(65)
        ]
    );
    assert_eq!(args.get(4), Some(&Value::Int(2)));

    assert_eq!(
        Serializer::Cbor.encode(&msg).expect("encodes"),
        cbor,
        "exact CBOR bytes"
    );
    assert_eq!(
        std::str::from_utf8(&Serializer::Json.encode(&msg).expect("encodes")).expect("utf8"),
        json
    );
    assert_eq!(
        Serializer::Json
            .decode(json.as_bytes())
            .expect("reference JSON decodes"),
        msg
    );
}

#[test]
fn sell_result_matches_reference_cbor() {
    let cbor = hex_file(include_str!("../../tests/data/sell_result.cbor.hex"));
    let msg = Serializer::Cbor
        .decode(&cbor)
        .expect("reference CBOR decodes");
    let Message::Result {
        request: 8,
        details,
        args,
        kwargs,
    } = &msg
    else {
        panic!("expected RESULT 8, got {msg:?}");
    };
    assert!(details.is_empty() && kwargs.is_empty());
    let d = args.first().and_then(Value::as_dict).expect("dict result");
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "key_id",
            "delegate",
            "buyer_pubkey",
            "sealed_key",
            "channel_seq",
            "amount",
            "balance",
            "signature"
        ]
    );
    assert_eq!(
        d.get("amount").and_then(Value::as_u128),
        Some(35_000_000_000_000_000_000)
    );
    assert!(matches!(d.get("amount"), Some(Value::BigUInt(_))));
    assert_eq!(
        d.get("balance").and_then(Value::as_u128),
        Some(965_000_000_000_000_000_000)
    );
    assert_eq!(d.get("channel_seq"), Some(&Value::Int(2)));
    assert_eq!(
        d.get("sealed_key")
            .and_then(Value::as_bytes)
            .map(<[u8]>::len),
        Some(80)
    );
    assert_eq!(
        Serializer::Cbor.encode(&msg).expect("encodes"),
        cbor,
        "exact CBOR bytes"
    );
    let json = Serializer::Json.encode(&msg).expect("encodes");
    assert!(
        std::str::from_utf8(&json)
            .expect("utf8")
            .contains("\"amount\":35000000000000000000,")
    );
    assert_eq!(Serializer::Json.decode(&json).expect("decodes"), msg);
}

#[test]
fn names_ids_and_subprotocols() {
    for ser in Serializer::ALL {
        assert_eq!(
            Serializer::from_subprotocol(ser.ws_subprotocol()),
            Some(ser)
        );
        assert_eq!(Serializer::from_rawsocket_id(ser.rawsocket_id()), Some(ser));
        assert_eq!(ser.name().parse::<Serializer>(), Ok(ser));
    }
    assert_eq!(Serializer::Json.rawsocket_id(), 1);
    assert_eq!(Serializer::MsgPack.rawsocket_id(), 2);
    assert_eq!(Serializer::Cbor.rawsocket_id(), 3);
    assert!(
        !Serializer::Json.is_binary()
            && Serializer::Cbor.is_binary()
            && Serializer::MsgPack.is_binary()
    );
    assert!("xml".parse::<Serializer>().is_err());
    assert_eq!(Serializer::from_rawsocket_id(0), None);
    assert_eq!(Serializer::from_subprotocol("wamp.2.ubjson"), None);
}

#[test]
fn malformed_inputs_are_typed_errors() {
    let cases: &[(Serializer, &[u8])] = &[
        (Serializer::Json, b""),
        (Serializer::Json, b"[1,"),
        (Serializer::Json, b"[48,1,{},\"p\",[]] x"),
        (Serializer::Json, b"[48,1,{},\"p\",[\"\\u0000***\"]]"),
        (Serializer::Json, b"[48,1,{},\"p\",[NaN]]"),
        (Serializer::Cbor, &[0x82, 0x01]),
        (Serializer::Cbor, &[0x81, 0x01, 0x00]),
        (Serializer::Cbor, &[0x81, 0xc2, 0x01]),
        (Serializer::Cbor, &[0x81, 0xa1, 0x01, 0x02]),
        (Serializer::MsgPack, &[0x92, 0x01]),
        (Serializer::MsgPack, &[0x91, 0xd4, 0x01, 0x02]),
        (Serializer::MsgPack, &[0x91, 0x81, 0x01, 0x02]),
    ];
    for (ser, bytes) in cases {
        assert!(
            matches!(ser.decode(bytes), Err(ProtocolError::Decode { .. })),
            "{ser} {bytes:?}"
        );
    }
    // A small negative bignum (tag 3) is an ordinary negative integer.
    assert!(matches!(
        Serializer::Cbor.decode_value(&[0xc3, 0x41, 0x01]),
        Ok(Value::Int(-2))
    ));
    assert!(matches!(
        Serializer::Json.decode(b"[999]"),
        Err(ProtocolError::UnknownCode(999))
    ));
    assert!(matches!(
        Serializer::Json.decode(b"{}"),
        Err(ProtocolError::NotAList("dict"))
    ));
    assert!(matches!(
        Serializer::Json.decode_limited(b"[6,{},\"wamp.close.normal\"]", 10),
        Err(ProtocolError::Oversize { size: 26, max: 10 })
    ));
}

#[test]
fn deep_nesting_is_rejected_not_overflowed() {
    let depth = 100_000;
    let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(Serializer::Json.decode(json.as_bytes()).is_err());
    let mut cbor = vec![0x81u8; depth];
    cbor.push(0x80);
    assert!(Serializer::Cbor.decode(&cbor).is_err());
    let mut mp = vec![0x91u8; depth];
    mp.push(0x90);
    assert!(Serializer::MsgPack.decode(&mp).is_err());
}

#[test]
fn cbor_tags_other_than_bignums_are_transparent() {
    // [50, 1, {}, [1(1700000000)]]: tag 1 (epoch time) around an integer.
    let bytes = [
        0x84, 0x18, 0x32, 0x01, 0xa0, 0x81, 0xc1, 0x1a, 0x65, 0x53, 0xf1, 0x00,
    ];
    let msg = Serializer::Cbor.decode(&bytes).expect("decodes");
    assert_eq!(
        msg,
        Message::Result {
            request: 1,
            details: Dict::new(),
            args: vec![Value::Int(1_700_000_000)],
            kwargs: Dict::new()
        }
    );
}

#[test]
fn cbor_indefinite_lengths_and_small_forms() {
    // [50, 1, {_ "a": (_ h'01', h'02')}, [_ (_ "x", "y"), -5, f16 1.5, undefined]]
    let bytes = [
        0x84, 0x18, 0x32, 0x01, 0xbf, 0x61, b'a', 0x5f, 0x41, 0x01, 0x41, 0x02, 0xff, 0xff, 0x9f,
        0x7f, 0x61, b'x', 0x61, b'y', 0xff, 0x24, 0xf9, 0x3e, 0x00, 0xf7, 0xff,
    ];
    let msg = Serializer::Cbor.decode(&bytes).expect("decodes");
    let expected = Message::Result {
        request: 1,
        details: dict(&[("a", Value::bytes(vec![1u8, 2]))]),
        args: vec![
            Value::from("xy"),
            Value::Int(-5),
            Value::Float(1.5),
            Value::Null,
        ],
        kwargs: Dict::new(),
    };
    assert_eq!(msg, expected);
}

#[test]
fn cbor_integer_edges() {
    let cases: &[(&[u8], Value)] = &[
        (
            &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Value::Int(i64::MIN),
        ),
        (
            &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            Value::UInt(u64::MAX),
        ),
        (&[0xc2, 0x42, 0x00, 0x05], Value::Int(5)),
        (&[0xc2, 0x40], Value::Int(0)),
        (&[0xc3, 0x41, 0x04], Value::Int(-5)),
    ];
    for (bytes, v) in cases {
        assert_eq!(
            &Serializer::Cbor.decode_value(bytes).expect("decodes"),
            v,
            "{bytes:02x?}"
        );
    }
    // A byte string longer than the input is refused before allocating.
    assert!(
        Serializer::Cbor
            .decode_value(&[0x5b, 0, 0, 0, 1, 0, 0, 0, 0])
            .is_err()
    );
    // Non-text map keys.
    assert!(Serializer::Cbor.decode_value(&[0xa1, 0x01, 0x02]).is_err());
}

/// Integers below `i64::MIN` and beyond `u64`, as Autobahn|Python (cbor2, json) writes them.
fn reference_integers() -> Vec<(Value, &'static str, &'static str)> {
    let two_200: Vec<u8> = std::iter::once(1).chain([0; 25]).collect();
    vec![
        (
            Value::from(i128::from(i64::MIN) - 1),
            "3b8000000000000000",
            "-9223372036854775809",
        ),
        (
            Value::from(-(1i128 << 64)),
            "3bffffffffffffffff",
            "-18446744073709551616",
        ),
        (
            Value::from(-(1i128 << 64) - 1),
            "c349010000000000000000",
            "-18446744073709551617",
        ),
        (
            Value::from(1u128 << 64),
            "c249010000000000000000",
            "18446744073709551616",
        ),
        (
            Value::from_be_bytes_neg(&two_200),
            "c35819ffffffffffffffffffffffffffffffffffffffffffffffffff",
            "-1606938044258990275541962092341162602522202993782792835301376",
        ),
        (
            Value::from_be_bytes_uint(&two_200),
            "c2581a0100000000000000000000000000000000000000000000000000",
            "1606938044258990275541962092341162602522202993782792835301376",
        ),
    ]
}

#[test]
fn integers_of_any_sign_and_size_match_the_reference() {
    for (value, cbor, json) in reference_integers() {
        let cbor = hex::decode(cbor).expect("hex");
        assert_eq!(Serializer::Cbor.decode_value(&cbor), Ok(value.clone()));
        assert_eq!(Serializer::Cbor.encode_value(&value), Ok(cbor));
        assert_eq!(
            Serializer::Json.decode_value(json.as_bytes()),
            Ok(value.clone())
        );
        assert_eq!(
            Serializer::Json.encode_value(&value),
            Ok(json.as_bytes().to_vec())
        );
        assert_eq!(
            Serializer::MsgPack.encode_value(&value),
            Err(EncodeError::IntegerTooLarge {
                serializer: "msgpack"
            })
        );
    }
    // Inside a message, the decoded value is normalised.
    let event = b"[36,1,2,{},[-18446744073709551617]]";
    let Ok(Message::Event { args, .. }) = Serializer::Json.decode(event) else {
        panic!("EVENT decodes");
    };
    assert!(matches!(&args[0], Value::BigNegInt(m) if m == &[1, 0, 0, 0, 0, 0, 0, 0, 1]));
    let cbor = hex::decode("8518240102a081c349010000000000000000").expect("hex");
    assert_eq!(
        Serializer::Cbor.decode(&cbor),
        Serializer::Json.decode(event)
    );
    // A non-normalised value encodes in its normalised form.
    assert_eq!(
        Serializer::Cbor.encode_value(&Value::BigNegInt(vec![0, 3])),
        Ok(vec![0x22])
    );
    // The 64-bit edges stay plain MsgPack integers.
    for v in [Value::Int(i64::MIN), Value::UInt(u64::MAX)] {
        let bytes = Serializer::MsgPack.encode_value(&v).expect("encodes");
        assert_eq!(Serializer::MsgPack.decode_value(&bytes), Ok(v));
    }
}

mod differential {
    use proptest::prelude::*;

    use super::super::value_de::DeValue;
    use super::*;

    proptest! {
        /// The direct CBOR decoder agrees with ciborium's serde decoder wherever both accept.
        #[test]
        fn cbor_decoder_agrees_with_ciborium(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ours = Serializer::Cbor.decode_value(&bytes);
            let mut rest = &bytes[..];
            let theirs: Result<DeValue, _> = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH);
            if let (Ok(a), Ok(DeValue(b))) = (ours, theirs)
                && rest.is_empty()
            {
                let floats = |v: &Value| format!("{v:?}").contains("NaN");
                if !floats(&a) {
                    prop_assert_eq!(a, b);
                }
            }
        }
    }
}

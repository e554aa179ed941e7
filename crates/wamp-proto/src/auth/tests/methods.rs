//! Anonymous, ticket, WAMP-CRA and cryptosign.

use super::*;

#[test]
fn authmethods_name_the_credentials() {
    let cases = [
        (ClientAuth::anonymous(), "anonymous"),
        (ClientAuth::ticket("alice", "t"), "ticket"),
        (ClientAuth::wampcra("bob", "s"), "wampcra"),
        (carol(), "cryptosign"),
        (ClientAuth::scram("dave", "p"), "scram"),
    ];
    for (auth, method) in cases {
        assert_eq!(auth.authmethods(), vec![method.to_owned()]);
        assert_eq!(auth.start(NONCE).authmethod(), method);
    }
    let auth = ClientAuth::ticket("alice", "t").with_authrole("user");
    assert_eq!(auth.authid.as_deref(), Some("alice"));
    assert_eq!(auth.authrole.as_deref(), Some("user"));
    assert_eq!(ClientAuth::anonymous().authid, None);
}

#[test]
fn anonymous_refuses_any_challenge() {
    let mut attempt = ClientAuth::anonymous().start(NONCE);
    assert!(attempt.hello_authextra().is_empty());
    for method in ["anonymous", "ticket"] {
        assert!(matches!(
            attempt.on_challenge(method, &Dict::new()),
            Err(AuthError::UnsupportedMethod {
                offered: "anonymous",
                ..
            })
        ));
    }
    attempt.on_welcome(&Dict::new()).unwrap();
}

#[test]
fn ticket_answers_with_the_ticket() {
    let mut attempt = ClientAuth::ticket("alice", "alice-ticket-secret").start(NONCE);
    let (signature, extra) = attempt.on_challenge("ticket", &Dict::new()).unwrap();
    assert_eq!(signature, "alice-ticket-secret");
    assert!(extra.is_empty());
}

#[test]
fn challenge_for_another_method_is_refused() {
    let mut attempt = ClientAuth::ticket("alice", "alice-ticket-secret").start(NONCE);
    let err = attempt
        .on_challenge("wampcra", &dict(vec![("challenge", "x".into())]))
        .unwrap_err();
    assert_eq!(
        err,
        AuthError::UnsupportedMethod {
            got: "wampcra".into(),
            offered: "ticket"
        }
    );
    // The message names both methods but never the ticket.
    let text = err.to_string();
    assert!(
        text.contains("wampcra") && text.contains("ticket"),
        "{text}"
    );
    assert!(!text.contains("alice-ticket-secret"));
}

/// Expected signatures: see `wampcra::tests::salted_key_matches_independent_computation`.
#[test]
fn wampcra_plain_and_salted() {
    let challenge = r#"{"authid":"bob-salted","nonce":"x"}"#;
    let mut plain = ClientAuth::wampcra("bob", "bob-cra-secret").start(NONCE);
    let (signature, extra) = plain
        .on_challenge("wampcra", &dict(vec![("challenge", challenge.into())]))
        .unwrap();
    assert_eq!(signature, "XG3mcepPxreGRzA8t1R7UpohjWy5h+8sngNFb831mZs=");
    assert!(extra.is_empty());

    let salted_extra = dict(vec![
        ("challenge", challenge.into()),
        ("salt", "salt123".into()),
        ("iterations", 100.into()),
        ("keylen", 32.into()),
    ]);
    let mut salted = ClientAuth::wampcra("bob-salted", "bob-cra-secret").start(NONCE);
    let (signature, _) = salted.on_challenge("wampcra", &salted_extra).unwrap();
    assert_eq!(signature, "wHwQaH8i+8Ker9Kfyop2EfmMqJO9ilqvpVJ7+z0f9dM=");

    // A binary salt (MsgPack bin / CBOR bytes) is the same salt.
    let mut binary_salt = salted_extra.clone();
    binary_salt.insert("salt".into(), Value::bytes(b"salt123".to_vec()));
    let (signature, _) = salted.on_challenge("wampcra", &binary_salt).unwrap();
    assert_eq!(signature, "wHwQaH8i+8Ker9Kfyop2EfmMqJO9ilqvpVJ7+z0f9dM=");
}

#[test]
fn wampcra_field_errors() {
    let mut attempt = ClientAuth::wampcra("bob", "bob-cra-secret").start(NONCE);
    let field_error =
        |attempt: &mut AuthAttempt, extra: Dict| match attempt.on_challenge("wampcra", &extra) {
            Err(AuthError::MissingField { field, .. }) => ("missing", field),
            Err(AuthError::InvalidField { field, .. }) => ("invalid", field),
            other => panic!("expected a field error for {extra:?}, got {other:?}"),
        };
    assert_eq!(
        field_error(&mut attempt, Dict::new()),
        ("missing", "challenge")
    );
    assert_eq!(
        field_error(&mut attempt, dict(vec![("challenge", Value::Null)])),
        ("missing", "challenge")
    );
    assert_eq!(
        field_error(&mut attempt, dict(vec![("challenge", 42.into())])),
        ("invalid", "challenge")
    );
    let salted = |pairs: Vec<(&str, Value)>| {
        let mut extra = dict(vec![("challenge", "c".into()), ("salt", "salt123".into())]);
        extra.extend(dict(pairs));
        extra
    };
    assert_eq!(
        field_error(&mut attempt, salted(vec![("keylen", 32.into())])),
        ("missing", "iterations")
    );
    assert_eq!(
        field_error(&mut attempt, salted(vec![("iterations", 100.into())])),
        ("missing", "keylen")
    );
    assert_eq!(
        field_error(
            &mut attempt,
            salted(vec![("iterations", (-1).into()), ("keylen", 32.into())])
        ),
        ("invalid", "iterations")
    );
    assert_eq!(
        field_error(
            &mut attempt,
            salted(vec![("iterations", "100".into()), ("keylen", 32.into())])
        ),
        ("invalid", "iterations")
    );
    assert_eq!(
        field_error(
            &mut attempt,
            salted(vec![("iterations", u64::MAX.into()), ("keylen", 32.into())])
        ),
        ("invalid", "iterations")
    );
    assert_eq!(
        field_error(
            &mut attempt,
            salted(vec![
                ("iterations", 100.into()),
                ("keylen", u64::MAX.into())
            ])
        ),
        ("invalid", "keylen")
    );
    let mut bad_salt = salted(vec![("iterations", 100.into()), ("keylen", 32.into())]);
    bad_salt.insert("salt".into(), Value::List(vec![]));
    assert_eq!(field_error(&mut attempt, bad_salt), ("invalid", "salt"));
}

#[test]
fn cryptosign_hello_and_answer() {
    let auth = carol().with_authextra(dict(vec![
        ("pubkey", "stale".into()),
        ("trustroot", "0x1234".into()),
    ]));
    let mut attempt = auth.start(NONCE);
    let hello = attempt.hello_authextra();
    assert_eq!(hello.get("pubkey"), Some(&Value::from(CAROL_PUBKEY)));
    assert_eq!(hello.get("trustroot"), Some(&Value::from("0x1234")));
    assert_eq!(hello.len(), 2);

    // Crossbar.io's CHALLENGE extra: challenge + channel_binding null. Expected answer: Autobahn's
    // first signature vector (same seed, same challenge).
    let challenge = dict(vec![
        ("challenge", "ff".repeat(32).into()),
        ("channel_binding", Value::Null),
    ]);
    let (signature, extra) = attempt.on_challenge("cryptosign", &challenge).unwrap();
    assert_eq!(
        signature,
        format!(
            "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03{}",
            "ff".repeat(32)
        )
    );
    assert!(extra.is_empty());
    attempt.on_welcome(&Dict::new()).unwrap();
}

#[test]
fn cryptosign_field_errors() {
    let mut attempt = carol().start(NONCE);
    let good = "ab".repeat(32);
    assert!(matches!(
        attempt.on_challenge("cryptosign", &Dict::new()),
        Err(AuthError::MissingField {
            field: "challenge",
            ..
        })
    ));
    assert!(matches!(
        attempt.on_challenge(
            "cryptosign",
            &dict(vec![("challenge", Value::bytes(vec![0xAB; 32]))])
        ),
        Err(AuthError::InvalidField {
            field: "challenge",
            ..
        })
    ));
    assert!(matches!(
        attempt.on_challenge("cryptosign", &dict(vec![("challenge", "abcd".into())])),
        Err(AuthError::InvalidField {
            field: "challenge",
            ..
        })
    ));
    assert_eq!(
        attempt.on_challenge(
            "cryptosign",
            &dict(vec![
                ("challenge", good.clone().into()),
                ("channel_binding", "tls-unique".into())
            ])
        ),
        Err(AuthError::UnsupportedChannelBinding {
            method: "cryptosign",
            binding: "tls-unique".into()
        })
    );
    assert!(matches!(
        attempt.on_challenge(
            "cryptosign",
            &dict(vec![
                ("challenge", good.into()),
                ("channel_binding", 1.into())
            ])
        ),
        Err(AuthError::InvalidField {
            field: "channel_binding",
            ..
        })
    ));
}

//! Hostile input and secrets in debug output.

use super::scram::TestScramRouter;
use super::*;

#[test]
fn hostile_challenges_never_panic() {
    let values = [
        Value::Null,
        Value::Bool(true),
        Value::Int(-1),
        Value::Int(0),
        Value::Int(i64::MAX),
        Value::UInt(u64::MAX),
        Value::from_u128(u128::MAX),
        Value::Float(f64::NAN),
        Value::from(""),
        Value::from("ff".repeat(32)),
        Value::from("argon2id-13"),
        Value::from("pbkdf2"),
        Value::bytes(vec![0u8; 3]),
        Value::List(vec![Value::Null]),
        Value::Dict(Dict::new()),
    ];
    let fields = [
        "challenge",
        "salt",
        "iterations",
        "keylen",
        "channel_binding",
        "nonce",
        "kdf",
        "memory",
    ];
    let auths = [
        ClientAuth::anonymous(),
        ClientAuth::ticket("a", "t"),
        ClientAuth::wampcra("b", "s"),
        carol(),
        ClientAuth::scram("d", "p"),
    ];
    for auth in &auths {
        let mut attempt = auth.start(NONCE);
        for field in fields {
            for value in &values {
                let base = dict(vec![
                    ("challenge", "c".into()),
                    ("salt", "c2FsdHNhbHQ=".into()),
                    ("iterations", 1.into()),
                    ("keylen", 1.into()),
                    ("nonce", STANDARD.encode([0x11; 40]).into()),
                    ("kdf", "pbkdf2".into()),
                    ("memory", 8.into()),
                ]);
                let mut extra = base;
                extra.insert(field.to_owned(), value.clone());
                let _ = attempt.on_challenge(auth.credentials.method(), &extra);
                let _ = attempt.on_welcome(&dict(vec![("authextra", value.clone())]));
                let _ = attempt.on_welcome(&dict(vec![(
                    "authextra",
                    Value::Dict(dict(vec![("scram_server_signature", value.clone())])),
                )]));
            }
        }
    }
}

#[test]
fn debug_output_never_contains_secrets() {
    let secrets = [
        "alice-ticket-secret",
        "bob-cra-secret",
        "scram-password",
        CAROL_SEED,
        &CAROL_SEED[..16],
    ];
    let auths = [
        ClientAuth::ticket("alice", "alice-ticket-secret"),
        ClientAuth::wampcra("bob", "bob-cra-secret"),
        ClientAuth::scram("dave", "scram-password"),
        carol(),
    ];
    for auth in &auths {
        let mut attempt = auth.start(NONCE);
        if matches!(auth.credentials, Credentials::Scram { .. }) {
            let router = TestScramRouter::new("scram-password", "pbkdf2", 10, 0);
            let (_, challenge) = router.challenge(&attempt.hello_authextra());
            attempt.on_challenge("scram", &challenge).unwrap();
        }
        let printed = format!(
            "{auth:?} {auth:#?} {:?} {attempt:?} {attempt:#?}",
            auth.credentials
        );
        for secret in secrets {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
    }
    let printed = format!("{:?}", carol());
    assert!(printed.contains(CAROL_PUBKEY), "{printed}");
}

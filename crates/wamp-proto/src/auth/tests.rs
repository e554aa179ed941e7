//! Flow tests of [`ClientAuth`]/[`AuthAttempt`] over `Dict`s, as the session state machine uses them.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::*;

const NONCE: [u8; 32] = [0x11; 32];

/// Carol's seed (see `cryptosign::tests::carol_seed_gives_the_configured_public_key`).
const CAROL_SEED: &str = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
const CAROL_PUBKEY: &str = "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d";

fn dict(pairs: Vec<(&str, Value)>) -> Dict {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn carol() -> ClientAuth {
    ClientAuth::cryptosign("carol", CryptosignKey::from_hex(CAROL_SEED).unwrap())
}

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

/// A SCRAM "router" written independently of `scram.rs` (from the same primitives), computing what
/// Crossbar.io computes: credentials as Autobahn|Python's `derive_scram_credential`, the challenge
/// nonce as `base64(client_nonce_bytes ‖ 16 router bytes)`, the proof check by recovering the
/// StoredKey, and the server signature.
struct TestScramRouter {
    salt: Vec<u8>,
    kdf: &'static str,
    iterations: u64,
    memory: u64,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

fn test_hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl TestScramRouter {
    fn new(password: &str, kdf: &'static str, iterations: u64, memory: u64) -> Self {
        let salt = b"per-user-salt-16".to_vec();
        let salted: Vec<u8> = if kdf == "pbkdf2" {
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password.as_bytes(), &salt, iterations as u32)
                .to_vec()
        } else {
            let params =
                argon2::Params::new(memory as u32, iterations as u32, 1, Some(32)).unwrap();
            let mut raw = [0u8; 32];
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(password.as_bytes(), &salt, &mut raw)
                .unwrap();
            STANDARD_NO_PAD.encode(raw).into_bytes()
        };
        let client_key = test_hmac(&salted, b"Client Key");
        Self {
            salt,
            kdf,
            iterations,
            memory,
            stored_key: Sha256::digest(client_key).into(),
            server_key: test_hmac(&salted, b"Server Key"),
        }
    }

    /// The CHALLENGE extra for a HELLO authextra; returns (client nonce, challenge extra).
    fn challenge(&self, hello_authextra: &Dict) -> (String, Dict) {
        let client_nonce = hello_authextra["nonce"].as_str().unwrap().to_owned();
        let mut nonce = STANDARD.decode(&client_nonce).unwrap();
        nonce.extend_from_slice(&[0x42; 16]);
        let extra = dict(vec![
            ("nonce", STANDARD.encode(nonce).into()),
            ("kdf", self.kdf.into()),
            ("salt", STANDARD.encode(&self.salt).into()),
            ("iterations", self.iterations.into()),
            ("memory", self.memory.into()),
        ]);
        (client_nonce, extra)
    }

    /// Verifies the proof; on success returns the WELCOME details with the server signature.
    fn authenticate(
        &self,
        authid: &str,
        client_nonce: &str,
        challenge: &Dict,
        proof: &str,
    ) -> Result<Dict, &'static str> {
        let nonce = challenge["nonce"].as_str().unwrap();
        let salt = STANDARD.encode(&self.salt);
        let auth_message = [
            format!("n={authid},r={client_nonce}"),
            format!("r={nonce},s={salt},i={}", self.iterations),
            format!("c={},r={nonce}", ""),
        ]
        .join(",");
        let client_signature = test_hmac(&self.stored_key, auth_message.as_bytes());
        let proof = STANDARD.decode(proof).map_err(|_| "proof not base64")?;
        if proof.len() != 32 {
            return Err("proof length");
        }
        let recovered: Vec<u8> = client_signature
            .iter()
            .zip(&proof)
            .map(|(a, b)| a ^ b)
            .collect();
        if Sha256::digest(&recovered).as_slice() != self.stored_key {
            return Err("SCRAM authentication failed");
        }
        let server_signature = test_hmac(&self.server_key, auth_message.as_bytes());
        let authextra = dict(vec![(
            "scram_server_signature",
            STANDARD.encode(server_signature).into(),
        )]);
        Ok(dict(vec![
            ("authid", authid.into()),
            ("authmethod", "scram".into()),
            ("authextra", Value::Dict(authextra)),
        ]))
    }
}

fn scram_flow(router: &TestScramRouter, auth: &ClientAuth) -> Result<(), String> {
    let mut attempt = auth.start(NONCE);
    let hello = attempt.hello_authextra();
    assert_eq!(hello.get("channel_binding"), Some(&Value::Null));
    assert_eq!(
        hello.get("nonce"),
        Some(&Value::from(STANDARD.encode(NONCE)))
    );
    let (client_nonce, challenge) = router.challenge(&hello);
    let (proof, extra) = attempt
        .on_challenge("scram", &challenge)
        .map_err(|e| e.to_string())?;
    assert_eq!(extra.get("nonce"), challenge.get("nonce"));
    assert_eq!(extra.get("channel_binding"), Some(&Value::Null));
    let welcome = router.authenticate(
        auth.authid.as_deref().unwrap(),
        &client_nonce,
        &challenge,
        &proof,
    )?;
    attempt.on_welcome(&welcome).map_err(|e| e.to_string())
}

#[test]
fn scram_argon2id_full_flow() {
    let router = TestScramRouter::new("s3cret-pw", "argon2id-13", 3, 64);
    scram_flow(&router, &ClientAuth::scram("dave", "s3cret-pw")).unwrap();
    // The router rejects a wrong password.
    assert_eq!(
        scram_flow(&router, &ClientAuth::scram("dave", "wrong-pw")),
        Err("SCRAM authentication failed".into())
    );
}

#[test]
fn scram_pbkdf2_full_flow() {
    let router = TestScramRouter::new("s3cret-pw", "pbkdf2", 1000, 0);
    scram_flow(&router, &ClientAuth::scram("dave", "s3cret-pw")).unwrap();
    assert_eq!(
        scram_flow(&router, &ClientAuth::scram("dave", "S3cret-pw")),
        Err("SCRAM authentication failed".into())
    );
}

/// Interop vector from the router's own code: credentials made by Autobahn|Python 26.10.2
/// `derive_scram_credential("dave@example.com", "s3cret-pw")` (argon2id-13, 4096 iterations,
/// 512 KiB; salt = SHA-256(email)[..16]) put in a static principal of Crossbar.io 26.10.1's
/// `PendingAuthScram` (with `os.urandom` fixed to 0x42 bytes); `hello` gave the challenge below,
/// `authenticate` accepted this proof (and denied a one-byte-altered one) and returned the server
/// signature.
#[test]
fn scram_proof_is_accepted_by_the_router_code() {
    let mut attempt = ClientAuth::scram("dave", "s3cret-pw").start(NONCE);
    let challenge = dict(vec![
        (
            "nonce",
            "ERERERERERERERERERERERERERERERERERERERERERFCQkJCQkJCQkJCQkJCQkJC".into(),
        ),
        ("kdf", "argon2id-13".into()),
        ("salt", "ezQhE1D/Vnlwl04eK5jTGQ==".into()),
        ("iterations", 4096.into()),
        ("memory", 512.into()),
    ]);
    let (proof, _) = attempt.on_challenge("scram", &challenge).unwrap();
    assert_eq!(proof, "4sSakvAHeXyVoTjl276XYk7qRJUd8a6f5q3a+QOFtns=");
    let welcome = dict(vec![(
        "authextra",
        Value::Dict(dict(vec![(
            "scram_server_signature",
            "Grer9ggnkeLh15gddGx4vOFIqplkLLUkNqxj7Lmv7L4=".into(),
        )])),
    )]);
    attempt.on_welcome(&welcome).unwrap();
}

#[test]
fn scram_rejects_a_router_that_does_not_know_the_password() {
    // The router's keys come from another password, and it accepts the proof anyway (as an
    // impostor would): its server signature must not verify.
    let impostor = TestScramRouter::new("other-pw", "pbkdf2", 1000, 0);
    let auth = ClientAuth::scram("dave", "s3cret-pw");
    let mut attempt = auth.start(NONCE);
    let (client_nonce, challenge) = impostor.challenge(&attempt.hello_authextra());
    let (proof, _) = attempt.on_challenge("scram", &challenge).unwrap();
    assert!(
        impostor
            .authenticate("dave", &client_nonce, &challenge, &proof)
            .is_err()
    );

    let signature = |sig: [u8; 32]| {
        dict(vec![(
            "authextra",
            Value::Dict(dict(vec![(
                "scram_server_signature",
                STANDARD.encode(sig).into(),
            )])),
        )])
    };
    assert_eq!(
        attempt.on_welcome(&signature([0; 32])),
        Err(AuthError::BadServerSignature)
    );
    let truncated = dict(vec![(
        "authextra",
        Value::Dict(dict(vec![("scram_server_signature", "AAAA".into())])),
    )]);
    assert_eq!(
        attempt.on_welcome(&truncated),
        Err(AuthError::BadServerSignature)
    );
}

#[test]
fn scram_welcome_errors() {
    let router = TestScramRouter::new("pw", "pbkdf2", 10, 0);
    let mut attempt = ClientAuth::scram("dave", "pw").start(NONCE);
    // WELCOME before any challenge: the router was never verified.
    assert_eq!(
        attempt.on_welcome(&Dict::new()),
        Err(AuthError::ServerNotVerified)
    );
    let (_, challenge) = router.challenge(&attempt.hello_authextra());
    attempt.on_challenge("scram", &challenge).unwrap();
    let missing = AuthError::MissingField {
        method: "scram",
        field: "scram_server_signature",
    };
    assert_eq!(attempt.on_welcome(&Dict::new()), Err(missing.clone()));
    assert_eq!(
        attempt.on_welcome(&dict(vec![("authextra", Value::Dict(Dict::new()))])),
        Err(missing)
    );
    assert!(matches!(
        attempt.on_welcome(&dict(vec![("authextra", "x".into())])),
        Err(AuthError::InvalidField {
            field: "authextra",
            ..
        })
    ));
    let not_base64 = dict(vec![(
        "authextra",
        Value::Dict(dict(vec![("scram_server_signature", "***".into())])),
    )]);
    assert!(matches!(
        attempt.on_welcome(&not_base64),
        Err(AuthError::InvalidField {
            field: "scram_server_signature",
            ..
        })
    ));
    let wrong_type = dict(vec![(
        "authextra",
        Value::Dict(dict(vec![(
            "scram_server_signature",
            Value::bytes(vec![0; 32]),
        )])),
    )]);
    assert!(matches!(
        attempt.on_welcome(&wrong_type),
        Err(AuthError::InvalidField {
            field: "scram_server_signature",
            ..
        })
    ));
}

#[test]
fn scram_challenge_errors() {
    let router = TestScramRouter::new("pw", "argon2id-13", 1, 8);
    let mut attempt = ClientAuth::scram("dave", "pw").start(NONCE);
    let (_, good) = router.challenge(&attempt.hello_authextra());

    let with = |key: &str, value: Value| {
        let mut extra = good.clone();
        extra.insert(key.to_owned(), value);
        extra
    };
    let without = |key: &str| {
        let mut extra = good.clone();
        extra.shift_remove(key);
        extra
    };
    let mut check = |extra: Dict, expected: AuthError| {
        let got = attempt.on_challenge("scram", &extra);
        match (&got, &expected) {
            (
                Err(AuthError::InvalidField { field: a, .. }),
                AuthError::InvalidField { field: b, .. },
            ) => {
                assert_eq!(a, b, "{extra:?}")
            }
            _ => assert_eq!(got.map(|_| ()), Err(expected), "{extra:?}"),
        }
    };
    let invalid = |field| AuthError::InvalidField {
        method: "scram",
        field,
        reason: String::new(),
    };
    let missing = |field| AuthError::MissingField {
        method: "scram",
        field,
    };

    for field in ["nonce", "salt", "kdf", "iterations"] {
        check(without(field), missing(field));
    }
    check(without("memory"), missing("memory"));
    check(with("memory", Value::Null), missing("memory"));
    check(with("memory", "512".into()), invalid("memory"));
    check(with("memory", (1u64 << 40).into()), invalid("memory"));
    check(with("iterations", (-5).into()), invalid("iterations"));
    check(with("iterations", 1.5.into()), invalid("iterations"));
    check(with("kdf", "scrypt".into()), invalid("kdf"));
    check(with("salt", "%%%".into()), invalid("salt"));
    check(with("nonce", 7.into()), invalid("nonce"));
    check(
        with("nonce", STANDARD.encode([0x22; 48]).into()),
        AuthError::NonceMismatch,
    );
    check(
        with("nonce", STANDARD.encode(NONCE).into()),
        AuthError::NonceMismatch,
    );
    check(
        with("channel_binding", "tls-unique".into()),
        AuthError::UnsupportedChannelBinding {
            method: "scram",
            binding: "tls-unique".into(),
        },
    );

    // No authid: SCRAM cannot build its AuthMessage.
    let mut no_authid = ClientAuth::scram("dave", "pw");
    no_authid.authid = None;
    let mut attempt = no_authid.start(NONCE);
    assert_eq!(
        attempt.on_challenge("scram", &good).map(|_| ()),
        Err(missing("authid"))
    );
}

/// Every method, every field, every kind of value: answers are `Ok` or `Err`, never a panic.
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

//! SCRAM against an independently written router computation.

use super::*;

/// A SCRAM "router" written independently of `scram.rs` (from the same primitives), computing what
/// Crossbar.io computes: credentials as Autobahn|Python's `derive_scram_credential`, the challenge
/// nonce as `base64(client_nonce_bytes ‖ 16 router bytes)`, the proof check by recovering the
/// StoredKey, and the server signature.
pub(super) struct TestScramRouter {
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
    pub(super) fn new(password: &str, kdf: &'static str, iterations: u64, memory: u64) -> Self {
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
    pub(super) fn challenge(&self, hello_authextra: &Dict) -> (String, Dict) {
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

//! Keystore and passphrase tests: the Web3 Secret Storage spec's published vectors, each
//! passphrase source, and the errors an operator meets.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clap::Parser;

use super::*;

/// The spec's test vectors: password "testpassword", this key (both KDFs).
const VECTOR_PASSPHRASE: &str = "testpassword";
const VECTOR_KEY: &str = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
const VECTOR_PBKDF2: &str = r#"{
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": { "iv": "6087dab2f9fdbbfaddc31a909735c1e6" },
    "ciphertext": "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    "kdf": "pbkdf2",
    "kdfparams": {
      "c": 262144,
      "dklen": 32,
      "prf": "hmac-sha256",
      "salt": "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"
    },
    "mac": "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
}"#;
const VECTOR_SCRYPT: &str = r#"{
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": { "iv": "83dbcc02d8ccb40e466191a123791e0e" },
    "ciphertext": "d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c",
    "kdf": "scrypt",
    "kdfparams": {
      "dklen": 32,
      "n": 262144,
      "p": 8,
      "r": 1,
      "salt": "ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"
    },
    "mac": "2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"
  },
  "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  "version": 3
}"#;

/// The same key and passphrase in a keystore made by Python's `eth_keyfile` (the library behind
/// Autobahn's XBR code) with 1024 PBKDF2 rounds: cheap enough for the tests that are not about the KDF.
const CHEAP_PBKDF2: &str = r#"{
  "address": "008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b",
  "crypto": {
    "cipher": "aes-128-ctr",
    "cipherparams": { "iv": "014e7e2cc79e814d7deb61674764a6a8" },
    "ciphertext": "7964b27b08a79e983784f6384578e1234c9574f5e85b4d94a89d84822c614fd7",
    "kdf": "pbkdf2",
    "kdfparams": { "c": 1024, "dklen": 32, "prf": "hmac-sha256", "salt": "cbd7fc95f36a198b41c480ce4b5456bd" },
    "mac": "a0f1a739e0bb631954090cf61e193d39607948a0d68df1a05db885f680cb5fa1"
  },
  "id": "2d50a51a-47ac-453e-8715-f7b40e387a10",
  "version": 3
}"#;

fn private_file(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn source(key_file: PathBuf, passphrase: Option<PassphraseSource>) -> EthKeySource {
    EthKeySource {
        key_file,
        passphrase,
        fields: KeyFields::CONFIG,
    }
}

fn vector_address() -> alloy_primitives::Address {
    EthPrivateKey::from_hex(VECTOR_KEY).unwrap().address()
}

#[test]
fn spec_vectors_decrypt_with_each_kdf() {
    let dir = tempfile::tempdir().unwrap();
    let pass = private_file(
        dir.path(),
        "pass",
        format!("{VECTOR_PASSPHRASE}\n").as_bytes(),
    );
    // Pre-standard files spell the `crypto` key `Crypto`.
    let legacy = VECTOR_PBKDF2.replace("\"crypto\"", "\"Crypto\"");
    for (name, json) in [
        ("pbkdf2.json", VECTOR_PBKDF2),
        ("scrypt.json", VECTOR_SCRYPT),
        ("legacy.json", legacy.as_str()),
    ] {
        let file = private_file(dir.path(), name, json.as_bytes());
        let key = load_eth_key(
            &source(file, Some(PassphraseSource::File(pass.clone()))),
            &BTreeMap::new(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.address(), vector_address(), "{name}");
        assert_eq!(hex::encode(*key.to_bytes()), VECTOR_KEY, "{name}");
    }
}

#[test]
fn each_passphrase_source_opens_a_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let creds = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "k.json", CHEAP_PBKDF2.as_bytes());
    private_file(
        creds.path(),
        "xbrd-key-passphrase",
        VECTOR_PASSPHRASE.as_bytes(),
    );
    let env = BTreeMap::from([
        (
            "XBRD_KEY_PASSPHRASE".to_string(),
            VECTOR_PASSPHRASE.to_string(),
        ),
        (
            CREDENTIALS_DIRECTORY.to_string(),
            creds.path().display().to_string(),
        ),
    ]);
    for from in [
        PassphraseSource::Env("XBRD_KEY_PASSPHRASE".into()),
        PassphraseSource::Credential("xbrd-key-passphrase".into()),
    ] {
        let key = load_eth_key(&source(file.clone(), Some(from.clone())), &env)
            .unwrap_or_else(|e| panic!("{from}: {e}"));
        assert_eq!(key.address(), vector_address(), "{from}");
    }
}

#[test]
fn wrong_or_missing_passphrase_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "k.json", CHEAP_PBKDF2.as_bytes());
    let env = BTreeMap::from([("P".to_string(), "not the passphrase".to_string())]);
    let err = load_eth_key(
        &source(file.clone(), Some(PassphraseSource::Env("P".into()))),
        &env,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("ethereum.private_key_file"));
    assert!(
        matches!(
            &err,
            ConfigError::KeyFile {
                source: KeyFileError::WrongPassphrase { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    assert!(!err.to_string().contains("not the passphrase"), "{err}");

    let err = load_eth_key(&source(file, None), &env).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("encrypted keystore") && msg.contains("ethereum.private_key_passphrase_env"),
        "{msg}"
    );

    let err = load_eth_key(
        &source(
            dir.path().join("absent.json"),
            Some(PassphraseSource::Env("P".into())),
        ),
        &env,
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::KeyFile {
                source: KeyFileError::Read { .. },
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unset_passphrase_variable_names_the_passphrase_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = private_file(dir.path(), "k.json", CHEAP_PBKDF2.as_bytes());
    let err = load_eth_key(
        &source(file, Some(PassphraseSource::Env("XBRD_UNSET".into()))),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("ethereum.private_key_passphrase_env"));
    assert!(err.to_string().contains("XBRD_UNSET"), "{err}");
}

#[test]
fn raw_key_files_still_load_and_refuse_a_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let hex_file = private_file(dir.path(), "k.hex", format!("0x{VECTOR_KEY}\n").as_bytes());
    let key = load_eth_key(&source(hex_file.clone(), None), &BTreeMap::new()).unwrap();
    assert_eq!(key.address(), vector_address());
    // 32 raw bytes starting with `{` (0x7b) are still a raw key, not JSON.
    let mut raw = [0xffu8; 32];
    raw[0] = b'{';
    let raw_file = private_file(dir.path(), "k.bin", &raw);
    let key = load_eth_key(&source(raw_file, None), &BTreeMap::new()).unwrap();
    assert_eq!(*key.to_bytes(), raw);

    let env = BTreeMap::from([("P".to_string(), "x".to_string())]);
    let err = load_eth_key(
        &source(hex_file, Some(PassphraseSource::Env("P".into()))),
        &env,
    )
    .unwrap_err();
    assert_eq!(err.field(), Some("ethereum.private_key_passphrase_env"));
    assert!(err.to_string().contains("plain key file"), "{err}");
}

#[test]
fn malformed_keystores_are_refused_before_decryption() {
    let cases = [
        (
            VECTOR_PBKDF2.replace("\"version\": 3", "\"version\": 1"),
            "version 3",
        ),
        (
            VECTOR_PBKDF2.replace("6087dab2f9fdbbfaddc31a909735c1e6", "6087"),
            "cipherparams.iv",
        ),
        (
            VECTOR_PBKDF2.replace("aes-128-ctr", "aes-128-cbc"),
            "unsupported cipher",
        ),
        (
            VECTOR_PBKDF2.replace("\"dklen\": 32", "\"dklen\": 16"),
            "dklen",
        ),
        (VECTOR_PBKDF2.replace("hmac-sha256", "hmac-sha512"), "prf"),
        (
            VECTOR_SCRYPT.replace("262144", "262143"),
            "not a power of two",
        ),
        (
            VECTOR_SCRYPT.replace("\"p\": 8", "\"p\": 0"),
            "invalid scrypt parameters",
        ),
        (VECTOR_SCRYPT.replace("\"r\": 1", "\"r\": 1024"), "exceed"),
        (
            VECTOR_PBKDF2.replace("\"kdf\": \"pbkdf2\"", "\"kdf\": \"argon2\""),
            "unsupported kdf",
        ),
        ("{ not json".to_string(), "not a keystore v3 JSON file"),
        (
            VECTOR_PBKDF2.replace("\"c\": 262144,", ""),
            "missing field `c`",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let env = BTreeMap::from([("P".to_string(), VECTOR_PASSPHRASE.to_string())]);
    for (json, want) in cases {
        let file = private_file(dir.path(), "k.json", json.as_bytes());
        let err =
            load_eth_key(&source(file, Some(PassphraseSource::Env("P".into()))), &env).unwrap_err();
        assert!(
            matches!(
                &err,
                ConfigError::KeyFile {
                    source: KeyFileError::Keystore { .. },
                    ..
                }
            ),
            "{want}: {err}"
        );
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
}

#[test]
fn keystore_address_must_match_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let env = BTreeMap::from([("P".to_string(), VECTOR_PASSPHRASE.to_string())]);
    let with = |address: &str| {
        let json = CHEAP_PBKDF2.replace("008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b", address);
        let file = private_file(dir.path(), "k.json", json.as_bytes());
        load_eth_key(&source(file, Some(PassphraseSource::Env("P".into()))), &env)
    };
    // With or without 0x, any case.
    let good = vector_address().to_checksum(None);
    assert_eq!(with(&good).unwrap().address(), vector_address());
    assert_eq!(
        with(&good[2..].to_lowercase()).unwrap().address(),
        vector_address()
    );
    let err = with(&"11".repeat(20)).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    key: EthKeyArgs,
}

#[test]
fn flags_allow_one_passphrase_source() {
    let ok = Cli::try_parse_from(["x", "--key-file", "k.json", "--passphrase-env", "P"]).unwrap();
    assert_eq!(ok.key.passphrase(), Some(PassphraseSource::Env("P".into())));
    let source = ok.key.source().unwrap();
    assert_eq!(
        (source.key_file, source.fields),
        (PathBuf::from("k.json"), KeyFields::CLI)
    );
    for both in [
        ["--passphrase-env", "P", "--passphrase-file", "f"],
        ["--passphrase-env", "P", "--passphrase-credential", "c"],
        ["--passphrase-file", "f", "--passphrase-credential", "c"],
    ] {
        let args = ["x", "--key-file", "k.json"].into_iter().chain(both);
        assert!(Cli::try_parse_from(args).is_err(), "{both:?}");
    }
    assert!(Cli::try_parse_from(["x", "--passphrase-env", "P"]).is_err());
    let none = Cli::try_parse_from(["x"]).unwrap();
    let err = none.key.load().unwrap_err();
    assert_eq!(err.field(), Some("--key-file"));
}

//! The non-EIP-712 vectors of the shared file: key addresses and provider ids, uint256
//! packings, the SecretBox payload ciphertext and CBOR, and the sealed-box opening.

mod common;

use std::collections::HashMap;

use common::{data, unhex};
use serde::Serialize;
use serde_json::value::RawValue;
use xbr_core::address::{format_address, parse_address};
use xbr_core::eth::EthPrivateKey;
use xbr_core::payload::{self, OVERHEAD, PayloadError};
use xbr_core::sealedbox::{BuyerReceiveKey, SEALED_KEY_LEN, SealedBoxError};
use xbr_core::uint256::{Amount, pack_uint256, unpack_uint256};
use xbr_core::{DataKey, U256};

fn vectors() -> serde_json::Value {
    serde_json::from_str(&data("xbr-market-vectors.json")).unwrap()
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn keys_addresses_and_provider_ids() {
    let doc = vectors();
    let keys = doc["keys"].as_object().unwrap();
    assert_eq!(keys.len(), 5);
    for (role, k) in keys {
        let key = EthPrivateKey::from_hex(s(&k["privkey"])).unwrap();
        assert_eq!(format_address(&key.address()), s(&k["address"]), "{role}");
        assert_eq!(key.address(), parse_address(s(&k["address"])).unwrap());
        let pid = key.provider_id();
        assert_eq!(pid, s(&k["pubkey_str(provider_id)"]), "{role}");
        assert_eq!(pid.len(), 130);
    }
}

#[test]
fn uint256_packings() {
    // read the object raw: its keys are decimal strings, some above 2^64
    let doc: HashMap<String, Box<RawValue>> =
        serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let packs: HashMap<String, String> = serde_json::from_str(doc["pack_uint256"].get()).unwrap();
    assert_eq!(packs.len(), 5);
    for (dec, hex) in &packs {
        let v = U256::from_str_radix(dec, 10).unwrap();
        assert_eq!(pack_uint256(v).to_vec(), unhex(hex), "{dec}");
        assert_eq!(unpack_uint256(&unhex(hex)).unwrap(), v);
        assert_eq!(Amount::from_decimal_str(dec).unwrap().value(), v);
        assert_eq!(Amount::from_uint256_bytes(&unhex(hex)).unwrap().value(), v);
    }
}

#[derive(Serialize)]
struct DemoPayload<'a> {
    data: &'a str,
    counter: u64,
}

#[test]
fn secretbox_payload_vector() {
    let doc = vectors();
    let v = &doc["payload_secretbox"];
    // CBOR of {"data": "py-seller", "counter": 1}, in insertion order
    let cbor = payload::to_cbor(&DemoPayload {
        data: "py-seller",
        counter: 1,
    })
    .unwrap();
    assert_eq!(cbor, unhex(s(&v["cbor(payload)"])));
    // the same from a dynamic value built from the JSON (serde_json keeps insertion order only
    // with preserve_order, so build the ciborium map explicitly)
    let dynamic = ciborium::Value::Map(vec![
        ("data".into(), "py-seller".into()),
        ("counter".into(), 1.into()),
    ]);
    assert_eq!(payload::to_cbor(&dynamic).unwrap(), cbor);

    let key = DataKey::from_slice(&unhex(s(&v["data_key"]))).unwrap();
    let nonce: [u8; 24] = unhex(s(&v["nonce"])).try_into().unwrap();
    let wire = payload::seal_with_nonce(&key, &nonce, &cbor);
    assert_eq!(wire, unhex(s(&v["wire_ciphertext(nonce|tag|ct)"])));
    assert_eq!(wire.len() as u64, v["len"].as_u64().unwrap());
    assert_eq!(wire.len(), cbor.len() + OVERHEAD);
    assert_eq!(payload::open(&key, &wire).unwrap(), cbor);
    let back: ciborium::Value = payload::decrypt_value(&key, &wire).unwrap();
    assert_eq!(back, dynamic);
    payload::check_serializer(s(&v["enc_ser"])).unwrap();

    // any flipped bit anywhere is an authentication error
    for i in 0..wire.len() {
        let mut bad = wire.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(payload::open(&key, &bad), Err(PayloadError::Authentication)),
            "byte {i}"
        );
    }
}

#[test]
fn cbor_bytes_stay_bytes() {
    #[derive(Serialize)]
    struct WithBytes {
        #[serde(with = "serde_bytes_shim")]
        blob: Vec<u8>,
    }
    mod serde_bytes_shim {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }
    let cbor = payload::to_cbor(&WithBytes {
        blob: vec![1, 2, 3],
    })
    .unwrap();
    // {"blob": h'010203'}: major type 2 (0x43), not an array
    assert_eq!(cbor, unhex("a164626c6f6243010203"));
    let v = ciborium::Value::Bytes(vec![0xde, 0xad]);
    assert_eq!(payload::to_cbor(&v).unwrap(), unhex("42dead"));
}

#[test]
fn sealedbox_opening_vector() {
    let doc = vectors();
    let v = &doc["key_sealedbox"];
    let sk: [u8; 32] = unhex(s(&v["buyer_x25519_privkey"])).try_into().unwrap();
    let buyer = BuyerReceiveKey::from_bytes(sk);
    assert_eq!(
        buyer.public().to_vec(),
        unhex(s(&v["buyer_x25519_pubkey(buyer_pubkey on wire)"]))
    );
    let sealed = unhex(s(
        &v["sealed_key(epk|tag|ct) - one random instance, valid for opening"],
    ));
    assert_eq!(sealed.len(), SEALED_KEY_LEN);
    assert_eq!(&sealed[..32], &unhex(s(&v["ephemeral_pk"]))[..]);
    let key = buyer.open(&sealed).unwrap();
    assert_eq!(key.as_bytes().to_vec(), unhex(s(&v["data_key"])));

    // the derived nonce of the vector is BLAKE2b-24(epk ‖ buyer_pk)
    use blake2::digest::{Update, VariableOutput};
    let mut h = blake2::Blake2bVar::new(24).unwrap();
    h.update(&sealed[..32]);
    h.update(&buyer.public());
    let mut nonce = [0u8; 24];
    h.finalize_variable(&mut nonce).unwrap();
    assert_eq!(
        nonce.to_vec(),
        unhex(s(&v["derived_nonce=blake2b(epk||rpk, 24)"]))
    );

    // tampering, truncation and a wrong key are typed errors
    let mut bad = sealed.clone();
    bad[50] ^= 0x80;
    assert_eq!(
        buyer.open(&bad).unwrap_err(),
        SealedBoxError::Authentication
    );
    assert_eq!(
        buyer.open(&sealed[..79]).unwrap_err(),
        SealedBoxError::BadLength { len: 79 }
    );
    let other = BuyerReceiveKey::from_bytes([7; 32]);
    assert_eq!(
        other.open(&sealed).unwrap_err(),
        SealedBoxError::Authentication
    );
}

#[test]
fn key_id_example_displays_as_the_reference_uuid() {
    let doc = vectors();
    let raw = unhex(s(
        &doc["payload_secretbox"]["key_id_example(uuid4-like 16 random bytes)"],
    ));
    let key_id = xbr_core::KeyId::from_slice(&raw).unwrap();
    // Python: str(uuid.UUID(bytes=bytes.fromhex("5bfb8216c79a8a0babc0f9b8bde5fe74")))
    assert_eq!(key_id.to_string(), "5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74");
    assert_eq!(key_id.to_string().parse(), Ok(key_id));
}

#[test]
fn key_series_reproduces_the_payload_vector() {
    use std::time::{Duration, UNIX_EPOCH};
    use xbr_core::KeyId;
    use xbr_core::keyseries::{ArchivedKey, KeySeries, RotationPolicy};

    let doc = vectors();
    let v = &doc["payload_secretbox"];
    let key_id =
        KeyId::from_slice(&unhex(s(&v["key_id_example(uuid4-like 16 random bytes)"]))).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut series = KeySeries::restore(
        xbr_core::ApiId([1; 16]),
        U256::from(35u64),
        RotationPolicy::Interval(Duration::from_secs(10)),
        [ArchivedKey {
            key_id,
            key: DataKey::from_slice(&unhex(s(&v["data_key"]))).unwrap(),
            created_at: now,
        }],
        0,
    )
    .unwrap();
    let nonce: [u8; 24] = unhex(s(&v["nonce"])).try_into().unwrap();
    let w = series
        .encrypt_cbor_with_nonce(
            &unhex(s(&v["cbor(payload)"])),
            &nonce,
            now,
            &mut rand_core::OsRng,
        )
        .unwrap();
    assert_eq!(w.key_id, key_id);
    assert_eq!(w.enc_ser, s(&v["enc_ser"]));
    assert_eq!(w.ciphertext, unhex(s(&v["wire_ciphertext(nonce|tag|ct)"])));
    assert_eq!(w.rotation, None);
}

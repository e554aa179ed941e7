//! Every EIP-712 vector: the shared market vectors and reference-generated vectors of all 17
//! types (type strings, type hashes, struct hashes, digests, signatures, recovery), plus the
//! on-chain type strings of `XBRTypes.sol`.

mod common;

use alloy_primitives::{B256, keccak256};
use alloy_sol_types::SolStruct;
use common::{Msg, data, unhex};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use xbr_core::address::parse_address;
use xbr_core::eip712::*;
use xbr_core::eth::EthPrivateKey;
use xbr_core::{ChannelId, MarketId};

#[derive(Deserialize)]
struct Vector {
    #[serde(rename = "primaryType")]
    primary_type: String,
    typestring: String,
    typehash: String,
    message: Box<RawValue>,
    signer_privkey: String,
    #[serde(default)]
    signer_address: Option<String>,
    #[serde(rename = "structHash")]
    struct_hash: String,
    digest: String,
    #[serde(rename = "signature(r|s|v)")]
    signature: String,
    #[serde(default)]
    domain: Option<HashMap<String, String>>,
}

fn check<T: XbrTypedData>(v: &Vector, msg: T) {
    let ctx = &v.primary_type;
    assert_eq!(T::eip712_encode_type(), v.typestring, "{ctx}: typestring");
    assert_eq!(
        keccak256(v.typestring.as_bytes()).as_slice(),
        unhex(&v.typehash),
        "{ctx}: typehash"
    );
    if let Some(d) = &v.domain {
        assert_eq!(
            T::domain().name.as_deref(),
            d.get("name").map(String::as_str)
        );
        assert_eq!(
            T::domain().version.as_deref(),
            d.get("version").map(String::as_str)
        );
    }
    assert_eq!(
        msg.eip712_hash_struct().as_slice(),
        unhex(&v.struct_hash),
        "{ctx}: structHash"
    );
    let digest = signing_hash(&msg);
    assert_eq!(digest.as_slice(), unhex(&v.digest), "{ctx}: digest");
    let key = EthPrivateKey::from_hex(&v.signer_privkey).unwrap();
    let sig = sign_typed(&key, &msg);
    assert_eq!(sig.to_vec(), unhex(&v.signature), "{ctx}: signature");
    let signer = recover_typed(&msg, &unhex(&v.signature)).unwrap();
    assert_eq!(signer, key.address(), "{ctx}: recovered signer");
    if let Some(a) = &v.signer_address {
        assert_eq!(signer, parse_address(a).unwrap(), "{ctx}: signer address");
    }
}

fn check_vector(v: &Vector) {
    let m = Msg::parse(&v.message);
    match v.primary_type.as_str() {
        "EIP712ChannelClose" => check(
            v,
            EIP712ChannelClose {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                closeAt: m.u256("closeAt"),
                marketId: m.b16("marketId"),
                channelId: m.b16("channelId"),
                channelSeq: m.u32("channelSeq"),
                balance: m.u256("balance"),
                isFinal: m.bool("isFinal"),
            },
        ),
        "EIP712ChannelOpen" => check(
            v,
            EIP712ChannelOpen {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                ctype: m.u8("ctype"),
                openedAt: m.u256("openedAt"),
                marketId: m.b16("marketId"),
                channelId: m.b16("channelId"),
                actor: m.address("actor"),
                delegate: m.address("delegate"),
                marketmaker: m.address("marketmaker"),
                recipient: m.address("recipient"),
                amount: m.u256("amount"),
            },
        ),
        "EIP712MarketMemberLogin" => check(
            v,
            EIP712MarketMemberLogin {
                member: m.address("member"),
                client_pubkey: m.b32("client_pubkey"),
            },
        ),
        "EIP712Consent" => check(
            v,
            EIP712Consent {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                updated: m.u256("updated"),
                marketId: m.b16("marketId"),
                delegate: m.address("delegate"),
                delegateType: m.u8("delegateType"),
                apiCatalog: m.b16("apiCatalog"),
                consent: m.bool("consent"),
                servicePrefix: m.string("servicePrefix"),
            },
        ),
        "EIP712MemberRegister" => check(
            v,
            EIP712MemberRegister {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                registered: m.u256("registered"),
                eula: m.string("eula"),
                profile: m.string("profile"),
            },
        ),
        "EIP712MemberUnregister" => check(
            v,
            EIP712MemberUnregister {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                retired: m.u256("retired"),
            },
        ),
        "EIP712MemberLogin" => check(
            v,
            EIP712MemberLogin {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                loggedIn: m.u256("loggedIn"),
                timestamp: m.u64("timestamp"),
                member_email: m.string("member_email"),
                client_pubkey: m.b32("client_pubkey"),
            },
        ),
        "EIP712MarketCreate" => check(
            v,
            EIP712MarketCreate {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                created: m.u256("created"),
                marketId: m.b16("marketId"),
                coin: m.address("coin"),
                terms: m.string("terms"),
                meta: m.string("meta"),
                maker: m.address("maker"),
                marketFee: m.u256("marketFee"),
            },
        ),
        "EIP712MarketJoin" => check(
            v,
            EIP712MarketJoin {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                joined: m.u256("joined"),
                marketId: m.b16("marketId"),
                actorType: m.u8("actorType"),
                meta: m.string("meta"),
            },
        ),
        "EIP712MarketLeave" => check(
            v,
            EIP712MarketLeave {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                left: m.u256("left"),
                marketId: m.b16("marketId"),
                actorType: m.u8("actorType"),
            },
        ),
        "EIP712CatalogCreate" => check(
            v,
            EIP712CatalogCreate {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                created: m.u256("created"),
                catalogId: m.b16("catalogId"),
                terms: m.string("terms"),
                meta: m.string("meta"),
            },
        ),
        "EIP712ApiPublish" => check(
            v,
            EIP712ApiPublish {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                published: m.u256("published"),
                catalogId: m.b16("catalogId"),
                apiId: m.b16("apiId"),
                schema: m.string("schema"),
                meta: m.string("meta"),
            },
        ),
        "EIP712DomainCreate" => check(
            v,
            EIP712DomainCreate {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                created: m.u256("created"),
                domainId: m.b16("domainId"),
                domainKey: m.b32("domainKey"),
                license: m.string("license"),
                terms: m.string("terms"),
                meta: m.string("meta"),
            },
        ),
        "EIP712NodePair" => check(
            v,
            EIP712NodePair {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                member: m.address("member"),
                paired: m.u256("paired"),
                nodeId: m.b16("nodeId"),
                domainId: m.b16("domainId"),
                nodeType: m.u8("nodeType"),
                nodeKey: m.b16("nodeKey"),
                amount: m.u256("amount"),
                config: m.string("config"),
            },
        ),
        "EIP712DelegateCertificate" => check(
            v,
            EIP712DelegateCertificate {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                validFrom: m.u256("validFrom"),
                delegate: m.address("delegate"),
                csPubKey: m.b32("csPubKey"),
                bootedAt: m.u64("bootedAt"),
                meta: m.string("meta"),
            },
        ),
        "EIP712AuthorityCertificate" => check(
            v,
            EIP712AuthorityCertificate {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                validFrom: m.u256("validFrom"),
                issuer: m.address("issuer"),
                subject: m.address("subject"),
                realm: m.address("realm"),
                capabilities: m.u64("capabilities"),
                meta: m.string("meta"),
            },
        ),
        "EIP712SeederConnect" => check(
            v,
            EIP712SeederConnect {
                chainId: m.u256("chainId"),
                verifyingContract: m.address("verifyingContract"),
                channel_binding: m.string("channel_binding"),
                channel_id: m.b32("channel_id"),
                block_no: m.u256("block_no"),
                challenge: m.b32("challenge"),
                pubkey: m.b32("pubkey"),
                realm: m.address("realm"),
                delegate: m.address("delegate"),
                seeder: m.address("seeder"),
                bandwidth: m.u32("bandwidth"),
            },
        ),
        other => panic!("no Rust type for {other}"),
    }
}

#[test]
fn shared_market_vectors_all_reproduce() {
    let doc: HashMap<String, Box<RawValue>> =
        serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let mut checked = 0;
    for (name, raw) in &doc {
        if let Ok(v) = serde_json::from_str::<Vector>(raw.get()) {
            check_vector(&v);
            checked += 1;
        } else {
            assert!(
                !raw.get().contains("primaryType"),
                "{name} has a primaryType but does not parse as a vector"
            );
        }
    }
    // 5 ChannelClose, ChannelOpen, MarketMemberLogin, Consent
    assert_eq!(checked, 8);
}

#[test]
fn shared_domain_vectors() {
    let doc: serde_json::Value = serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let c = &doc["eip712_common"];
    assert_eq!(
        XBR_DOMAIN.encode_type(),
        c["EIP712Domain typestring"].as_str().unwrap()
    );
    assert_eq!(
        keccak256(XBR_DOMAIN.encode_type().as_bytes()).as_slice(),
        unhex(c["EIP712Domain typehash"].as_str().unwrap())
    );
    assert_eq!(
        XBR_DOMAIN.separator().as_slice(),
        unhex(
            c["domainSeparator(name=\"XBR\",version=\"1\")"]
                .as_str()
                .unwrap()
        )
    );
    assert_eq!(
        WMP_DOMAIN.separator().as_slice(),
        unhex(
            c["domainSeparator(name=\"WMP\",version=\"1\")"]
                .as_str()
                .unwrap()
        )
    );
    assert_eq!(
        EIP712ChannelClose::domain_separator(),
        XBR_DOMAIN.separator()
    );
    assert_eq!(
        EIP712AuthorityCertificate::domain_separator(),
        WMP_DOMAIN.separator()
    );
}

#[derive(Deserialize)]
struct AllTypes {
    vectors: HashMap<String, Vector>,
}

#[test]
fn reference_vectors_of_all_17_types() {
    let doc: AllTypes = serde_json::from_str(&data("reference-eip712-all-types.json")).unwrap();
    assert_eq!(doc.vectors.len(), 17);
    for v in doc.vectors.values() {
        check_vector(v);
    }
}

#[derive(Deserialize)]
struct OnChain {
    typestrings: HashMap<String, String>,
}

#[test]
fn onchain_type_strings_match_xbrtypes_sol() {
    let doc: OnChain = serde_json::from_str(&data("onchain-typestrings.json")).unwrap();
    let ours: Vec<(&str, String)> = vec![
        ("EIP712Domain", XBR_DOMAIN.encode_type()),
        (
            "EIP712MemberRegister",
            EIP712MemberRegister::eip712_encode_type().into(),
        ),
        (
            "EIP712MemberUnregister",
            EIP712MemberUnregister::eip712_encode_type().into(),
        ),
        (
            "EIP712DomainCreate",
            EIP712DomainCreate::eip712_encode_type().into(),
        ),
        (
            "EIP712NodePair",
            EIP712NodePairOnChain::eip712_encode_type().into(),
        ),
        (
            "EIP712CatalogCreate",
            EIP712CatalogCreate::eip712_encode_type().into(),
        ),
        (
            "EIP712ApiPublish",
            EIP712ApiPublishOnChain::eip712_encode_type().into(),
        ),
        (
            "EIP712MarketCreate",
            EIP712MarketCreate::eip712_encode_type().into(),
        ),
        (
            "EIP712MarketJoin",
            EIP712MarketJoin::eip712_encode_type().into(),
        ),
        (
            "EIP712MarketLeave",
            EIP712MarketLeave::eip712_encode_type().into(),
        ),
        (
            "EIP712Consent",
            EIP712ConsentOnChain::eip712_encode_type().into(),
        ),
        (
            "EIP712ChannelOpen",
            EIP712ChannelOpen::eip712_encode_type().into(),
        ),
        (
            "EIP712ChannelClose",
            EIP712ChannelClose::eip712_encode_type().into(),
        ),
    ];
    assert_eq!(ours.len(), doc.typestrings.len());
    for (name, ts) in ours {
        assert_eq!(&ts, &doc.typestrings[name], "{name}");
    }
    // and the three reference-wire forms differ from the contract's
    for (name, ts) in [
        ("EIP712NodePair", EIP712NodePair::eip712_encode_type()),
        ("EIP712ApiPublish", EIP712ApiPublish::eip712_encode_type()),
        ("EIP712Consent", EIP712Consent::eip712_encode_type()),
    ] {
        assert_ne!(ts.as_ref(), doc.typestrings[name], "{name}");
    }
}

#[test]
fn channel_close_constructor_matches_the_sell_call_vector() {
    let doc: serde_json::Value = serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let v = &doc["ChannelClose_mm_XBRSIG3_sell_call"];
    let contract = parse_address("0xC89Ce4735882C9F0f0FE26686c53074E09B0D550").unwrap();
    let msg = EIP712ChannelClose::new(
        5777,
        contract,
        1,
        MarketId::from_slice(&unhex("a1b8d6741ae8492017fafd8d4f8b67a2")).unwrap(),
        ChannelId::from_slice(&unhex("0b3c1f0e6a614a0c8a5d2f7d0c9e1b22")).unwrap(),
        2,
        xbr_core::U256::from(965_000_000_000_000_000_000u128),
        false,
    );
    assert_eq!(
        signing_hash(&msg),
        B256::from_slice(&unhex(v["digest"].as_str().unwrap()))
    );
    let mm = parse_address(v["signer_address"].as_str().unwrap()).unwrap();
    let sig = unhex(v["signature(r|s|v)"].as_str().unwrap());
    assert_eq!(recover_typed(&msg, &sig).unwrap(), mm);
    // the same signature does not verify a different balance (the seller's balance check)
    let mut other = msg.clone();
    other.balance += xbr_core::U256::from(1);
    assert_ne!(recover_typed(&other, &sig).unwrap(), mm);
}

#[test]
fn channel_open_constructor_matches_the_vector() {
    let doc: serde_json::Value = serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let v = &doc["ChannelOpen_payment"];
    let a = |s: &str| parse_address(s).unwrap();
    let msg = EIP712ChannelOpen::new(
        5777,
        a("0xC89Ce4735882C9F0f0FE26686c53074E09B0D550"),
        channel_type::PAYMENT,
        100,
        MarketId::from_slice(&unhex("a1b8d6741ae8492017fafd8d4f8b67a2")).unwrap(),
        ChannelId::from_slice(&unhex("7a4d8b968f5f4e5f9f0e3d5c2b1a0f11")).unwrap(),
        a("0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b"),
        a("0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC"),
        a("0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9"),
        a("0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d"),
        xbr_core::U256::from(500_000_000_000_000_000_000u128),
    );
    assert_eq!(
        signing_hash(&msg).as_slice(),
        unhex(v["digest"].as_str().unwrap())
    );
}

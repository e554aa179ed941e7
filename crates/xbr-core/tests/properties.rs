//! Property tests: sign → recover for every typed-data type, payload/sealed-box/at-rest round
//! trips, and typed errors for tampered, truncated and wrong-key input.
#![allow(non_snake_case)]

use alloy_primitives::{Address, B256, FixedBytes, U256};
use proptest::prelude::*;
use rand_core::OsRng;
use xbr_core::DataKey;
use xbr_core::at_rest::{self, AtRestError, Kek};
use xbr_core::eip712::*;
use xbr_core::eth::{EthPrivateKey, SignatureError};
use xbr_core::payload::{self, OVERHEAD, PayloadError};
use xbr_core::sealedbox::{self, BuyerReceiveKey, SealedBoxError};
use xbr_core::uint256::{Amount, pack_uint256, unpack_uint256};

fn key() -> impl Strategy<Value = EthPrivateKey> {
    any::<[u8; 32]>().prop_filter_map("valid secp256k1 scalar", |b| {
        EthPrivateKey::from_bytes(&b).ok()
    })
}
fn u256() -> impl Strategy<Value = U256> {
    any::<[u8; 32]>().prop_map(U256::from_be_bytes)
}
fn addr() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}
fn b16() -> impl Strategy<Value = FixedBytes<16>> {
    any::<[u8; 16]>().prop_map(FixedBytes)
}
fn b32() -> impl Strategy<Value = B256> {
    any::<[u8; 32]>().prop_map(B256::from)
}
fn text() -> impl Strategy<Value = String> {
    "\\PC{0,40}"
}

fn is_low_s(sig: &[u8]) -> bool {
    k256::ecdsa::Signature::from_slice(&sig[..64])
        .unwrap()
        .normalize_s()
        .is_none()
}

macro_rules! sign_recover {
    ($name:ident, $t:ident { $($field:ident : $strat:expr),+ $(,)? }) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]
            #[test]
            fn $name(key in key(), $($field in $strat),+) {
                let msg = $t { $($field),+ };
                let sig = sign_typed(&key, &msg);
                prop_assert!(sig[64] == 27 || sig[64] == 28);
                prop_assert!(is_low_s(&sig));
                prop_assert_eq!(recover_typed(&msg, &sig).unwrap(), key.address());
                // deterministic (RFC 6979)
                prop_assert_eq!(sign_typed(&key, &msg), sig);
                // a flipped bit in r or s never recovers the signer
                let mut bad = sig.0;
                bad[7] ^= 0x10;
                prop_assert_ne!(recover_typed(&msg, &bad).ok(), Some(key.address()));
                bad = sig.0;
                bad[40] ^= 0x01;
                prop_assert_ne!(recover_typed(&msg, &bad).ok(), Some(key.address()));
                // wrong v and truncation are typed errors
                bad = sig.0;
                bad[64] -= 27;
                prop_assert_eq!(recover_typed(&msg, &bad), Err(SignatureError::BadV { v: sig[64] - 27 }));
                prop_assert_eq!(recover_typed(&msg, &sig[..64]), Err(SignatureError::BadLength { len: 64 }));
            }
        }
    };
}

sign_recover!(
    channel_close,
    EIP712ChannelClose {
        chainId: u256(),
        verifyingContract: addr(),
        closeAt: u256(),
        marketId: b16(),
        channelId: b16(),
        channelSeq: any::<u32>(),
        balance: u256(),
        isFinal: any::<bool>(),
    }
);
sign_recover!(
    channel_open,
    EIP712ChannelOpen {
        chainId: u256(),
        verifyingContract: addr(),
        ctype: any::<u8>(),
        openedAt: u256(),
        marketId: b16(),
        channelId: b16(),
        actor: addr(),
        delegate: addr(),
        marketmaker: addr(),
        recipient: addr(),
        amount: u256(),
    }
);
sign_recover!(
    market_member_login,
    EIP712MarketMemberLogin {
        member: addr(),
        client_pubkey: b32()
    }
);
sign_recover!(
    consent,
    EIP712Consent {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        updated: u256(),
        marketId: b16(),
        delegate: addr(),
        delegateType: any::<u8>(),
        apiCatalog: b16(),
        consent: any::<bool>(),
        servicePrefix: text(),
    }
);
sign_recover!(
    consent_onchain,
    EIP712ConsentOnChain {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        updated: u256(),
        marketId: b16(),
        delegate: addr(),
        delegateType: any::<u8>(),
        apiCatalog: b16(),
        consent: any::<bool>(),
    }
);
sign_recover!(
    member_register,
    EIP712MemberRegister {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        registered: u256(),
        eula: text(),
        profile: text(),
    }
);
sign_recover!(
    member_unregister,
    EIP712MemberUnregister {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        retired: u256(),
    }
);
sign_recover!(
    member_login,
    EIP712MemberLogin {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        loggedIn: u256(),
        timestamp: any::<u64>(),
        member_email: text(),
        client_pubkey: b32(),
    }
);
sign_recover!(
    market_create,
    EIP712MarketCreate {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        created: u256(),
        marketId: b16(),
        coin: addr(),
        terms: text(),
        meta: text(),
        maker: addr(),
        marketFee: u256(),
    }
);
sign_recover!(
    market_join,
    EIP712MarketJoin {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        joined: u256(),
        marketId: b16(),
        actorType: any::<u8>(),
        meta: text(),
    }
);
sign_recover!(
    market_leave,
    EIP712MarketLeave {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        left: u256(),
        marketId: b16(),
        actorType: any::<u8>(),
    }
);
sign_recover!(
    catalog_create,
    EIP712CatalogCreate {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        created: u256(),
        catalogId: b16(),
        terms: text(),
        meta: text(),
    }
);
sign_recover!(
    api_publish,
    EIP712ApiPublish {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        published: u256(),
        catalogId: b16(),
        apiId: b16(),
        schema: text(),
        meta: text(),
    }
);
sign_recover!(
    api_publish_onchain,
    EIP712ApiPublishOnChain {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        published: u256(),
        catalogId: b16(),
        apiId: b16(),
        terms: text(),
        meta: text(),
    }
);
sign_recover!(
    domain_create,
    EIP712DomainCreate {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        created: u256(),
        domainId: b16(),
        domainKey: b32(),
        license: text(),
        terms: text(),
        meta: text(),
    }
);
sign_recover!(
    node_pair,
    EIP712NodePair {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        paired: u256(),
        nodeId: b16(),
        domainId: b16(),
        nodeType: any::<u8>(),
        nodeKey: b16(),
        amount: u256(),
        config: text(),
    }
);
sign_recover!(
    node_pair_onchain,
    EIP712NodePairOnChain {
        chainId: u256(),
        verifyingContract: addr(),
        member: addr(),
        paired: u256(),
        nodeId: b16(),
        domainId: b16(),
        nodeType: any::<u8>(),
        nodeKey: b32(),
        amount: u256(),
        config: text(),
    }
);
sign_recover!(
    delegate_certificate,
    EIP712DelegateCertificate {
        chainId: u256(),
        verifyingContract: addr(),
        validFrom: u256(),
        delegate: addr(),
        csPubKey: b32(),
        bootedAt: any::<u64>(),
        meta: text(),
    }
);
sign_recover!(
    authority_certificate,
    EIP712AuthorityCertificate {
        chainId: u256(),
        verifyingContract: addr(),
        validFrom: u256(),
        issuer: addr(),
        subject: addr(),
        realm: addr(),
        capabilities: any::<u64>(),
        meta: text(),
    }
);
sign_recover!(
    seeder_connect,
    EIP712SeederConnect {
        chainId: u256(),
        verifyingContract: addr(),
        channel_binding: text(),
        channel_id: b32(),
        block_no: u256(),
        challenge: b32(),
        pubkey: b32(),
        realm: addr(),
        delegate: addr(),
        seeder: addr(),
        bandwidth: any::<u32>(),
    }
);

proptest! {
    #[test]
    fn payload_round_trip_and_tamper(
        key in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        plain in proptest::collection::vec(any::<u8>(), 0..2048),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        cut in any::<prop::sample::Index>(),
    ) {
        let key = DataKey::from_bytes(key);
        let wire = payload::seal_with_nonce(&key, &nonce, &plain);
        prop_assert_eq!(wire.len(), plain.len() + OVERHEAD);
        prop_assert_eq!(&wire[..24], &nonce[..]);
        prop_assert_eq!(payload::open(&key, &wire).unwrap(), plain.clone());

        let mut bad = wire.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(matches!(payload::open(&key, &bad), Err(PayloadError::Authentication)));

        let n = cut.index(wire.len());
        match payload::open(&key, &wire[..n]) {
            Err(PayloadError::TooShort { len }) => prop_assert!(len < OVERHEAD && len == n),
            Err(PayloadError::Authentication) => prop_assert!(n >= OVERHEAD),
            other => prop_assert!(false, "truncated to {} gave {:?}", n, other),
        }

        if other != *key.as_bytes() {
            prop_assert!(matches!(
                payload::open(&DataKey::from_bytes(other), &wire),
                Err(PayloadError::Authentication)
            ));
        }
    }

    #[test]
    fn sealed_key_round_trip_and_tamper(
        data_key in any::<[u8; 32]>(),
        buyer_sk in any::<[u8; 32]>(),
        other_sk in any::<[u8; 32]>(),
        flip in 0usize..80,
        bit in 0u8..8,
        cut in 0usize..80,
    ) {
        let buyer = BuyerReceiveKey::from_bytes(buyer_sk);
        let sealed = sealedbox::seal(&data_key, &buyer.public(), &mut OsRng);
        let opened = buyer.open(&sealed).unwrap();
        prop_assert_eq!(opened.as_bytes(), &data_key);

        let mut bad = sealed;
        bad[flip] ^= 1 << bit;
        prop_assert_eq!(buyer.open(&bad).unwrap_err(), SealedBoxError::Authentication);
        prop_assert_eq!(buyer.open(&sealed[..cut]).unwrap_err(), SealedBoxError::BadLength { len: cut });
        let other = BuyerReceiveKey::from_bytes(other_sk);
        if other.public() != buyer.public() {
            prop_assert_eq!(other.open(&sealed).unwrap_err(), SealedBoxError::Authentication);
        }
    }

    #[test]
    fn at_rest_round_trip_and_tamper(
        kek in any::<[u8; 32]>(),
        data_key in any::<[u8; 32]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..32),
        flip in 0usize..at_rest::WRAPPED_DATA_KEY_LEN,
        bit in 0u8..8,
        cut in 0usize..at_rest::WRAPPED_DATA_KEY_LEN,
    ) {
        let kek = Kek::from_bytes(kek);
        let key = DataKey::from_bytes(data_key);
        let blob = at_rest::wrap_data_key(&kek, &aad, &key, &mut OsRng);
        prop_assert_eq!(at_rest::unwrap_data_key(&kek, &aad, &blob).unwrap(), key);
        let mut bad = blob.clone();
        bad[flip] ^= 1 << bit;
        let err = at_rest::unwrap_data_key(&kek, &aad, &bad).unwrap_err();
        if flip == 0 {
            prop_assert!(matches!(err, AtRestError::UnsupportedVersion(_)));
        } else {
            prop_assert_eq!(err, AtRestError::Authentication);
        }
        prop_assert_eq!(
            at_rest::unwrap_data_key(&kek, &aad, &blob[..cut]).unwrap_err(),
            AtRestError::BadLength { len: cut }
        );
        let mut other_aad = aad.clone();
        other_aad.push(0);
        prop_assert_eq!(at_rest::unwrap_data_key(&kek, &other_aad, &blob).unwrap_err(), AtRestError::Authentication);
    }

    #[test]
    fn uint256_round_trips(bytes in any::<[u8; 32]>()) {
        let v = U256::from_be_bytes(bytes);
        prop_assert_eq!(pack_uint256(v), bytes);
        prop_assert_eq!(unpack_uint256(&bytes).unwrap(), v);
        let a = Amount::from(v);
        prop_assert_eq!(Amount::from_be_bytes(&a.to_be_bytes_trimmed()).unwrap(), a);
        prop_assert_eq!(Amount::from_decimal_str(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn random_signature_bytes_never_panic(sig in proptest::collection::vec(any::<u8>(), 0..70), digest in any::<[u8; 32]>()) {
        let msg = EIP712MarketMemberLogin::new(Address::ZERO, digest);
        let _ = recover_typed(&msg, &sig);
    }
}

proptest! {
    #[test]
    fn recovery_agrees_with_the_ecdsa_crate(key in key(), digest in any::<[u8; 32]>()) {
        use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
        let digest = B256::from(digest);
        let sig = key.sign_digest(&digest);
        let vk = VerifyingKey::recover_from_prehash(
            digest.as_slice(),
            &Signature::from_slice(&sig[..64]).unwrap(),
            RecoveryId::from_byte(sig[64] - 27).unwrap(),
        )
        .unwrap();
        let point = vk.to_encoded_point(false);
        let expected = Address::from_raw_public_key(&point.as_bytes()[1..]);
        prop_assert_eq!(expected, key.address());
        prop_assert_eq!(xbr_core::eth::recover_digest(&digest, &sig).unwrap(), expected);
    }
}

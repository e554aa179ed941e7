//! Market-realm authentication on the real peers (spec §8.5): Crossbar.io asks our maker's
//! `xbr.marketmaker.authenticator.authenticate` about every delegate joining with
//! WAMP-cryptosign; the maker checks membership on ganache (`XBRMarket.isActor`) and keeps the
//! registered keys in its SQLite store.

use std::sync::Arc;

use wamp_client::{CallOptions, Error, JoinError, Session};
use wamp_proto::auth::CryptosignKey;
use wamp_proto::{Dict, Serializer, Value};
use xbr_chain::MarketDescription;
use xbr_market::adapter::session::{SessionPeer, register_maker};
use xbr_market::maker::authenticator::{member_authid, member_login_authextra};
use xbr_market::{MakerStore, SqliteStore};
use xbrd_testkit::{Crossbar, GANACHE_KEYS};

mod real_peers;
use real_peers::market_auth::{delegate_session, maker_session, market_auth_config};
use real_peers::{ChainMarket, chain_maker, key, xbr};

/// Members: 2 provides, 3 consumes; 5 is no actor.
fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": GANACHE_KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": GANACHE_KEYS[6], "xbr": xbr(100).to_string() },
        "members": [
            { "key": GANACHE_KEYS[2], "actor": "provider", "xbr": xbr(100).to_string() },
            { "key": GANACHE_KEYS[3], "actor": "consumer", "xbr": xbr(100).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

fn welcome(s: &Session) -> (String, String, Option<u64>) {
    let info = s.info().unwrap();
    let actor_type = info
        .details
        .get("authextra")
        .and_then(Value::as_dict)
        .and_then(|e| e.get("actor_type"))
        .and_then(Value::as_u64);
    (
        info.authrole().unwrap().to_owned(),
        info.authid().unwrap().to_owned(),
        actor_type,
    )
}

fn refusal(e: Error) -> String {
    match e {
        Error::Join(
            JoinError::AuthenticationFailed { reason, .. } | JoinError::Aborted { reason, .. },
        ) => reason,
        other => panic!("expected the join refused, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegates_join_the_market_with_cryptosign_through_the_makers_authenticator() {
    let cm = ChainMarket::start(&description()).await;
    let router = Crossbar::start_with_config(market_auth_config());
    let dir = tempfile::tempdir().unwrap();

    // The maker joins over its own transport (role xbrmm) and serves the authenticator.
    let ms = maker_session(&router).await;
    assert_eq!(ms.info().unwrap().authrole(), Some("xbrmm"));
    let peer = Arc::new(SessionPeer::new(ms.clone(), None));
    let store: Arc<dyn MakerStore> =
        Arc::new(SqliteStore::open(dir.path().join("maker.db")).unwrap());
    let maker = Arc::new(chain_maker(&cm, store.clone(), peer.clone(), peer).await);
    register_maker(&ms, maker).await.unwrap();

    // First login: the provider member (2) signs for its delegate's key.
    let delegate = CryptosignKey::from_seed([0x42; 32]);
    let member = key(2);
    let login = member_login_authextra(&member, delegate.public_key());
    let s = delegate_session(&router, Serializer::Json, &delegate, login.clone())
        .await
        .unwrap();
    let authid = member_authid(&member.address());
    assert_eq!(welcome(&s), ("user".into(), authid.clone(), Some(1)));
    assert!(
        authid.starts_with("member-") && authid.len() == 47,
        "{authid}"
    );
    // The session is a market user: it reaches the maker.
    let config = s
        .call(
            "xbr.marketmaker.get_config",
            vec![],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        config.args[0]
            .as_dict()
            .unwrap()
            .contains_key("marketmaker")
    );
    s.leave().await.unwrap();
    let stored = store.user_key(&delegate.public_key()).unwrap().unwrap();
    assert_eq!(stored.member, member.address());

    // Later: the key alone (CBOR this time).
    let s = delegate_session(&router, Serializer::Cbor, &delegate, Dict::new())
        .await
        .unwrap();
    assert_eq!(welcome(&s), ("user".into(), authid.clone(), Some(1)));
    s.leave().await.unwrap();

    // A wrong signature: the consumer member's wallet, signed by the provider.
    let other = CryptosignKey::from_seed([0x43; 32]);
    let mut forged = member_login_authextra(&key(3), other.public_key());
    let by_provider = member_login_authextra(&member, other.public_key());
    forged.insert("signature".into(), by_provider["signature"].clone());
    let e = delegate_session(&router, Serializer::Json, &other, forged)
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "xbr.error.invalid_signature");
    assert_eq!(store.user_key(&other.public_key()).unwrap(), None);

    // A signature over another key does not register this one either.
    let mut swapped = member_login_authextra(&key(3), delegate.public_key());
    swapped.insert("pubkey".into(), Value::Str(other.public_key_hex()));
    let e = delegate_session(&router, Serializer::Json, &other, swapped)
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "xbr.error.invalid_signature");

    // An unknown key, and a wallet that is no actor: anonymous, nothing registered.
    let s = delegate_session(&router, Serializer::Json, &other, Dict::new())
        .await
        .unwrap();
    let (role, anon_authid, actor_type) = welcome(&s);
    assert_eq!((role.as_str(), actor_type), ("anonymous", Some(0)));
    assert!(anon_authid.starts_with("anonymous-"), "{anon_authid}");
    s.leave().await.unwrap();
    let outsider = member_login_authextra(&key(5), other.public_key());
    let s = delegate_session(&router, Serializer::Json, &other, outsider)
        .await
        .unwrap();
    assert_eq!(welcome(&s).0, "anonymous");
    s.leave().await.unwrap();
    assert_eq!(store.user_key(&other.public_key()).unwrap(), None);

    // A malformed request is refused with the authenticator's URI.
    let mut bad = Dict::new();
    bad.insert(
        "wallet_address".into(),
        Value::bytes(key(3).address().as_slice()),
    );
    let e = delegate_session(&router, Serializer::Json, &other, bad)
        .await
        .unwrap_err();
    assert_eq!(refusal(e), "xbr.marketmaker.error.invalid-auth-request");

    // The consumer member registers its own delegate and gets its own authid.
    let buyer = CryptosignKey::from_seed([0x44; 32]);
    let login = member_login_authextra(&key(3), buyer.public_key());
    let s = delegate_session(&router, Serializer::Cbor, &buyer, login)
        .await
        .unwrap();
    assert_eq!(
        welcome(&s),
        ("user".into(), member_authid(&key(3).address()), Some(2))
    );
    s.leave().await.unwrap();
    ms.leave().await.unwrap();
}

//! Market-realm authentication on the real peers (spec §8.5): Crossbar.io asks our maker's
//! `xbr.marketmaker.authenticator.authenticate` about every delegate joining with
//! WAMP-cryptosign; the maker checks membership on ganache (`XBRMarket.isActor`) and keeps the
//! registered keys in its SQLite store; a member session logs out.

use std::sync::Arc;
use std::time::Duration;

use wamp_client::{CallOptions, Error, JoinError, Session};
use wamp_proto::auth::CryptosignKey;
use wamp_proto::{Dict, Serializer, Value};
use xbr_chain::MarketDescription;
use xbr_market::adapter::session::{SessionPeer, register_maker};
use xbr_market::maker::authenticator::{member_authid, member_login_authextra};
use xbr_market::types::UserKey;
use xbr_market::{MakerStore, SqliteStore};
use xbrd_testkit::{Crossbar, GANACHE_KEYS};

mod real_peers;
use real_peers::market_auth::{
    claim_key_signing_with, delegate_session, maker_session, market_auth_config,
};
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

/// The registration of `pubkey`, once the maker stored it (it does when the first login's
/// session joined, which the router announces after the WELCOME).
async fn registered(store: &Arc<dyn MakerStore>, pubkey: [u8; 32]) -> UserKey {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(k) = store.user_key(&pubkey).unwrap() {
                return k;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the key is registered once its session joined")
}

/// The chain market, a Crossbar on the authenticated market realm and our maker serving its
/// authenticator with a SQLite store in `dir`; the maker's session.
async fn market_with_maker(
    dir: &tempfile::TempDir,
) -> (ChainMarket, Crossbar, Session, Arc<dyn MakerStore>) {
    let cm = ChainMarket::start(&description()).await;
    let router = Crossbar::start_with_config(market_auth_config());
    // The maker joins over its own transport (role xbrmm) and serves the authenticator.
    let ms = maker_session(&router).await;
    assert_eq!(ms.info().unwrap().authrole(), Some("xbrmm"));
    let peer = Arc::new(SessionPeer::new(ms.clone(), None));
    let store: Arc<dyn MakerStore> =
        Arc::new(SqliteStore::open(dir.path().join("maker.db")).unwrap());
    let maker = Arc::new(chain_maker(&cm, store.clone(), peer.clone(), peer).await);
    register_maker(&ms, maker).await.unwrap();
    (cm, router, ms, store)
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
    let dir = tempfile::tempdir().unwrap();
    let (_cm, router, ms, store) = market_with_maker(&dir).await;

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
    let stored = registered(&store, delegate.public_key()).await;
    assert_eq!(stored.member, member.address());

    // Later: the key alone (CBOR this time).
    let s = delegate_session(&router, Serializer::Cbor, &delegate, Dict::new())
        .await
        .unwrap();
    assert_eq!(welcome(&s), ("user".into(), authid.clone(), Some(1)));

    // Logout: the key is forgotten and the session ended; the key alone is anonymous again.
    let out = s
        .call(
            "xbr.marketmaker.authenticator.logout",
            vec![],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    let pubkey = out.args[0].as_dict().unwrap()["pubkey"].clone();
    assert_eq!(pubkey.as_bytes(), Some(&delegate.public_key()[..]));
    assert_eq!(store.user_key(&delegate.public_key()).unwrap(), None);
    tokio::time::timeout(Duration::from_secs(30), async {
        while s.is_connected() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the logged-out session is ended");
    let s = delegate_session(&router, Serializer::Cbor, &delegate, Dict::new())
        .await
        .unwrap();
    assert_eq!(welcome(&s).0, "anonymous");
    s.leave().await.unwrap();
    // Registered again by its member.
    let s = delegate_session(&router, Serializer::Json, &delegate, login.clone())
        .await
        .unwrap();
    assert_eq!(welcome(&s).0, "user");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_login_for_a_key_the_member_does_not_hold_registers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_cm, router, ms, store) = market_with_maker(&dir).await;
    // The consumer member (3) claims the provider's delegate key for itself: it signs the first
    // login for that public key, but holds only its own private key.
    let victim = CryptosignKey::from_seed([0x51; 32]);
    let attacker = CryptosignKey::from_seed([0x52; 32]);
    let claim = member_login_authextra(&key(3), victim.public_key());
    let reason = claim_key_signing_with(&router, victim.public_key(), &attacker, &claim).await;
    assert!(reason.starts_with("wamp.error."), "{reason}");
    assert_eq!(store.user_key(&victim.public_key()).unwrap(), None);
    // The key alone is still nobody's.
    let s = delegate_session(&router, Serializer::Cbor, &victim, Dict::new())
        .await
        .unwrap();
    assert_eq!(welcome(&s).0, "anonymous");
    s.leave().await.unwrap();

    // The holder registers it for its member (2) afterwards; then the key alone is that member's.
    let member = key(2);
    let login = member_login_authextra(&member, victim.public_key());
    let s = delegate_session(&router, Serializer::Json, &victim, login)
        .await
        .unwrap();
    let authid = member_authid(&member.address());
    assert_eq!(welcome(&s), ("user".into(), authid.clone(), Some(1)));
    s.leave().await.unwrap();
    assert_eq!(
        registered(&store, victim.public_key()).await.member,
        member.address()
    );
    let s = delegate_session(&router, Serializer::Cbor, &victim, Dict::new())
        .await
        .unwrap();
    assert_eq!(welcome(&s), ("user".into(), authid, Some(1)));
    s.leave().await.unwrap();
    ms.leave().await.unwrap();
}

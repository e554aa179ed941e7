//! The authenticator on a maker whose chain knows three actors ([`QuietChain`]).

use std::sync::Arc;

use super::*;
use crate::error::uri as market_uri;
use crate::maker::testing::{BUYER_KEY, Fixture, OTHER_KEY, QuietChain, SELLER_KEY, config, key};
use crate::maker::{MakerConfig, Procedure};
use crate::store::MemoryStore;

const PUBKEY: [u8; 32] = [0x1a; 32];
/// The session id the router announces in [`call_args`].
const SESSION: u64 = 4242;
/// A key that is no actor of the market.
const OUTSIDER_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// The router's arguments for a cryptosign HELLO with `authextra` of session [`SESSION`].
fn call_args(authextra: Dict) -> Vec<Value> {
    call_args_of("xbr-market", SESSION, authextra)
}

/// The router's arguments for a cryptosign HELLO on `realm` of session `session`.
fn call_args_of(realm: &str, session: u64, authextra: Dict) -> Vec<Value> {
    let details: Dict = [
        ("authmethod", Value::Str("cryptosign".into())),
        ("authextra", Value::Dict(authextra)),
        ("session", Value::from(session)),
        ("authid", Value::Null),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vec![Value::Str(realm.into()), Value::Null, Value::Dict(details)]
}

fn pubkey_only(pubkey: [u8; 32]) -> Dict {
    [("pubkey".to_owned(), Value::Str(hex::encode(pubkey)))].into()
}

async fn authenticate(f: &Fixture, authextra: Dict) -> MarketResult<Dict> {
    authenticate_on(&f.maker, call_args(authextra)).await
}

async fn authenticate_on(maker: &MarketMaker, args: Vec<Value>) -> MarketResult<Dict> {
    let (args, _) = maker
        .dispatch(Procedure::Authenticate, &args, &Dict::new(), 1)
        .await?;
    Ok(args[0].as_dict().unwrap().clone())
}

/// The router announces that `session` joined as `authid` (`wamp.session.on_join`, as
/// Crossbar publishes it).
async fn join(f: &Fixture, session: u64, authid: &str) -> MarketResult<()> {
    let details: Dict = [
        ("realm", Value::Str("xbr-market".into())),
        ("session", Value::from(session)),
        ("authid", Value::Str(authid.into())),
        ("authrole", Value::Str("user".into())),
        ("authmethod", Value::Str("cryptosign".into())),
        ("authprovider", Value::Str("dynamic".into())),
        ("authextra", Value::Dict(Dict::new())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let joined = JoinedSession::from_event_args(&[Value::Dict(details)]).unwrap();
    assert_eq!(joined.session, session);
    f.maker.session_joined(&joined).await
}

/// A first login of `member` for `pubkey` by `session`, which then joins.
async fn login_and_join(f: &Fixture, member: &EthPrivateKey, pubkey: [u8; 32], session: u64) {
    let args = call_args_of(
        "xbr-market",
        session,
        member_login_authextra(member, pubkey),
    );
    let answer = authenticate_on(&f.maker, args).await.unwrap();
    join(f, session, answer["authid"].as_str().unwrap())
        .await
        .unwrap();
}

fn role_and_authid(answer: &Dict) -> (&str, &str) {
    (
        answer["role"].as_str().unwrap(),
        answer["authid"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn a_first_login_registers_the_key_and_later_logins_need_only_the_key() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let member = key(OTHER_KEY);
    let first = authenticate(&f, member_login_authextra(&member, PUBKEY))
        .await
        .unwrap();
    let authid = member_authid(&member.address());
    assert_eq!(role_and_authid(&first), ("user", authid.as_str()));
    assert_eq!(authid.len(), "member-".len() + 40);
    assert_eq!(first["pubkey"], Value::Str(hex::encode(PUBKEY)));
    assert_eq!(first["realm"], Value::Str("xbr-market".into()));
    assert_eq!(first["cache"], Value::Bool(true));
    assert_eq!(
        first["extra"].as_dict().unwrap()["actor_type"].as_u64(),
        Some(3)
    );
    // Not before the session proved it holds the key (joined): meanwhile the key is unknown.
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
    let pending = authenticate(&f, pubkey_only(PUBKEY)).await.unwrap();
    assert_eq!(pending["role"].as_str(), Some("anonymous"));
    join(&f, SESSION, &authid).await.unwrap();
    let stored = f.store.user_key(&PUBKEY).unwrap().unwrap();
    assert_eq!(stored.member, member.address());

    let again = authenticate(&f, pubkey_only(PUBKEY)).await.unwrap();
    assert_eq!(role_and_authid(&again), ("user", authid.as_str()));
    // A second first login with the same key changes nothing.
    let repeated = authenticate(&f, member_login_authextra(&member, PUBKEY))
        .await
        .unwrap();
    assert_eq!(role_and_authid(&repeated), ("user", authid.as_str()));
    assert_eq!(f.store.user_keys_of(&member.address()).unwrap().len(), 1);
}

#[tokio::test]
async fn hex_wallet_and_signature_are_read_too() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let seller = key(SELLER_KEY);
    let mut extra = member_login_authextra(&seller, PUBKEY);
    for k in ["wallet_address", "signature"] {
        let hex = format!("0x{}", hex::encode(extra[k].as_bytes().unwrap()));
        extra.insert(k.to_owned(), Value::Str(hex));
    }
    let answer = authenticate(&f, extra).await.unwrap();
    assert_eq!(answer["role"].as_str(), Some("user"));
    assert_eq!(
        answer["extra"].as_dict().unwrap()["actor_type"].as_u64(),
        Some(1)
    );
}

#[tokio::test]
async fn a_login_signed_by_another_key_is_refused_and_registers_nothing() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let mut extra = member_login_authextra(&key(BUYER_KEY), PUBKEY);
    // The buyer's wallet, signed by someone else.
    let forged = member_login_authextra(&key(OUTSIDER_KEY), PUBKEY);
    extra.insert("signature".into(), forged["signature"].clone());
    let e = authenticate(&f, extra).await.unwrap_err();
    assert!(e.is(market_uri::INVALID_SIGNATURE), "{e}");
    // A signature that recovers to nobody.
    let mut garbage = member_login_authextra(&key(BUYER_KEY), PUBKEY);
    garbage.insert("signature".into(), Value::bytes([0u8; 65]));
    let e = authenticate(&f, garbage).await.unwrap_err();
    assert!(e.is(market_uri::INVALID_SIGNATURE), "{e}");
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
}

#[tokio::test]
async fn a_wallet_that_is_no_actor_and_an_unknown_key_are_anonymous() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let outsider = authenticate(&f, member_login_authextra(&key(OUTSIDER_KEY), PUBKEY))
        .await
        .unwrap();
    let (role, authid) = role_and_authid(&outsider);
    assert_eq!(role, "anonymous");
    assert!(authid.starts_with("anonymous-"), "{authid}");
    assert_eq!(
        outsider["extra"].as_dict().unwrap()["actor_type"].as_u64(),
        Some(0)
    );
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);

    let unknown = authenticate(&f, pubkey_only([0x77; 32])).await.unwrap();
    assert_eq!(unknown["role"].as_str(), Some("anonymous"));
    assert_ne!(unknown["authid"], outsider["authid"]);
}

#[tokio::test]
async fn malformed_requests_get_the_invalid_auth_request_error() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let login = member_login_authextra(&key(OTHER_KEY), PUBKEY);
    let without = |k: &str| {
        let mut d = login.clone();
        d.shift_remove(k);
        d
    };
    let mut ticket = call_args(pubkey_only(PUBKEY));
    if let Value::Dict(d) = &mut ticket[2] {
        d.insert("authmethod".into(), Value::Str("ticket".into()));
    }
    let mut short_key = pubkey_only(PUBKEY);
    short_key.insert("pubkey".into(), Value::Str("abcd".into()));
    let cases: Vec<(&str, Vec<Value>)> = vec![
        ("ticket", ticket),
        ("no pubkey", call_args(without("pubkey"))),
        ("short pubkey", call_args(short_key)),
        ("wallet without signature", call_args(without("signature"))),
        (
            "signature without wallet",
            call_args(without("wallet_address")),
        ),
        ("two args", call_args(login.clone())[..2].to_vec()),
        (
            "no details",
            vec![Value::Str("xbr-market".into()), Value::Null, Value::Null],
        ),
    ];
    for (what, args) in cases {
        let e = f
            .maker
            .dispatch(Procedure::Authenticate, &args, &Dict::new(), 1)
            .await
            .unwrap_err();
        assert!(e.is(uri::INVALID_AUTH_REQUEST), "{what}: {e}");
    }
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
}

#[tokio::test]
async fn a_member_registers_at_most_the_bound_and_a_key_stays_with_its_member() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let member = key(OTHER_KEY);
    for n in 0..MAX_KEYS_PER_MEMBER {
        let pubkey = [u8::try_from(n).unwrap(); 32];
        login_and_join(&f, &member, pubkey, 100 + n as u64).await;
    }
    let e = authenticate(&f, member_login_authextra(&member, [0xfe; 32]))
        .await
        .unwrap_err();
    assert!(e.is(uri::TOO_MANY_KEYS), "{e}");
    assert_eq!(f.store.user_key(&[0xfe; 32]).unwrap(), None);
    // Known keys keep working at the bound.
    let known = authenticate(&f, pubkey_only([0; 32])).await.unwrap();
    assert_eq!(known["role"].as_str(), Some("user"));

    // Another actor signing a login for the member's key cannot take it over.
    let e = authenticate(&f, member_login_authextra(&key(SELLER_KEY), [0; 32]))
        .await
        .unwrap_err();
    assert!(e.is(uri::KEY_IN_USE), "{e}");
    let stored = f.store.user_key(&[0; 32]).unwrap().unwrap();
    assert_eq!(stored.member, member.address());
}

#[tokio::test]
async fn a_maker_without_a_chain_cannot_tell_members() {
    let f = Fixture::new(100, 100, 1).await;
    let e = authenticate(&f, member_login_authextra(&key(OTHER_KEY), PUBKEY))
        .await
        .unwrap_err();
    assert!(e.is(market_uri::NOT_STARTED), "{e}");
}

#[tokio::test]
async fn logout_forgets_the_key_of_the_calling_session_only() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    login_and_join(&f, &key(OTHER_KEY), PUBKEY, SESSION).await;
    let none = Dict::new();
    let logout = |caller| f.maker.dispatch(Procedure::Logout, &[], &none, caller);
    for caller in [0, 7] {
        let e = logout(caller).await.unwrap_err();
        assert!(e.is(market_uri::NO_SUCH_OBJECT), "{e}");
    }
    assert!(f.store.user_key(&PUBKEY).unwrap().is_some());
    // The session the router announced (details.session) logs out.
    let (args, _) = logout(4242).await.unwrap();
    let d = args[0].as_dict().unwrap();
    assert_eq!(d["from_session"].as_u64(), Some(4242));
    assert_eq!(d["pubkey"].as_bytes(), Some(&PUBKEY[..]));
    assert!(d["logged_out"].as_u64().unwrap() > 0);
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
    assert!(
        logout(4242)
            .await
            .unwrap_err()
            .is(market_uri::NO_SUCH_OBJECT)
    );
    // The key is unknown now: the next login with it alone is anonymous.
    let again = authenticate(&f, pubkey_only(PUBKEY)).await.unwrap();
    assert_eq!(again["role"].as_str(), Some("anonymous"));
}

#[test]
fn session_keys_stay_bounded() {
    let keys = SessionKeys::default();
    for n in 0..(SESSION_KEYS_KEPT as u64 + 10) {
        keys.remember(n, [1; 32]);
    }
    assert_eq!(keys.lock().len(), SESSION_KEYS_KEPT);
    assert_eq!(keys.take(0), None);
    assert_eq!(keys.take(SESSION_KEYS_KEPT as u64 + 9), Some([1; 32]));
}

#[tokio::test]
async fn a_first_login_whose_session_never_joins_registers_nothing() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let member = key(OTHER_KEY);
    let authid = member_authid(&member.address());
    let answer = authenticate(&f, member_login_authextra(&member, PUBKEY))
        .await
        .unwrap();
    assert_eq!(role_and_authid(&answer), ("user", authid.as_str()));
    // Other sessions join (the one that failed the challenge never does).
    join(&f, SESSION + 1, &authid).await.unwrap();
    join(&f, 7, "anonymous-1").await.unwrap();
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
    let known = authenticate(&f, pubkey_only(PUBKEY)).await.unwrap();
    assert_eq!(known["role"].as_str(), Some("anonymous"));
    // Nor does the session's join confirm it under another identity.
    join(
        &f,
        SESSION,
        "member-0000000000000000000000000000000000000000",
    )
    .await
    .unwrap();
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
    assert!(f.maker.pending_logins.is_empty());
}

#[tokio::test]
async fn racing_first_logins_for_one_key_the_first_session_to_join_wins() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let (a, b) = (key(OTHER_KEY), key(SELLER_KEY));
    let login = |member: &EthPrivateKey, session| {
        call_args_of(
            "xbr-market",
            session,
            member_login_authextra(member, PUBKEY),
        )
    };
    // Both are answered user (neither key is registered yet); the router then challenges both.
    for (member, session) in [(&a, 1), (&b, 2)] {
        let answer = authenticate_on(&f.maker, login(member, session))
            .await
            .unwrap();
        assert_eq!(answer["role"].as_str(), Some("user"));
    }
    join(&f, 2, &member_authid(&b.address())).await.unwrap();
    assert_eq!(
        f.store.user_key(&PUBKEY).unwrap().unwrap().member,
        b.address()
    );
    // The later join is refused (that session is ended); the key stays with the first.
    let e = join(&f, 1, &member_authid(&a.address())).await.unwrap_err();
    assert!(e.is(uri::KEY_IN_USE), "{e}");
    assert_eq!(
        f.store.user_key(&PUBKEY).unwrap().unwrap().member,
        b.address()
    );
    // A further first login of the other member is refused at once.
    let e = authenticate_on(&f.maker, login(&a, 3)).await.unwrap_err();
    assert!(e.is(uri::KEY_IN_USE), "{e}");
}

#[tokio::test]
async fn a_first_login_needs_the_joining_sessions_id() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let mut args = call_args(member_login_authextra(&key(OTHER_KEY), PUBKEY));
    if let Value::Dict(d) = &mut args[2] {
        d.shift_remove("session");
    }
    let e = authenticate_on(&f.maker, args).await.unwrap_err();
    assert!(e.is(uri::INVALID_AUTH_REQUEST), "{e}");
}

#[tokio::test]
async fn a_maker_refuses_sessions_for_another_realm() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let cfg = MakerConfig {
        realm: Some("xbr-market".into()),
        ..config()
    };
    let maker = MarketMaker::new(
        cfg,
        Arc::new(MemoryStore::new()),
        f.seller.clone(),
        f.events.clone(),
        Some(Arc::new(QuietChain)),
    );
    let login = member_login_authextra(&key(OTHER_KEY), PUBKEY);
    let e = authenticate_on(&maker, call_args_of("realm1", 5, login.clone()))
        .await
        .unwrap_err();
    assert!(e.is(uri::INVALID_AUTH_REQUEST), "{e}");
    assert!(e.message.contains("\"realm1\""), "{e}");
    let e = authenticate_on(&maker, call_args_of("realm1", 6, pubkey_only(PUBKEY)))
        .await
        .unwrap_err();
    assert!(e.is(uri::INVALID_AUTH_REQUEST), "{e}");
    assert!(maker.pending_logins.is_empty());
    let answer = authenticate_on(&maker, call_args_of("xbr-market", 7, login))
        .await
        .unwrap();
    assert_eq!(answer["realm"].as_str(), Some("xbr-market"));
    assert_eq!(answer["role"].as_str(), Some("user"));
}

#[test]
fn a_join_event_without_a_session_id_is_no_joined_session() {
    let d: Dict = [("authid".to_owned(), Value::Str("x".into()))].into();
    assert_eq!(JoinedSession::from_event_args(&[Value::Dict(d)]), None);
    assert_eq!(JoinedSession::from_event_args(&[]), None);
}

#[tokio::test]
async fn a_session_that_logs_out_before_its_join_is_handled_registers_nothing() {
    let f = Fixture::on_quiet_chain(100, 100, 1).await;
    let member = key(OTHER_KEY);
    authenticate(&f, member_login_authextra(&member, PUBKEY))
        .await
        .unwrap();
    f.maker
        .dispatch(Procedure::Logout, &[], &Dict::new(), SESSION)
        .await
        .unwrap();
    join(&f, SESSION, &member_authid(&member.address()))
        .await
        .unwrap();
    assert_eq!(f.store.user_key(&PUBKEY).unwrap(), None);
}

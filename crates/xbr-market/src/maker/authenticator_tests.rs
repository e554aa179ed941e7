//! The authenticator on a maker whose chain knows three actors ([`QuietChain`]).

use super::*;
use crate::error::uri as market_uri;
use crate::maker::Procedure;
use crate::maker::testing::{BUYER_KEY, Fixture, OTHER_KEY, SELLER_KEY, key};

const PUBKEY: [u8; 32] = [0x1a; 32];
/// A key that is no actor of the market.
const OUTSIDER_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

/// The router's arguments for a cryptosign HELLO with `authextra`.
fn call_args(authextra: Dict) -> Vec<Value> {
    let details: Dict = [
        ("authmethod", Value::Str("cryptosign".into())),
        ("authextra", Value::Dict(authextra)),
        ("session", Value::from(4242u64)),
        ("authid", Value::Null),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vec![
        Value::Str("xbr-market".into()),
        Value::Null,
        Value::Dict(details),
    ]
}

fn pubkey_only(pubkey: [u8; 32]) -> Dict {
    [("pubkey".to_owned(), Value::Str(hex::encode(pubkey)))].into()
}

async fn authenticate(f: &Fixture, authextra: Dict) -> MarketResult<Dict> {
    let (args, _) = f
        .maker
        .dispatch(
            Procedure::Authenticate,
            &call_args(authextra),
            &Dict::new(),
            1,
        )
        .await?;
    Ok(args[0].as_dict().unwrap().clone())
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
        authenticate(&f, member_login_authextra(&member, pubkey))
            .await
            .unwrap();
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

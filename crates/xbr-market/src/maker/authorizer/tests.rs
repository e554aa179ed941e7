//! The authorizer's rules, per action, for a member whose delegates are the fixture's buyer and
//! seller ([`OTHER_KEY`]'s member is the actor of both channels).

use super::*;
use crate::maker::Procedure;
use crate::maker::caller::member_authid;
use crate::maker::testing::{BUYER_KEY, Fixture, OTHER_KEY, SELLER_KEY, key};

fn session(authrole: &str, authid: &str) -> Value {
    let mut d = Dict::new();
    d.insert("session".into(), Value::from(77u64));
    d.insert("authid".into(), Value::from(authid));
    d.insert("authrole".into(), Value::from(authrole));
    d.insert("authmethod".into(), Value::from("cryptosign"));
    Value::Dict(d)
}

fn options(match_policy: Option<&str>) -> Value {
    let mut d = Dict::new();
    if let Some(m) = match_policy {
        d.insert("match".into(), Value::from(m));
    }
    Value::Dict(d)
}

/// The member's answer to `action` on `uri` (with a REGISTER's match policy), through
/// `dispatch` as the router calls it.
async fn ask(f: &Fixture, who: &Value, action: &str, uri: &str, m: Option<&str>) -> (bool, bool) {
    let args = vec![
        who.clone(),
        Value::from(uri),
        Value::from(action),
        options(m),
    ];
    let (out, _) = f
        .maker
        .dispatch(Procedure::Authorize, &args, &Dict::new(), 0)
        .await
        .unwrap();
    let Value::Dict(d) = &out[0] else {
        panic!("not a dict: {out:?}")
    };
    let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["allow", "cache", "disclose"]);
    assert_eq!(d["disclose"], Value::Bool(true));
    (
        d["allow"] == Value::Bool(true),
        d["cache"] == Value::Bool(true),
    )
}

fn member() -> Value {
    session("user", &member_authid(&key(OTHER_KEY).address()))
}

fn provider(k: &str, rest: &str) -> String {
    format!("xbr.provider.{}.{rest}", key(k).provider_id())
}

const ALLOW_CACHED: (bool, bool) = (true, true);
const DENY_CACHED: (bool, bool) = (false, true);

#[tokio::test]
async fn calls_reach_the_maker_and_nothing_privileged() {
    let f = Fixture::checked(100, 100, 5).await;
    let m = member();
    for uri in [
        "xbr.marketmaker.buy_key",
        "xbr.marketmaker.place_offer",
        "xbr.marketmaker.authenticator.logout",
        "com.example.add2",
    ] {
        assert_eq!(ask(&f, &m, "call", uri, None).await, ALLOW_CACHED, "{uri}");
    }
    for uri in [
        "xbr.marketmaker.authenticator.authenticate",
        "xbr.marketmaker.authorizer.authorize",
        &provider(SELLER_KEY, "sell"),
        "wamp.session.kill",
        "wamp.registration.remove",
        "crossbar.get_status",
    ] {
        assert_eq!(ask(&f, &m, "call", uri, None).await, DENY_CACHED, "{uri}");
    }
}

#[tokio::test]
async fn a_member_registers_only_its_own_providers_procedures() {
    let f = Fixture::checked(100, 100, 5).await;
    let m = member();
    // Its seller's and its buyer's provider procedures: allowed, never cached (per session).
    for k in [SELLER_KEY, BUYER_KEY] {
        let uri = provider(k, "sell");
        assert_eq!(ask(&f, &m, "register", &uri, None).await, (true, false));
        let exact = ask(&f, &m, "register", &uri, Some("exact")).await;
        assert_eq!(exact, (true, false));
    }
    // Another member's delegate (the maker's key has no channel with this member).
    let other = provider(crate::maker::testing::MAKER_KEY, "sell");
    assert_eq!(ask(&f, &m, "register", &other, None).await, (false, false));
    for uri in [
        "xbr.marketmaker.buy_key",
        "xbr.marketmaker.authorizer.authorize",
        "xbr.provider.0xabc.sell",
        &provider(SELLER_KEY, ""),
        "xbr.network.anything",
        "wamp.session.kill",
    ] {
        let answer = ask(&f, &m, "register", uri, None).await;
        assert_eq!(answer, (false, false), "{uri}");
    }
    assert_eq!(
        ask(&f, &m, "register", "com.example.add2", None).await,
        (true, false)
    );
}

#[tokio::test]
async fn pattern_registrations_may_not_reach_a_reserved_namespace() {
    let f = Fixture::checked(100, 100, 5).await;
    let m = member();
    let cases = [
        ("prefix", "xbr.provider.", false),
        ("prefix", "xbr", false),
        ("prefix", "x", false),
        ("prefix", "", false),
        ("prefix", "wamp.", false),
        ("prefix", &provider(SELLER_KEY, ""), false),
        ("prefix", "com.example.", true),
        ("wildcard", "...sell", false),
        ("wildcard", "xbr..sell", false),
        ("wildcard", "com..add2", true),
        ("nonsense", "com.example.", false),
    ];
    for (policy, uri, allow) in cases {
        let answer = ask(&f, &m, "register", uri, Some(policy)).await;
        assert_eq!(answer, (allow, false), "{policy} {uri:?}");
    }
}

#[tokio::test]
async fn a_member_publishes_only_under_its_own_providers_and_subscribes_anywhere() {
    let f = Fixture::checked(100, 100, 5).await;
    let m = member();
    let own = provider(SELLER_KEY, "on_key_rotated");
    assert_eq!(ask(&f, &m, "publish", &own, None).await, (true, false));
    let other = provider(crate::maker::testing::MAKER_KEY, "on_key_rotated");
    assert_eq!(ask(&f, &m, "publish", &other, None).await, (false, false));
    for uri in [
        "xbr.marketmaker.on_offer_placed",
        "xbr.marketmaker.on_paying_channel_closing",
        "wamp.session.on_join",
    ] {
        assert_eq!(
            ask(&f, &m, "publish", uri, None).await,
            DENY_CACHED,
            "{uri}"
        );
    }
    let data = "io.crossbar.example.data";
    assert_eq!(ask(&f, &m, "publish", data, None).await, ALLOW_CACHED);
    for uri in ["xbr.marketmaker.on_offer_placed", data, ""] {
        let answer = ask(&f, &m, "subscribe", uri, Some("prefix")).await;
        assert_eq!(answer, ALLOW_CACHED, "{uri}");
    }
}

#[tokio::test]
async fn sessions_that_are_not_members_get_nothing() {
    let f = Fixture::checked(100, 100, 5).await;
    let member_id = member_authid(&key(OTHER_KEY).address());
    for who in [
        session("anonymous", &member_id),
        session("user", "alice"),
        session("user", "member-0x12"),
        Value::Dict(Dict::new()),
    ] {
        for action in ["call", "subscribe"] {
            let answer = ask(&f, &who, action, "com.example.add2", None).await;
            assert_eq!(answer, (false, false), "{who:?} {action}");
        }
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_arguments() {
    let f = Fixture::checked(100, 100, 5).await;
    let bad = [
        vec![member(), Value::from("com.example")],
        vec![member(), Value::from("com.example"), Value::from("kill")],
        vec![
            Value::from(1u64),
            Value::from("com.example"),
            Value::from("call"),
        ],
    ];
    for args in bad {
        let e = f
            .maker
            .dispatch(Procedure::Authorize, &args, &Dict::new(), 0)
            .await
            .unwrap_err();
        assert!(e.is(crate::error::uri::INVALID_ARGUMENT), "{e}");
    }
    // Without the options argument (Crossbar's legacy form).
    let args = vec![member(), Value::from("com.example"), Value::from("call")];
    let req = AuthorizeRequest::from_args(&args).unwrap();
    assert_eq!(req.match_policy, "exact");
    assert_eq!(AUTHORIZER_URI, Procedure::Authorize.uri());
}

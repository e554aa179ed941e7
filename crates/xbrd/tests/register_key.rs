//! `xbrd market register-key` through the real binary: usage and configuration errors (exit 2,
//! naming the field), an unreachable router (exit 1), and no secret in the output; end to end, a
//! delegate's key registered with an `xbrd run` market maker serving the authenticator on
//! Crossbar and ganache, then `xbrd run` as that delegate (seller) joining with the key alone.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use wamp_proto::auth::CryptosignKey;
use wamp_proto::{Dict, Serializer};
use xbr_market::maker::authenticator::member_authid;
use xbrd_testkit::{Crossbar, DevChain, REALM_MARKET};

mod common;
use common::market::{
    CONSUMER, MAKER, PROVIDER, Routes, common_toml, deploy_market, description, key, run_role,
    start_role,
};
use common::{BIN, SELLER_KEY, free_admin, seller_toml_on, wait_for, write_key};

/// The Crossbar config of the authenticated market realm, shared with xbr-market's tests.
#[allow(dead_code)]
#[path = "../../xbr-market/tests/real_peers/market_auth.rs"]
mod market_auth;

/// The member's key (ganache account 2, a public test key).
const MEMBER_KEY: &str = "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c";
/// The delegate's cryptosign seed.
const CS_SEED: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn xbrd(args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run xbrd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A seller config in `dir` joining `router`, with `auth` appended (TOML).
fn config(dir: &Path, router: &str, auth: &str) -> String {
    write_key(dir, "seller.key", SELLER_KEY);
    write_key(dir, "cs.key", CS_SEED);
    let toml = seller_toml_on(REALM_MARKET, router, "http://127.0.0.1:2", &free_admin()) + auth;
    let p = dir.join("seller.toml");
    std::fs::write(&p, toml).unwrap();
    p.to_str().unwrap().to_owned()
}

const CRYPTOSIGN: &str =
    "[authentication]\nmethod = \"cryptosign\"\nprivate_key_file = \"cs.key\"\n";

#[test]
fn help_and_usage_errors() {
    let o = xbrd(&["market", "register-key", "--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--member-key-file"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "ws://127.0.0.1:1/ws", CRYPTOSIGN);
    let o = xbrd(&["market", "register-key", "-c", &cfg]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));
}

#[test]
fn a_config_without_cryptosign_or_a_bad_member_key_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let member = write_key(dir.path(), "member.key", MEMBER_KEY);
    let anonymous = config(dir.path(), "ws://127.0.0.1:1/ws", "");
    let o = register(&anonymous, &member);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("authentication.method"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("cryptosign"), "{}", stderr(&o));

    let cfg = config(dir.path(), "ws://127.0.0.1:1/ws", CRYPTOSIGN);
    let missing = dir.path().join("nope.key");
    let o = register(&cfg, &missing);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));

    let open = dir.path().join("open.key");
    std::fs::write(&open, MEMBER_KEY).unwrap();
    let o = register(&cfg, &open);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(MEMBER_KEY));
}

#[test]
fn an_unreachable_router_exits_1_without_leaking_keys() {
    let dir = tempfile::tempdir().unwrap();
    let member = write_key(dir.path(), "member.key", MEMBER_KEY);
    let port = common::free_port();
    let cfg = config(dir.path(), &format!("ws://127.0.0.1:{port}/ws"), CRYPTOSIGN);
    let o = register(&cfg, &member);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("joining realm"), "{}", stderr(&o));
    let all = stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(!all.contains(MEMBER_KEY) && !all.contains(CS_SEED) && !all.contains(SELLER_KEY));
}

/// Runs `register-key` for the delegate config `cfg` with the member key file `member`.
fn register(cfg: &str, member: &Path) -> Output {
    xbrd(&[
        "market",
        "register-key",
        "-c",
        cfg,
        "--member-key-file",
        member.to_str().unwrap(),
    ])
}

#[test]
fn a_delegate_key_is_registered_with_an_xbrd_maker_and_then_joins_alone() {
    let ganache = DevChain::ganache();
    let (rt, chain) = deploy_market(&ganache, &description(100, 100));
    let router = Crossbar::start_with_config(market_auth::market_auth_config());
    let dir = tempfile::tempdir().unwrap();
    // The maker daemon joins over the Unix socket (role xbrmm) and serves the authenticator.
    let maker_admin = free_admin();
    let routes = Routes {
        maker: format!("rs+unix://{}", router.unix_path.display()),
        delegates: market_auth::market_url(&router),
    };
    let maker_toml = common_toml(
        "marketmaker",
        &routes,
        &ganache.url,
        chain.addresses(),
        &maker_admin,
    );
    let maker = start_role(dir.path(), "marketmaker", MAKER, maker_toml, &maker_admin);
    wait_for("the maker to be ready", Duration::from_secs(90), || {
        maker.get("/ready", None).is_ok_and(|(s, _)| s == 200)
    });

    // The seller delegate's config: cryptosign under its own key, for the provider member.
    let seller_admin = free_admin();
    let seller_dir = dir.path().join("seller");
    std::fs::create_dir_all(&seller_dir).unwrap();
    // common_toml names the delegate's cryptosign key file `wamp.priv`.
    write_key(&seller_dir, "wamp.priv", CS_SEED);
    write_key(&seller_dir, "seller.key", SELLER_KEY);
    let seller_toml = common_toml(
        "seller",
        &routes,
        &ganache.url,
        chain.addresses(),
        &seller_admin,
    ) + &format!(
        "[market]\nmaker = \"{}\"\nmember = \"{}\"\n[[market.apis]]\n\
         api_id = \"627f1b5c-58c2-43b1-8422-a34f7d3f5a04\"\nprefix = \"io.crossbar.example\"\n\
         price = \"1 XBR\"\nrotation_count = 3\n",
        key(MAKER).address(),
        key(PROVIDER).address()
    );
    let cfg_path = seller_dir.join("seller.toml");
    std::fs::write(&cfg_path, &seller_toml).unwrap();
    let cfg = cfg_path.to_str().unwrap().to_owned();
    let provider = write_key(dir.path(), "provider.key", common::market::KEYS[PROVIDER]);
    let o = register(&cfg, &provider);
    assert!(o.status.success(), "{}", stderr(&o));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let authid = member_authid(&key(PROVIDER).address());
    assert_eq!(out["authid"], authid.as_str());
    assert_eq!(out["authrole"], "user");
    let cs = CryptosignKey::from_hex(CS_SEED).unwrap();
    assert_eq!(out["pubkey"], cs.public_key_hex());
    let all = stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(!all.contains(common::market::KEYS[PROVIDER]) && !all.contains(CS_SEED));

    // Afterwards the delegate joins with its key alone, as the provider's user.
    rt.block_on(async {
        let s = market_auth::delegate_session(&router, Serializer::Cbor, &cs, Dict::new())
            .await
            .unwrap();
        let info = s.info().unwrap();
        assert_eq!(
            (info.authrole(), info.authid()),
            (Some("user"), Some(authid.as_str()))
        );
        s.leave().await.unwrap();
    });
    // So does `xbrd run`: the seller attaches (its paying channel, its offers) as that user.
    // Registered above: run it as it is (start_role would make and register a key of its own).
    let seller = run_role(&cfg_path, &seller_admin);
    wait_for("the seller to be ready", Duration::from_secs(90), || {
        seller.get("/ready", None).is_ok_and(|(s, _)| s == 200)
    });

    // Another member cannot take the key over; a member that is no actor is not admitted.
    let consumer = write_key(dir.path(), "consumer.key", common::market::KEYS[CONSUMER]);
    let o = register(&cfg, &consumer);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("xbr.marketmaker.error.key-in-use"),
        "{}",
        stderr(&o)
    );
    write_key(&seller_dir, "cs.key", &"22".repeat(32));
    let outsider = write_key(dir.path(), "outsider.key", common::market::KEYS[MAKER]);
    let o = register(&cfg, &outsider);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("\"anonymous\""), "{}", stderr(&o));
}

//! A procedure another session holds is an attach error `/ready` names: a second seller daemon
//! with the same key finds `xbr.provider.<id>.sell` taken (`wamp.error.procedure_already_exists`)
//! and is not ready, naming it, until the first one leaves and it registers the procedure itself.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{SELLER_KEY, free_admin, wait_for, write_seller_config};
use xbrd_testkit::{Crossbar, DevChain};

fn ready(admin: &str) -> Option<(u16, serde_json::Value)> {
    common::request(admin, "GET", "/ready", None, None).ok()
}

/// A seller daemon with its own directory (store, token, log) and admin port.
fn seller(router: &Crossbar, chain: &DevChain) -> (common::Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let admin = free_admin();
    let cfg = write_seller_config(dir.path(), &router.ws_url, &chain.url, &admin);
    let log = std::fs::File::create(dir.path().join("xbrd.log")).unwrap();
    let d = common::spawn(&cfg, &admin, |c| {
        c.stderr(Stdio::from(log));
    });
    (d, dir)
}

#[test]
fn ready_names_a_procedure_another_session_holds_until_it_is_free() {
    let chain = DevChain::ganache();
    let router = Crossbar::start();
    let provider_id = xbr_core::eth::EthPrivateKey::from_bytes(
        &hex::decode(SELLER_KEY).unwrap().try_into().unwrap(),
    )
    .unwrap()
    .provider_id();
    let sell = format!("xbr.provider.{provider_id}.sell");

    let (mut first, _first_dir) = seller(&router, &chain);
    wait_for(
        "the first seller's session",
        Duration::from_secs(60),
        || ready(&first.admin).is_some_and(|(_, b)| b["checks"]["session_joined"] == true),
    );
    let (second, _second_dir) = seller(&router, &chain);
    wait_for(
        "the second seller to name the held procedure",
        Duration::from_secs(60),
        || {
            ready(&second.admin).is_some_and(|(_, b)| {
                b["attach_errors"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|e| e["uri"] == sell.as_str()))
            })
        },
    );
    let (s, b) = ready(&second.admin).unwrap();
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["checks"]["role_declared"], false, "{b}");
    let held = b["attach_errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uri"] == sell.as_str())
        .unwrap();
    assert_eq!(held["error"], "wamp.error.procedure_already_exists", "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains(&sell),
        "{b}"
    );
    let status = second.v1("/status");
    assert_eq!(status["ready"], false);
    assert!(
        status["attach_errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["uri"] == sell.as_str()),
        "{status}"
    );

    // The first seller leaves: the second registers the procedures itself and names nothing.
    first.signal("TERM");
    let (code, _) = first.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
    wait_for(
        "the second seller's procedures in place",
        Duration::from_secs(60),
        || ready(&second.admin).is_some_and(|(_, b)| b["checks"]["role_declared"] == true),
    );
    let status = second.v1("/status");
    assert_eq!(status["attach_errors"], serde_json::json!([]), "{status}");
}

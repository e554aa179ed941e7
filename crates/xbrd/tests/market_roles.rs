//! The three roles as real `xbrd run` processes on the real peers: ganache with the XBR contracts
//! (deployed and bootstrapped with xbr-chain) and Crossbar.io. The seller publishes through
//! `POST /v1/publish`, the buyer buys the keys through the maker and streams the decrypted payloads
//! on `GET /v1/events`; the off-chain balances of all three agree with each other and with the
//! channel amounts on chain; a key rotates on request; the router crashes and comes back, the
//! buyer and the maker restart (the maker missing a rotation meanwhile) and trading goes on from
//! the stores; SIGTERM stops all three with exit 0.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use common::market::{
    BUYER, CONSUMER, KEYS, MAKER, PAYING, PAYMENT, PROVIDER, Routes, SELLER, channel_of,
    common_toml, deploy_market, description, follow_events, key, log_of, prepare_role,
    register_delegate, respawn, run_role, start_role, terminate, xbr,
};
use common::{Daemon, free_admin, wait_for};
use xbrd_testkit::{Crossbar, DevChain};

const API: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";
const FEED_API: &str = "8a1f2b3c-4d5e-4f60-8172-839405a6b7c8";
const PRICE_XBR: u64 = 35;

/// Stops a role with SIGTERM and starts it again (see [`respawn`]).
fn restart(mut d: Daemon, role: &str) -> Daemon {
    terminate(&mut d);
    respawn(d, role)
}

#[test]
fn maker_seller_and_buyer_trade_through_xbrd_run() {
    // Chain: the XBR contracts, a market with a payment (buyer) and a paying (seller) channel.
    let ganache = DevChain::ganache();
    let (rt, chain) = deploy_market(&ganache, &description(500, 1000));
    let contracts = *chain.addresses();
    let mut router = Crossbar::start();
    let dir = tempfile::tempdir().unwrap();
    let (maker_admin, seller_admin, buyer_admin) = (free_admin(), free_admin(), free_admin());
    let maker_address = key(MAKER).address().to_checksum(None);
    let routes = Routes::of(&router);

    let maker_toml = common_toml(
        "marketmaker",
        &routes,
        &ganache.url,
        &contracts,
        &maker_admin,
    );
    let seller_toml = common_toml("seller", &routes, &ganache.url, &contracts, &seller_admin)
        + &format!(
            r#"[market]
maker = "{maker_address}"
member = "{}"
[[market.apis]]
api_id = "{API}"
prefix = "io.crossbar.example"
price = "{PRICE_XBR} XBR"
rotation_count = 3
[[market.apis]]
api_id = "{FEED_API}"
prefix = "io.crossbar.sample"
price = "1 XBR"
rotation_count = 2
[market.sample_feed]
api_id = "{FEED_API}"
interval = "200ms"
"#,
            key(PROVIDER).address()
        );
    let buyer_toml = common_toml("buyer", &routes, &ganache.url, &contracts, &buyer_admin)
        + &format!(
            r#"[market]
maker = "{maker_address}"
member = "{}"
max_price = "100 XBR"
topics = ["io.crossbar.example"]
"#,
            key(CONSUMER).address()
        );

    // The delegates' cryptosign keys are registered once, through the maker's authenticator.
    let mut maker = start_role(dir.path(), "marketmaker", MAKER, maker_toml, &maker_admin);
    let seller_cfg = prepare_role(dir.path(), "seller", SELLER, seller_toml);
    let buyer_cfg = prepare_role(dir.path(), "buyer", BUYER, buyer_toml);
    register_delegate(&seller_cfg, PROVIDER);
    register_delegate(&buyer_cfg, CONSUMER);
    terminate(&mut maker);
    // Seller and buyer first: they wait (retrying) until the maker is up.
    let mut seller = run_role(&seller_cfg, &seller_admin);
    let buyer = run_role(&buyer_cfg, &buyer_admin);
    let mut maker = respawn(maker, "marketmaker");
    for d in [&maker, &seller, &buyer] {
        wait_for("the role to run", Duration::from_secs(90), || {
            d.get("/v1/channels", Some(&d.token()))
                .is_ok_and(|(s, _)| s == 200)
        });
    }
    let maker_channels = maker.v1("/channels");
    assert_eq!(
        maker_channels.as_array().unwrap().len(),
        2,
        "{maker_channels}"
    );

    // Publish through the seller; the buyer streams what it decrypted.
    let events = follow_events(&buyer);
    let mut published = Vec::new();
    for i in 0..7u64 {
        let payload =
            serde_json::json!({ "n": i, "text": format!("hello {i}"), "nested": { "ok": true } });
        let (s, r) = seller.post("/publish", &serde_json::json!({ "payload": payload }));
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["topic"], "io.crossbar.example");
        assert!(r["publication"].as_u64().is_some(), "{r}");
        published.push((r["key_id"].as_str().unwrap().to_owned(), payload));
    }
    // Rotate on request: a new current key, used by the next publication.
    let before = seller.v1("/keys");
    let api_before = before["apis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["api_id"] == API)
        .unwrap()
        .clone();
    let (s, rotated) = seller.post(&format!("/keys/{API}/rotate"), &serde_json::json!({}));
    assert_eq!(s, 200, "{rotated}");
    assert_ne!(rotated["current_key_id"], api_before["current_key_id"]);
    assert_eq!(
        rotated["rotations"].as_u64().unwrap(),
        api_before["rotations"].as_u64().unwrap() + 1
    );
    let payload = serde_json::json!({ "n": 7, "text": "after rotation" });
    let (s, r) = seller.post("/publish", &serde_json::json!({ "payload": payload }));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["key_id"], rotated["current_key_id"]);
    published.push((r["key_id"].as_str().unwrap().to_owned(), payload));

    let mut got = Vec::new();
    while got.len() < published.len() {
        let ev = events
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("only {} events; buyer log:\n{}", got.len(), log_of(&buyer))
            });
        assert_eq!(ev["topic"], "io.crossbar.example");
        got.push((
            ev["key_id"].as_str().unwrap().to_owned(),
            ev["payload"].clone(),
        ));
    }
    let sort = |v: &mut Vec<(String, serde_json::Value)>| {
        v.sort_by_key(|(_, p)| p["n"].as_u64().unwrap());
    };
    sort(&mut got);
    sort(&mut published);
    assert_eq!(
        got, published,
        "decrypted payloads equal what was published"
    );

    // Each key was bought once: keys × price left both channels.
    let keys: BTreeSet<&str> = published.iter().map(|(k, _)| k.as_str()).collect();
    let n = keys.len() as u64;
    assert!(n >= 3, "{n} keys");
    wait_for("the purchases on record", Duration::from_secs(10), || {
        buyer.v1("/transactions")["items"].as_array().unwrap().len() as u64 == n
    });
    let purchases = buyer.v1("/transactions");
    let bought: BTreeSet<&str> = purchases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["kind"], "purchase");
            assert_eq!(t["amount"], xbr(PRICE_XBR).to_string());
            t["key_id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(bought, keys);
    let page = buyer.v1("/transactions?limit=1&after=1");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], 2);
    assert_eq!(page["next"], 2);
    let sales = seller.v1("/transactions");
    assert_eq!(
        sales["items"].as_array().unwrap().len() as u64,
        n,
        "{sales}"
    );
    let maker_sales = maker.v1("/transactions");
    let completed = maker_sales["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "completed")
        .count() as u64;
    assert_eq!(completed, n, "{maker_sales}");

    let spent = xbr(PRICE_XBR) * U256::from(n);
    let buyer_b = buyer.v1("/balances");
    let seller_b = seller.v1("/balances");
    let maker_c = maker.v1("/channels");
    let payment = channel_of(&buyer_b["channels"], &PAYMENT);
    let paying = channel_of(&seller_b["channels"], &PAYING);
    assert_eq!(
        payment["remaining"],
        (xbr(500) - spent).to_string(),
        "{buyer_b}"
    );
    assert_eq!(
        paying["remaining"],
        (xbr(1000) - spent).to_string(),
        "{seller_b}"
    );
    assert_eq!(payment["seq"], 1 + n);
    assert_eq!(paying["seq"], 1 + n);
    for (mine, oid) in [(payment, &PAYMENT), (paying, &PAYING)] {
        let theirs = channel_of(&maker_c, oid);
        assert_eq!(mine["remaining"], theirs["remaining"], "maker agrees");
        assert_eq!(mine["seq"], theirs["seq"]);
        assert_eq!(theirs["inflight"], "0");
        let on_chain = rt.block_on(chain.channel(*oid)).unwrap().unwrap();
        assert_eq!(mine["amount"], on_chain.amount.to_string(), "chain amount");
        assert_eq!(theirs["amount"], on_chain.amount.to_string());
        assert_eq!(mine["state"], "open");
    }
    // On-chain balances of the daemon's own addresses are shown too.
    let delegate: Address = key(BUYER).address();
    let shown = buyer_b["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["label"] == "delegate")
        .unwrap();
    assert_eq!(shown["address"], delegate.to_checksum(None));
    let eth = rt.block_on(chain.gateway().eth_balance(delegate)).unwrap();
    assert_eq!(shown["eth"], eth.to_string());

    // Keys: offers placed for every key sold, the feed's API rotating on its own.
    let keys_view = seller.v1("/keys");
    let apis = keys_view["apis"].as_array().unwrap();
    let main = apis.iter().find(|a| a["api_id"] == API).unwrap();
    let offers: BTreeSet<&str> = main["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    assert!(keys.is_subset(&offers), "{main}");
    wait_for(
        "the sample feed to rotate keys",
        Duration::from_secs(30),
        || {
            seller.v1("/keys")["apis"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["api_id"] == FEED_API && a["rotations"].as_u64().unwrap() >= 2)
        },
    );

    // Bad api ids: 4xx with a JSON error.
    let (s, e) = seller.post(
        "/keys/00000000-0000-0000-0000-000000000000/rotate",
        &serde_json::json!({}),
    );
    assert_eq!(s, 404, "{e}");
    assert_eq!(e["error"]["code"], "not_found");
    let (s, e) = seller.post("/keys/not-a-uuid/rotate", &serde_json::json!({}));
    assert_eq!(s, 400, "{e}");
    assert_eq!(e["error"]["code"], "bad_request");
    let (s, e) = buyer.post(&format!("/keys/{API}/rotate"), &serde_json::json!({}));
    assert_eq!(s, 409, "{e}");

    // Metrics moved.
    assert_eq!(buyer.metric("xbrd_purchases_total"), n as f64);
    assert_eq!(seller.metric("xbrd_sales_total"), n as f64);
    assert_eq!(maker.metric("xbrd_sales_total"), n as f64);
    assert!(seller.metric("xbrd_key_rotations_total") >= (n + 2) as f64);
    // Each purchase and sale timed; the chain and the router up for every role.
    assert_eq!(
        buyer.metric("xbrd_purchase_duration_seconds_count"),
        n as f64
    );
    assert!(buyer.metric("xbrd_purchase_duration_seconds_sum") > 0.0);
    assert_eq!(maker.metric("xbrd_sale_duration_seconds_count"), n as f64);
    assert!(seller.metric("xbrd_sale_duration_seconds_count") >= n as f64);
    for d in [&maker, &seller, &buyer] {
        assert_eq!(d.metric("xbrd_router_session_up"), 1.0);
        assert_eq!(d.metric("xbrd_chain_up"), 1.0);
        assert!(d.metric("xbrd_chain_head_block") > 0.0);
    }

    // The router crashes and comes back: every role re-registers / re-subscribes and trading
    // goes on over the same stores.
    router.kill();
    router.restart();
    for d in [&maker, &seller, &buyer] {
        wait_for("the role to re-attach", Duration::from_secs(90), || {
            log_of(d).matches("market role attached").count() >= 2
        });
    }
    let events = follow_events(&buyer);
    let (s, rotated) = seller.post(&format!("/keys/{API}/rotate"), &serde_json::json!({}));
    assert_eq!(s, 200, "{rotated}");
    // Two payloads under the new key (rotation_count = 3 leaves one use for after the restart).
    let mut more = Vec::new();
    for i in 100..102u64 {
        let payload = serde_json::json!({ "n": i });
        let (s, r) = seller.post("/publish", &serde_json::json!({ "payload": payload }));
        assert_eq!(s, 200, "{r}");
        more.push((r["key_id"].as_str().unwrap().to_owned(), payload));
    }
    let mut got = Vec::new();
    while got.len() < more.len() {
        let ev = events
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("after the router restart; buyer log:\n{}", log_of(&buyer)));
        got.push((
            ev["key_id"].as_str().unwrap().to_owned(),
            ev["payload"].clone(),
        ));
    }
    sort(&mut got);
    assert_eq!(got, more);
    let n2 = n + more
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<BTreeSet<_>>()
        .len() as u64;
    wait_for("the new purchases", Duration::from_secs(10), || {
        buyer.v1("/transactions")["items"].as_array().unwrap().len() as u64 == n2
    });

    // The buyer restarts: its keys and channel state come back from its store; a payload under a
    // key it holds decrypts without buying again, and all three views still agree.
    let buyer = restart(buyer, "buyer");
    let events = follow_events(&buyer);
    let payload = serde_json::json!({ "n": 200 });
    let (s, r) = seller.post("/publish", &serde_json::json!({ "payload": payload }));
    assert_eq!(s, 200, "{r}");
    let ev = events.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(ev["payload"], payload);
    assert_eq!(ev["key_id"], r["key_id"]);
    assert_eq!(
        r["key_id"], more[0].0,
        "published under a key the buyer holds"
    );
    assert_eq!(
        buyer.v1("/transactions")["items"].as_array().unwrap().len() as u64,
        n2,
        "no key bought twice"
    );
    let spent = xbr(PRICE_XBR) * U256::from(n2);
    let payment = buyer.v1("/channels")[0].clone();
    assert_eq!(payment["remaining"], (xbr(500) - spent).to_string());
    assert_eq!(payment["seq"], 1 + n2);
    let maker_c = maker.v1("/channels");
    assert_eq!(
        channel_of(&maker_c, &PAYMENT)["remaining"],
        payment["remaining"]
    );
    assert_eq!(
        channel_of(&maker_c, &PAYING)["remaining"],
        channel_of(&seller.v1("/channels"), &PAYING)["remaining"]
    );
    assert_eq!(maker.metric("xbrd_sales_total"), n2 as f64);

    // The maker is down while the seller rotates: the offer cannot be placed then. The maker
    // restarts from its store, the seller places the missed offer, and the new key sells.
    terminate(&mut maker);
    let (s, rotated) = seller.post(&format!("/keys/{API}/rotate"), &serde_json::json!({}));
    assert_eq!(s, 200, "{rotated}");
    let missed = rotated["current_key_id"].as_str().unwrap().to_owned();
    assert!(
        !rotated["offers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == &missed),
        "{rotated}"
    );
    let maker = respawn(maker, "marketmaker");
    wait_for("the missed offer", Duration::from_secs(60), || {
        seller.v1("/keys")["apis"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["offers"].as_array().unwrap().iter().any(|o| o == &missed))
    });
    let payload = serde_json::json!({ "n": 300 });
    let (s, r) = seller.post("/publish", &serde_json::json!({ "payload": payload }));
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["key_id"], missed.as_str());
    let ev = events.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!((&ev["payload"], &ev["key_id"]), (&payload, &r["key_id"]));
    let n3 = n2 + 1;
    wait_for(
        "the purchase after the maker restart",
        Duration::from_secs(10),
        || buyer.v1("/transactions")["items"].as_array().unwrap().len() as u64 == n3,
    );
    let maker_c = maker.v1("/channels");
    let spent = xbr(PRICE_XBR) * U256::from(n3);
    assert_eq!(
        channel_of(&maker_c, &PAYMENT)["remaining"],
        (xbr(500) - spent).to_string()
    );
    assert_eq!(channel_of(&maker_c, &PAYMENT)["seq"], 1 + n3);
    assert_eq!(
        channel_of(&maker_c, &PAYING)["remaining"],
        channel_of(&seller.v1("/channels"), &PAYING)["remaining"]
    );
    assert_eq!(
        buyer.v1("/channels")[0]["remaining"],
        (xbr(500) - spent).to_string()
    );
    let completed = maker.v1("/transactions?limit=1000")["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "completed")
        .count() as u64;
    assert_eq!(completed, n3);

    let (mut buyer, mut maker) = (buyer, maker);
    for d in [&mut buyer, &mut seller, &mut maker] {
        terminate(d);
        let log = log_of(d);
        assert!(log.contains("store closed"), "{log}");
        for k in KEYS {
            assert!(!log.contains(k), "no secret in the log");
        }
    }
}

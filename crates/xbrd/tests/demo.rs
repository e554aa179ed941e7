//! README command (1), the local market, run as a test: `scripts/demo.sh --once` on free ports with a
//! temporary run directory and this build's `xbrd` (`XBRD_BIN`). The script starts anvil (deploy +
//! dev-market bootstrap), Crossbar.io and three `xbrd run` processes, waits for the buyer to receive
//! decrypted events, prints a summary JSON (admin API answers of every daemon, and balances read
//! straight from the chain by JSON-RPC), and stops everything. The test checks from that summary that
//! the buyer holds decrypted events of keys it bought, that `/v1/balances` matches the chain, and that
//! the channels' off-chain state is consistent with the keys bought and sold × the price.
//!
//! Whatever happens, every process the script started is stopped: on drop the script gets SIGTERM
//! (its trap stops its process groups) and then `scripts/peers.sh stop --dir <run dir>` stops any
//! recorded process still alive.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use alloy_primitives::U256;
use common::demo::Demo;
use serde_json::Value;

/// Decrypted events the buyer must hold.
const EVENTS: usize = 5;
/// How long the whole script may take (peers start slowly on a loaded machine); below nextest's
/// 10-minute limit so that this test reports the script's log itself.
const SCRIPT_LIMIT: Duration = Duration::from_secs(540);

fn repo_root() -> PathBuf {
    xbrd_testkit::repo_root()
}

fn u256(v: &Value, what: &str) -> U256 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected a decimal string, got {v}"));
    U256::from_str(s).unwrap_or_else(|e| panic!("{what}: {s:?} is not a decimal amount: {e}"))
}

fn array<'a>(v: &'a Value, what: &str) -> &'a Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected an array, got {v}"))
}

/// The transactions of one kind (`purchase` or `sale`) a daemon lists.
fn transactions<'a>(role: &'a Value, kind: &str) -> Vec<&'a Value> {
    array(&role["transactions"]["items"], "transactions.items")
        .iter()
        .filter(|t| t["kind"] == kind)
        .collect()
}

/// The channel of a type in a daemon's `/v1/balances`.
fn channel<'a>(role: &'a Value, ctype: &str) -> &'a Value {
    array(&role["balances"]["channels"], "balances.channels")
        .iter()
        .find(|c| c["channel_type"] == ctype)
        .unwrap_or_else(|| panic!("no {ctype} channel in {}", role["balances"]))
}

/// The channel amounts of the dev market description, by channel id (lowercase hex, no 0x).
fn described_channels() -> BTreeMap<String, U256> {
    let text = std::fs::read_to_string(repo_root().join("config/dev-market.toml")).unwrap();
    let desc: toml::Table = toml::from_str(&text).unwrap();
    desc["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let id = c["channel_id"].as_str().unwrap().trim_start_matches("0x");
            let amount = U256::from_str(c["amount"].as_str().unwrap()).unwrap();
            (id.to_ascii_lowercase(), amount)
        })
        .collect()
}

fn hex_id(id: &Value) -> String {
    id.as_str()
        .unwrap_or_default()
        .trim_start_matches("0x")
        .replace('-', "")
        .to_ascii_lowercase()
}

#[test]
fn the_demo_runs_a_market_the_buyer_decrypts_and_balances_match_chain_and_channels() {
    let tmp = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(
        tmp.path(),
        &["--once"],
        &[
            ("XBRD_DEMO_EVENTS", EVENTS.to_string()),
            ("XBRD_DEMO_TIMEOUT", "240".to_string()),
        ],
    );
    let run_dir = demo.run_dir.clone();

    let status = demo.wait(SCRIPT_LIMIT);
    let log = demo.stderr();
    let status = status
        .unwrap_or_else(|| panic!("demo.sh --once still running after {SCRIPT_LIMIT:?}:\n{log}"));
    assert!(status.success(), "demo.sh --once failed ({status}):\n{log}");
    assert!(
        log.contains("stopping everything the demo started"),
        "{log}"
    );
    let out = demo.stdout();
    let summary: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("the summary is not JSON ({e}):\n{out}\n{log}"));
    let roles = &summary["roles"];
    let price = u256(&summary["price"], "price");
    assert_eq!(
        price,
        U256::from(35u64) * U256::from(10u64).pow(U256::from(18u64))
    );

    // Every process the script recorded is gone.
    for name in [
        "anvil",
        "ganache",
        "crossbar",
        "marketmaker",
        "seller",
        "buyer",
        "buyer-events",
    ] {
        assert!(
            !run_dir.join(format!("{name}.pid")).exists(),
            "{name} still recorded after the script stopped"
        );
    }

    // The buyer holds decrypted events, each under a key it bought.
    let buyer = &roles["buyer"];
    let events = array(&summary["events"]["items"], "events.items");
    assert!(events.len() >= EVENTS, "{} decrypted events", events.len());
    let purchases = transactions(buyer, "purchase");
    let bought: BTreeSet<String> = purchases.iter().map(|t| hex_id(&t["key_id"])).collect();
    for ev in events {
        let topic = ev["topic"].as_str().unwrap_or_default();
        assert!(
            topic.starts_with("io.crossbar.example"),
            "event topic {topic}"
        );
        assert!(!ev["payload"].is_null(), "event without payload: {ev}");
        assert!(
            bought.contains(&hex_id(&ev["key_id"])),
            "event decrypted with key {} the buyer never bought ({bought:?})",
            ev["key_id"]
        );
    }

    // The buyer's log shows them too (the run directory given to the script is kept).
    let buyer_log = std::fs::read_to_string(run_dir.join("buyer.log")).unwrap();
    for ev in events {
        let payload = serde_json::to_string(&ev["payload"]).unwrap();
        assert!(
            buyer_log
                .lines()
                .any(|l| l.contains("decrypted event") && l.contains(&payload)),
            "{payload} not in the buyer's log"
        );
    }

    // /v1/balances of every daemon: the addresses' ETH and XBR are what the chain says.
    let chain = &summary["chain"];
    for (name, role) in roles.as_object().unwrap() {
        let addresses = array(&role["balances"]["addresses"], &format!("{name} balances"));
        assert!(
            !addresses.is_empty(),
            "{name}: no addresses in /v1/balances"
        );
        for a in addresses {
            let on_chain = &chain[a["address"].as_str().unwrap()];
            assert_eq!(
                a["xbr"], on_chain["xbr"],
                "{name}: XBR of {a} vs chain {on_chain}"
            );
            assert_eq!(
                a["eth"], on_chain["eth"],
                "{name}: ETH of {a} vs chain {on_chain}"
            );
        }
    }

    // Channels: deposits as bootstrapped; what left the buyer's payment channel is keys bought × price;
    // what left the maker's paying channel to the seller is keys sold × price.
    let described = described_channels();
    let payment = channel(buyer, "payment");
    let deposit = u256(&payment["amount"], "payment.amount");
    assert_eq!(
        Some(&deposit),
        described.get(&hex_id(&payment["channel_oid"]))
    );
    let remaining = u256(&payment["remaining"], "payment.remaining");
    assert!(
        remaining < deposit,
        "the buyer's payment channel has not moved"
    );
    assert_eq!(
        deposit - remaining,
        price * U256::from(purchases.len()),
        "payment channel spent vs {} purchases",
        purchases.len()
    );
    let last = purchases.iter().max_by_key(|t| t["id"].as_u64()).unwrap();
    assert_eq!(
        last["balance"], payment["remaining"],
        "last purchase balance"
    );

    let seller = &roles["seller"];
    let sales = transactions(seller, "sale");
    assert!(!sales.is_empty(), "the seller sold nothing");
    let paying = channel(seller, "paying");
    let paying_deposit = u256(&paying["amount"], "paying.amount");
    assert_eq!(
        Some(&paying_deposit),
        described.get(&hex_id(&paying["channel_oid"]))
    );
    assert_eq!(
        paying_deposit - u256(&paying["remaining"], "paying.remaining"),
        price * U256::from(sales.len()),
        "paying channel earned vs {} sales",
        sales.len()
    );

    // The maker sees both channels in the same state as their owners.
    let maker_channels = array(&roles["marketmaker"]["channels"], "marketmaker channels");
    for own in [payment, paying] {
        let seen = maker_channels
            .iter()
            .find(|c| c["channel_oid"] == own["channel_oid"])
            .unwrap_or_else(|| panic!("the maker does not list channel {}", own["channel_oid"]));
        assert_eq!(seen["remaining"], own["remaining"], "{seen} vs {own}");
        assert_eq!(seen["seq"], own["seq"], "{seen} vs {own}");
    }
}

//! Hostile peers on the secured market realm, on the real peers (ganache with the XBR contracts,
//! Crossbar.io with the shipped roles) and the three roles as `xbrd run` processes: while the
//! seller publishes and the buyer buys and decrypts, an Autobahn|Python attacker
//! (`tests/peers/python/attacker.py`) attacks the market as an anonymous session and as a member
//! of the market (a third member, authenticated with WAMP-cryptosign through the maker's
//! authenticator): it revokes the victim seller's offers, places an offer for the victim's key
//! below its price, closes the victim's paying channel, registers the maker's and the victim's
//! procedures, publishes maker events, publishes integers below -2^63 and a flood of events to the
//! buyer's topic, forges a first login and calls the authenticator directly. Every attack must be
//! refused with the expected error URI (the publications to the buyer's topic go through: the
//! buyer must survive them), the buyer must stay connected and keep decrypting new events, and at
//! rest every role's invariants hold and the parties agree on both channels.
//!
//! The flood is accounted for: every event either reached the buyer's handler (logged as not
//! decrypted) or was dropped by its session's bounded queue and counted in
//! `xbrd_shed_total{what="events_dropped"}`, on the session it had all along.
//!
//! The outcome of every attack is printed, one line each, and the buyer's shed counters after the
//! flood.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use common::market::{
    BUYER, CONSUMER, MAKER, PAYING, PROVIDER, Routes, SELLER, agreement, amount, common_toml,
    deploy_market, description_with, follow_events, key, log_of, seller_market, start_role,
};
use common::{Daemon, free_admin, request, wait_for};
use serde_json::{Value, json};
use wamp_client::session::SUBSCRIPTION_QUEUE;
use xbrd_testkit::{Crossbar, DevChain, PythonPeer, REALM_MARKET};

const API: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";
const TOPIC: &str = "io.crossbar.example";
const ATTACKER: &str = "tests/peers/python/attacker.py";
/// The attacker's member wallet: ganache's deterministic account 7 (a public dev key).
const ATTACKER_MEMBER_KEY: &str =
    "a453611d9419d0e56f499079478fd72c37b251a94bfde4d19872c44cf65386e3";
/// Events of the attacker's flood to the buyer's topic.
const FLOOD: usize = 10_000;
/// How long the attacker may take (it waits for the victim's offers, then floods).
const ATTACK_LIMIT: Duration = Duration::from_secs(300);
/// How long trading, the recovery after the attack and the rest state may take.
const LIMIT: Duration = Duration::from_secs(120);

const NOT_AUTHORIZED: &str = "wamp.error.not_authorized";
/// Crossbar 26.10.1 checks a REGISTER's authorization first, but when it is denied and the
/// procedure is held by another session its answer is this one (`Dealer.processRegister` does
/// not return after building the refusal); nothing is registered either way. The probes of
/// procedures nobody holds show the refusal itself.
const HELD: &str = "wamp.error.procedure_already_exists";

/// Every attack the script makes and the error URI it must get (`None`: the router forwards it,
/// the buyer must survive it).
const EXPECTED: [(&str, Option<&str>); 20] = [
    ("anonymous_subscribe_offers", Some(NOT_AUTHORIZED)),
    ("anonymous_revoke_offer", Some(NOT_AUTHORIZED)),
    ("anonymous_place_offer", Some(NOT_AUTHORIZED)),
    ("anonymous_open_channel", Some(NOT_AUTHORIZED)),
    ("anonymous_publish_topic", Some(NOT_AUTHORIZED)),
    ("anonymous_call_authenticator", Some(NOT_AUTHORIZED)),
    ("member_revoke_offer", Some(NOT_AUTHORIZED)),
    ("member_place_offer_below_price", Some(NOT_AUTHORIZED)),
    ("member_place_offer_as_victim", Some(NOT_AUTHORIZED)),
    ("member_close_victim_channel", Some(NOT_AUTHORIZED)),
    ("member_open_channel_for_victim", Some(NOT_AUTHORIZED)),
    ("member_register_buy_key", Some(HELD)),
    ("member_register_victim_sell", Some(HELD)),
    ("member_register_maker_probe", Some(NOT_AUTHORIZED)),
    ("member_register_victim_probe", Some(NOT_AUTHORIZED)),
    ("member_publish_offer_placed", Some(NOT_AUTHORIZED)),
    ("member_call_authenticator", Some(NOT_AUTHORIZED)),
    ("member_publish_bigneg", None),
    ("member_flood_topic", None),
    ("forged_first_login", Some("xbr.error.invalid_signature")),
];

fn buyer_market(maker: &str) -> String {
    format!(
        "[market]\nmaker = \"{maker}\"\nmember = \"{}\"\nmax_price = \"10 XBR\"\ntopics = [\"{TOPIC}\"]\n",
        key(CONSUMER).address()
    )
}

/// Publishes through the seller's admin API every 200 ms until dropped.
struct Publisher {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Publisher {
    fn start(seller: &Daemon) -> Publisher {
        let stop = Arc::new(AtomicBool::new(false));
        let (admin, token) = (seller.admin.clone(), seller.token());
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let body = json!({ "payload": { "n": n } });
                let _ = request(&admin, "POST", "/v1/publish", Some(&token), Some(&body));
                n += 1;
                thread::sleep(Duration::from_millis(200));
            }
        });
        Publisher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the attacker to its end; its `ATTACK` lines.
fn attack(routes: &Routes) -> Vec<Value> {
    let paying = PAYING.to_string();
    let victim_member = key(PROVIDER).address().to_string();
    let flood = FLOOD.to_string();
    let mut attacker = PythonPeer::spawn(
        std::path::Path::new(ATTACKER),
        &[
            "--url",
            &routes.delegates,
            "--realm",
            REALM_MARKET,
            "--member-key",
            ATTACKER_MEMBER_KEY,
            "--victim-paying-channel",
            &paying,
            "--victim-member",
            &victim_member,
            "--topic",
            TOPIC,
            "--flood",
            &flood,
        ],
        &[],
    );
    let mut outcomes = Vec::new();
    loop {
        let line = attacker.wait_for_line("", ATTACK_LIMIT);
        if let Some(outcome) = line.strip_prefix("ATTACK ") {
            outcomes.push(serde_json::from_str(outcome).unwrap());
        } else if line.starts_with("JOINED ") || line.starts_with("VICTIM ") {
            println!("attacker: {line}");
        } else if line == "DONE" {
            break;
        } else if line.starts_with("FATAL") {
            panic!("the attacker failed: {line}\n{}", attacker.output());
        }
    }
    let status = attacker.wait(Duration::from_secs(30));
    assert!(
        status.success(),
        "attacker: {status}\n{}",
        attacker.output()
    );
    outcomes
}

/// What the buyer made of the events under its topic that it did not decrypt (the attacker's
/// publications, the flood's among them).
struct Undecrypted {
    /// Events handled and logged as not decrypted: not a data event, a key not bought, or a
    /// purchase shed (counted in `purchases_shed` too).
    handled: usize,
    /// `xbrd_shed_total{what="events_dropped"}`: events its session dropped (the subscription's
    /// bounded queue was full, or a payload it could not represent).
    dropped: usize,
    /// `xbrd_shed_total{what="buyer_purchases"}`: purchases not started (too many in flight).
    purchases_shed: usize,
}

impl Undecrypted {
    fn of(buyer: &Daemon) -> Undecrypted {
        let shed =
            |what: &str| buyer.metric(&format!("xbrd_shed_total{{what=\"{what}\"}}")) as usize;
        let handled = log_of(buyer)
            .lines()
            .filter(|l| {
                l.contains("\"message\":\"not a data event\"")
                    || l.contains("\"message\":\"event not decrypted")
            })
            .count();
        Undecrypted {
            handled,
            dropped: shed("events_dropped"),
            purchases_shed: shed("buyer_purchases"),
        }
    }
}

/// One line per attack: what it got.
fn describe(outcome: &Value) -> String {
    let errors: Vec<&str> = outcome["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!(
        "attack {:<32} {:>5}x  {:<8} {} {}",
        outcome["attack"].as_str().unwrap_or("?"),
        outcome["count"],
        outcome["outcome"].as_str().unwrap_or("?"),
        if errors.is_empty() {
            "-".to_owned()
        } else {
            errors.join(",")
        },
        outcome["message"].as_str().unwrap_or_default()
    )
}

#[test]
fn hostile_peers_are_refused_while_the_honest_buyer_keeps_decrypting() {
    let ganache = DevChain::ganache();
    let market = description_with(500, 500, &[(ATTACKER_MEMBER_KEY, "provider_consumer")]);
    let (_rt, chain) = deploy_market(&ganache, &market);
    let contracts = *chain.addresses();
    let router = Crossbar::start();
    let routes = Routes::of(&router);
    let dir = tempfile::Builder::new()
        .prefix("xbrd-hostile-")
        .tempdir()
        .unwrap();
    let maker_address = key(MAKER).address().to_checksum(None);
    let admins = [free_admin(), free_admin(), free_admin()];
    let toml =
        |role: &str, admin: &str| common_toml(role, &routes, &ganache.url, &contracts, admin);

    let maker = start_role(
        dir.path(),
        "marketmaker",
        MAKER,
        toml("marketmaker", &admins[0]),
        &admins[0],
    );
    let seller = start_role(
        dir.path(),
        "seller",
        SELLER,
        toml("seller", &admins[1]) + &seller_market(&maker_address, API, "1s"),
        &admins[1],
    );
    let buyer = start_role(
        dir.path(),
        "buyer",
        BUYER,
        toml("buyer", &admins[2]) + &buyer_market(&maker_address),
        &admins[2],
    );
    let roles = [&maker, &seller, &buyer];
    for d in roles {
        wait_for("the role to run", LIMIT, || {
            d.get("/ready", None).is_ok_and(|(s, _)| s == 200)
        });
    }

    // Honest trading first.
    let events = follow_events(&buyer);
    let publisher = Publisher::start(&seller);
    let mut decrypted = 0;
    wait_for("the buyer to decrypt", LIMIT, || {
        decrypted += events.try_iter().count();
        decrypted >= 2
    });
    let joins: Vec<f64> = roles
        .iter()
        .map(|d| d.metric("xbrd_router_sessions_joined_total"))
        .collect();

    let outcomes = attack(&routes);
    for outcome in &outcomes {
        println!("{}", describe(outcome));
    }

    // The honest buyer still decrypts new events, on the session it had.
    let before = decrypted + events.try_iter().count();
    let mut after = 0;
    wait_for("the buyer to decrypt after the attack", LIMIT, || {
        after += events.try_iter().count();
        after >= 3
    });
    println!("buyer: {before} events decrypted before the attack ended, {after} after");
    let rejoined: Vec<f64> = roles
        .iter()
        .map(|d| d.metric("xbrd_router_sessions_joined_total"))
        .collect();
    assert_eq!(rejoined, joins, "a role lost its session during the attack");
    assert_eq!(buyer.metric("xbrd_router_session_up"), 1.0);

    // The flood: every event reached the buyer's handler (and was logged as not decrypted) or was
    // dropped by its session's bounded queue and counted; the counters are of the session the
    // buyer had all along (checked above), which kept decrypting.
    let mut flood = Undecrypted::of(&buyer);
    wait_for("the buyer to account for the flood", LIMIT, || {
        flood = Undecrypted::of(&buyer);
        flood.handled + flood.dropped >= FLOOD
    });
    println!(
        "attack member_flood_topic: the buyer dropped and counted {} events (xbrd_shed_total{{what=\"events_dropped\"}}), \
         handled {} undecrypted ({} purchases shed, xbrd_shed_total{{what=\"buyer_purchases\"}}), same session, {after} decrypted after",
        flood.dropped, flood.handled, flood.purchases_shed
    );
    if flood.dropped == 0 {
        // Nothing to count: the session's queue ({SUBSCRIPTION_QUEUE} events) never filled, as
        // the buyer takes events off it as fast as the router delivers them (they are handled
        // in tasks of their own), so every event of the flood was handled.
        println!(
            "attack member_flood_topic: the subscription queue ({SUBSCRIPTION_QUEUE} events) never overflowed; all {} flood events were handled",
            FLOOD
        );
        assert!(flood.handled >= FLOOD, "{} handled", flood.handled);
    }

    // Every attack got what it must.
    let mut wrong = Vec::new();
    for (name, want) in EXPECTED {
        let Some(got) = outcomes.iter().find(|o| o["attack"] == name) else {
            wrong.push(format!("{name}: not attempted"));
            continue;
        };
        let errors: Vec<Option<&str>> = match got["errors"].as_array() {
            Some(e) if !e.is_empty() => e.iter().map(Value::as_str).collect(),
            _ => vec![None],
        };
        if errors != [want] || got["error"].as_str() != want {
            wrong.push(format!("{name}: wanted {want:?}, got {}", describe(got)));
        }
    }
    assert!(
        wrong.is_empty(),
        "attacks not refused as expected: {wrong:#?}"
    );

    // At rest: nothing in flight, the parties agree on both channels, every invariant holds.
    drop(publisher);
    drop(events);
    wait_for("the market to come to rest", LIMIT, || {
        let views: Vec<Value> = roles.iter().map(|d| d.v1("/channels")).collect();
        agreement(&views[0], &views[1], &views[2]).is_empty()
            && views[0]
                .as_array()
                .unwrap()
                .iter()
                .all(|ch| amount(&ch["inflight"]).is_zero())
    });
    for (d, role) in roles.iter().zip(["marketmaker", "seller", "buyer"]) {
        let view = d.v1("/invariants");
        assert_eq!(
            view["violations"].as_array().map(Vec::len),
            Some(0),
            "{role}: {view}"
        );
    }
}

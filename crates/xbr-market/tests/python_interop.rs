//! Cross-language wire compatibility: the released Python `xbr` 26.10.1 `SimpleBuyer` and
//! `SimpleSeller` (tests/peers/python/xbr_trader.py) trade through our market maker over a real
//! Crossbar.io, on ganache with the XBR contracts deployed and bootstrapped by xbr-chain.
//!
//! 1. Our Rust seller sells to the Python buyer: the Python buyer signs every purchase
//!    (XBRSIG1, verified by our maker), verifies our maker's receipts (XBRSIG8), unseals the
//!    keys our seller sealed and decrypts every event.
//! 2. The Python seller takes over the same paying channel and sells to our Rust buyer (on the
//!    payment channel the Python buyer used): it verifies our maker's sell signatures (XBRSIG4),
//!    our maker verifies its receipts (XBRSIG6), our buyer unseals its keys and decrypts.
//! 3. A Python buyer that meets a key it cannot pay auto-closes its payment channel with the
//!    reference's `close_channel` (final, `closeAt = 1`); our maker verifies, counter-signs and
//!    settles it on chain.
//!
//! Every trader joins the market realm with WAMP-cryptosign, authenticated by our maker (spec
//! §8.5): the first session of a delegate key carries its member's MarketMemberLogin signature
//! (the Python peers compute it with the released `xbr`), later ones the key alone; the maker
//! joins over its own transport as `xbrmm`.
//!
//! The Python side raises (and the script prints `FATAL`) on any signature, seq or balance it
//! does not accept; the Rust side refuses in the same cases. The signatures the maker stored
//! are checked once more here against the expected signers.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use tokio::sync::mpsc;
use wamp_client::{PublishOptions, Session};
use wamp_proto::auth::CryptosignKey;
use wamp_proto::{Dict, Serializer, Value};
use xbr_chain::{ChannelState as ChainState, MarketDescription};
use xbr_core::at_rest::Kek;
use xbr_core::keyseries::RotationPolicy;
use xbr_market::adapter::event_args;
use xbr_market::adapter::session::{SessionPeer, register_maker, register_seller, subscribe_buyer};
use xbr_market::maker::authenticator::{member_authid, member_login_authextra};
use xbr_market::peer::Publisher;
use xbr_market::sig;
use xbr_market::types::{ApiId, ChannelId, ChannelType, KeyId, SaleStatus};
use xbr_market::{
    ApiSpec, Buyer, BuyerConfig, BuyerStore, MarketError, Seller, SellerConfig, SellerStore,
    SqliteStore,
};
use xbrd_testkit::{Crossbar, GANACHE_KEYS, PythonPeer, REALM_MARKET};

mod real_peers;
use real_peers::market_auth::{delegate_session, maker_session, market_auth_config, market_url};
use real_peers::{ChainMarket, MARKET, Maker, key, maker_client, xbr};

const TRADER: &str = "tests/peers/python/xbr_trader.py";
const PEER_START: Duration = Duration::from_secs(120);
const PEER_RUN: Duration = Duration::from_secs(180);

/// Ganache's deterministic accounts (spec §4.5, [`GANACHE_KEYS`]): 4 = seller delegate,
/// 5 = buyer delegate, 6 = market maker `0x3E5e…F9A9`.
const KEYS: [&str; 7] = GANACHE_KEYS;
const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
const PAYING: ChannelId = ChannelId([0xc1; 16]);
/// The Rust seller's API and the Python seller's (the reference examples' api id).
const API_RS: ApiId = ApiId([0x62; 16]);
const API_PY: ApiId = ApiId([
    0x62, 0x7f, 0x1b, 0x5c, 0x58, 0xc2, 0x43, 0xb1, 0x84, 0x22, 0xa3, 0x4f, 0x7d, 0x3f, 0x5a, 0x04,
]);
/// Phase 3: a key the buyer can pay and one it cannot.
const API_CHEAP: ApiId = ApiId([0x65; 16]);
const API_DEAR: ApiId = ApiId([0x66; 16]);
const PREFIX: &str = "io.crossbar.example";
const TOPIC: &str = "io.crossbar.example.data";
const PRICE_XBR: u64 = 35;
const PAYMENT_XBR: u64 = 2000;
const PAYING_XBR: u64 = 1000;
/// Events per direction; a new key every 5 encryptions on both sides.
const EVENTS: u64 = 20;
const ROTATE_EVERY: u64 = 5;

fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", hex(MARKET.as_bytes())),
        "owner": { "key": KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": KEYS[6], "xbr": xbr(5000).to_string() },
        "members": [
            { "key": KEYS[2], "actor": "provider", "xbr": xbr(1000).to_string() },
            { "key": KEYS[3], "actor": "consumer", "xbr": xbr(3000).to_string() }
        ],
        "channels": [
            { "channel_id": format!("0x{}", hex(PAYMENT.as_bytes())), "kind": "payment",
              "member": key(3).address(), "delegate": key(5).address(), "amount": xbr(PAYMENT_XBR).to_string() },
            { "channel_id": format!("0x{}", hex(PAYING.as_bytes())), "kind": "paying",
              "member": key(2).address(), "delegate": key(4).address(), "amount": xbr(PAYING_XBR).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn payload(data: &str, i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("data".into(), Value::from(data));
    d.insert("counter".into(), Value::from(i));
    Value::Dict(d)
}

// ------------------------------------------------------------------ the Python peer's printout

/// One printed line `TAG <json>`.
struct Line {
    tag: String,
    doc: serde_json::Value,
}

/// Reads the peer's lines up to (and including) the one tagged `last`; a `FATAL` line fails
/// the test with the peer's output.
fn lines_until(peer: &mut PythonPeer, last: &str, timeout: Duration) -> Vec<Line> {
    let deadline = std::time::Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let raw = peer.wait_for_line("", left);
        let (tag, json) = raw.split_once(' ').unwrap_or((raw.as_str(), "null"));
        if tag == "FATAL" {
            panic!("the Python peer failed: {raw}\n{}", peer.output());
        }
        let Ok(doc) = serde_json::from_str(json) else {
            continue; // not one of the script's lines (a library's log line)
        };
        let done = tag == last;
        lines.push(Line {
            tag: tag.to_string(),
            doc,
        });
        if done {
            return lines;
        }
    }
}

fn tagged<'a>(lines: &'a [Line], tag: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|l| l.tag == tag)
        .map(|l| &l.doc)
        .collect()
}

/// `{"$bytes": hex}` → the bytes.
fn json_bytes<const N: usize>(v: &serde_json::Value) -> [u8; N] {
    let h = v["$bytes"].as_str().unwrap_or_else(|| panic!("bytes: {v}"));
    let b: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    b.try_into().unwrap()
}

/// An amount: a JSON integer, or a decimal string beyond 63 bits.
fn json_u256(v: &serde_json::Value) -> U256 {
    match v {
        serde_json::Value::String(s) => s.parse().unwrap(),
        n => U256::from(n.as_u64().unwrap_or_else(|| panic!("amount: {v}"))),
    }
}

fn json_payload(v: &serde_json::Value) -> Value {
    payload(v["data"].as_str().unwrap(), v["counter"].as_u64().unwrap())
}

/// The delegates' WAMP-cryptosign keys (Ed25519 seeds). The Python seller takes over the Rust
/// seller's delegate with its key, registered by then.
const CS_RUST_SELLER: [u8; 32] = [0x14; 32];
const CS_PY_BUYER: [u8; 32] = [0x15; 32];
const CS_RUST_BUYER: [u8; 32] = [0x25; 32];
const CS_PROBE: [u8; 32] = [0x26; 32];

/// A market session with cryptosign key `seed`: its first login, signed by member `member`, or
/// (`None`) a login with the registered key alone. Either way a `user` of the member.
async fn delegate(
    router: &Crossbar,
    serializer: Serializer,
    seed: [u8; 32],
    member: Option<usize>,
) -> Session {
    let cs = CryptosignKey::from_seed(seed);
    let extra = member
        .map(|m| member_login_authextra(&key(m), cs.public_key()))
        .unwrap_or_default();
    let s = delegate_session(router, serializer, &cs, extra)
        .await
        .unwrap();
    assert_eq!(s.info().unwrap().authrole(), Some("user"));
    s
}

/// A Python trader joining with cryptosign key `seed`; with `member`, its first login.
fn spawn_trader(
    router: &Crossbar,
    role: &str,
    serializer: &str,
    events: u64,
    (seed, member): ([u8; 32], Option<usize>),
    extra: &[&str],
) -> PythonPeer {
    let maker = key(6).address().to_string();
    let events = events.to_string();
    let url = market_url(router);
    let seed = hex(&seed);
    let mut args = vec![
        role,
        "--url",
        &url,
        "--cryptosign-key",
        &seed,
        "--realm",
        REALM_MARKET,
        "--serializer",
        serializer,
        "--maker",
        &maker,
        "--topic",
        TOPIC,
        "--events",
        &events,
    ];
    if let Some(m) = member {
        args.extend_from_slice(&["--member-key", KEYS[m]]);
    }
    args.extend_from_slice(extra);
    PythonPeer::spawn(Path::new(TRADER), &args, &[])
}

/// Checks the trader's `JOINED` line: a `user` session of `member`.
fn assert_joined_as(lines: &[Line], member: usize) {
    let joined = tagged(lines, "JOINED");
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0]["authrole"], "user");
    assert_eq!(joined[0]["authid"], member_authid(&key(member).address()));
}

/// The payload of a `READY`/`BALANCE` line: (seq, remaining).
fn seq_remaining(v: &serde_json::Value) -> (u64, U256) {
    (v["seq"].as_u64().unwrap(), json_u256(&v["remaining"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_buyer_on_cbor_and_python_seller_on_json_trade_through_the_rust_maker() {
    trade(Serializers {
        python_buyer: "cbor",
        rust_seller: Serializer::Json,
        python_seller: "json",
        rust_buyer: Serializer::Cbor,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_buyer_on_json_and_python_seller_on_cbor_trade_through_the_rust_maker() {
    trade(Serializers {
        python_buyer: "json",
        rust_seller: Serializer::Cbor,
        python_seller: "cbor",
        rust_buyer: Serializer::Json,
    })
    .await;
}

/// The serializer of each trader's session (the maker's is CBOR). Crossbar translates between
/// them, so each pair also crosses serializers: big integers go out as CBOR bignums or bare
/// JSON integers, byte strings as CBOR bytes or JSON `"\0"` + base64.
struct Serializers {
    python_buyer: &'static str,
    rust_seller: Serializer,
    python_seller: &'static str,
    rust_buyer: Serializer,
}

async fn trade(ser: Serializers) {
    // Chain: deploy + bootstrap (market, members, one payment and one paying channel).
    let cm = ChainMarket::start(&description()).await;
    let (chain, domain) = (cm.chain.clone(), cm.domain());
    let member_before = chain.xbr_balance(key(3).address()).await.unwrap();
    let router = Crossbar::start_with_config(market_auth_config());
    let dir = tempfile::tempdir().unwrap();

    // Our market maker (CBOR session, SQLite store, channels mirrored from the chain).
    let Maker {
        session: maker_session,
        store: maker_store,
        maker,
    } = Maker::on_session(
        maker_session(&router).await,
        &cm,
        &dir.path().join("maker.db"),
    )
    .await;
    assert_eq!(maker.scan_channels(0).await.unwrap().new, 2);
    register_maker(&maker_session, maker.clone()).await.unwrap();
    let probe = delegate(&router, Serializer::Cbor, CS_PROBE, Some(3)).await;
    let client = maker_client(&probe);
    let balances = async || {
        let payment = client
            .get_balance(ChannelType::Payment, &PAYMENT)
            .await
            .unwrap();
        let paying = client
            .get_balance(ChannelType::Paying, &PAYING)
            .await
            .unwrap();
        assert_eq!(
            (payment.inflight, paying.inflight),
            (U256::ZERO, U256::ZERO)
        );
        (
            (payment.seq, payment.remaining),
            (paying.seq, paying.remaining),
        )
    };
    let price = xbr(PRICE_XBR);

    // ---------------------------------------------------------- 1. Rust seller → Python buyer
    let seller_db = dir.path().join("seller.db");
    let seller_store = Arc::new(SqliteStore::open(&seller_db).unwrap());
    let seller_session = delegate(&router, ser.rust_seller, CS_RUST_SELLER, Some(2)).await;
    let seller_peer = Arc::new(SessionPeer::new(
        seller_session.clone(),
        Some(Duration::from_secs(30)),
    ));
    let events: Arc<dyn Publisher> = seller_peer.clone();
    let seller = Seller::new(
        SellerConfig::new(key(6).address(), key(4), Kek::from_bytes([3; 32])),
        seller_store.clone(),
        maker_client(&seller_session),
        events,
    );
    seller
        .add(ApiSpec {
            api_id: API_RS,
            prefix: PREFIX.into(),
            price,
            policy: RotationPolicy::Count(ROTATE_EVERY),
            categories: None,
        })
        .unwrap();
    register_seller(&seller_session, &seller).await.unwrap();
    seller.start().await.unwrap();

    let buyer_key = KEYS[5];
    let mut py_buyer = spawn_trader(
        &router,
        "buyer",
        ser.python_buyer,
        EVENTS,
        (CS_PY_BUYER, Some(3)),
        &["--key", buyer_key],
    );
    let ready = lines_until(&mut py_buyer, "READY", PEER_START);
    assert_joined_as(&ready, 3);
    assert_eq!(
        seq_remaining(&ready.last().unwrap().doc),
        (1, xbr(PAYMENT_XBR)),
        "the Python buyer starts from our maker's view of its payment channel"
    );
    let mut sent = Vec::new();
    for i in 0..EVENTS {
        let p = payload("xbrd-seller", i);
        let (key_id, enc, ct) = seller.wrap(&API_RS, TOPIC, &p).await.unwrap();
        seller_session
            .publish(
                TOPIC,
                event_args(&key_id, enc, ct),
                Dict::new(),
                PublishOptions::acknowledged(),
            )
            .await
            .unwrap();
        sent.push((key_id, p));
    }
    let out = lines_until(&mut py_buyer, "DONE", PEER_RUN);
    assert!(py_buyer.wait(Duration::from_secs(30)).success());

    // Every event decrypted by the Python buyer, in order, under the key it was sent with.
    let decrypted: Vec<(KeyId, Value)> = tagged(&out, "PAYLOAD")
        .into_iter()
        .map(|p| (KeyId(json_bytes(&p["key_id"])), json_payload(&p["payload"])))
        .collect();
    assert_eq!(decrypted, sent);
    let keys_a: BTreeSet<KeyId> = sent.iter().map(|(k, _)| *k).collect();
    // Count(5): 20 events span 4 or more keys, the first minted at start.
    assert!(keys_a.len() >= 4, "{} keys", keys_a.len());
    let n_a = keys_a.len() as u64;
    let rotations = seller_store.seller_keys().unwrap().len() as u64;
    assert_eq!(rotations, n_a, "one purchase per key the seller minted");

    // Balances: both channels fell by exactly keys × price, seq advanced by the sales; the Python
    // buyer's local state, our maker's and our seller's agree.
    let ((pay_seq, pay_rem), (paying_seq, paying_rem)) = balances().await;
    assert_eq!(
        (pay_seq, pay_rem),
        (1 + n_a, xbr(PAYMENT_XBR) - price * U256::from(n_a))
    );
    assert_eq!(
        (paying_seq, paying_rem),
        (1 + n_a, xbr(PAYING_XBR) - price * U256::from(n_a))
    );
    let bal = tagged(&out, "BALANCE")[0];
    assert_eq!(seq_remaining(bal), (pay_seq, pay_rem));
    assert_eq!(seq_remaining(&bal["maker"]), (pay_seq, pay_rem));
    assert_eq!(bal["keys"].as_u64(), Some(n_a));
    let s = seller.channel().unwrap();
    assert_eq!((s.seq, s.balance), (paying_seq, paying_rem));
    let seller_sales = SellerStore::seller_sales(seller_store.as_ref()).unwrap();
    assert_eq!(
        seller_sales
            .iter()
            .map(|s| s.key_id)
            .collect::<BTreeSet<_>>(),
        keys_a
    );
    assert_eq!(seller_sales.len() as u64, n_a);

    // The maker's sales: completed, one per key; the Python buyer's XBRSIG1 signatures recover to
    // its delegate over exactly the payment states recorded.
    let sales = maker_store.sales().unwrap();
    assert_eq!(sales.len() as u64, n_a);
    assert_eq!(
        sales.iter().map(|s| s.key_id).collect::<BTreeSet<_>>(),
        keys_a
    );
    for s in &sales {
        assert_eq!(s.status, SaleStatus::Completed);
        assert_eq!((s.amount_offered, s.amount_paid), (price, price));
        assert_eq!(s.buyer_delegate, key(5).address());
        let state = sig::off_chain(MARKET, PAYMENT, s.payment_seq, s.payment_remaining);
        domain
            .verify(
                &state,
                &s.buyer_signature,
                &key(5).address(),
                "python buyer",
            )
            .unwrap();
    }

    // ---------------------------------------------------------- 2. Python seller → Rust buyer
    // Our seller leaves; the Python seller takes over its delegate and paying channel.
    seller.stop();
    seller_session.leave().await.unwrap();
    let buyer_store: Arc<dyn BuyerStore> =
        Arc::new(SqliteStore::open(dir.path().join("buyer.db")).unwrap());
    let buyer_session = delegate(&router, ser.rust_buyer, CS_RUST_BUYER, Some(3)).await;
    let buyer = Buyer::new(
        BuyerConfig {
            market_maker: key(6).address(),
            key: key(5),
            max_price: xbr(100),
            kek: Kek::from_bytes([5; 32]),
            auto_close: true,
            allow: Default::default(),
        },
        buyer_store.clone(),
        maker_client(&buyer_session),
    );
    assert_eq!(buyer.start().await.unwrap(), pay_rem);
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<Value, MarketError>>();
    subscribe_buyer(
        &buyer_session,
        TOPIC,
        buyer.clone(),
        Arc::new(move |r| drop(tx.send(r))),
    )
    .await
    .unwrap();

    let price_wei = price.to_string();
    let api = hex(API_PY.as_bytes());
    let every = ROTATE_EVERY.to_string();
    let mut py_seller = spawn_trader(
        &router,
        "seller",
        ser.python_seller,
        EVENTS,
        (CS_RUST_SELLER, None),
        &[
            "--key", KEYS[4], "--api-id", &api, "--prefix", PREFIX, "--price", &price_wei,
            "--count", &every,
        ],
    );
    let ready = lines_until(&mut py_seller, "READY", PEER_START);
    assert_joined_as(&ready, 2);
    let ready = &ready.last().unwrap().doc;
    assert_eq!(
        seq_remaining(ready),
        (paying_seq, paying_rem),
        "the Python seller resumes the paying channel where our seller left it"
    );
    assert_eq!(ready["provider_id"].as_str(), Some(seller.provider_id()));

    let mut got = Vec::new();
    while got.len() < EVENTS as usize {
        let r = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("event in time\n{}", py_seller.output()))
            .unwrap();
        got.push(r.unwrap_or_else(|e| panic!("unwrap: {e:?}\n{}", py_seller.output())));
    }
    let out = lines_until(&mut py_seller, "DONE", PEER_RUN);
    assert!(py_seller.wait(Duration::from_secs(30)).success());
    got.sort_by_key(|v| v.as_dict().unwrap()["counter"].as_u64().unwrap());
    assert_eq!(
        got,
        (0..EVENTS)
            .map(|i| payload("py-seller", i))
            .collect::<Vec<_>>()
    );

    let published: Vec<(KeyId, u64)> = tagged(&out, "PUBLISHED")
        .into_iter()
        .map(|p| {
            (
                KeyId(json_bytes(&p["key_id"])),
                p["counter"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        published.iter().map(|p| p.1).collect::<Vec<_>>(),
        (0..EVENTS).collect::<Vec<_>>()
    );
    let keys_b: BTreeSet<KeyId> = published.iter().map(|p| p.0).collect();
    assert!(keys_b.len() >= 4, "{} keys", keys_b.len());
    assert!(keys_b.is_disjoint(&keys_a));
    let n_b = keys_b.len() as u64;
    let n = n_a + n_b;

    // The Python seller sold each key once, its receipts carry the paying states in order.
    let sold = tagged(&out, "SOLD");
    assert_eq!(
        sold.iter()
            .map(|s| KeyId(json_bytes(&s["key_id"])))
            .collect::<BTreeSet<_>>(),
        keys_b
    );
    assert_eq!(sold.len() as u64, n_b);
    for (i, s) in sold.iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!(s["channel_seq"].as_u64(), Some(paying_seq + i));
        assert_eq!(json_u256(&s["amount"]), price);
        assert_eq!(json_u256(&s["balance"]), paying_rem - price * U256::from(i));
    }

    // Both channels fell by all keys × price; every view agrees: maker, Rust buyer (store and
    // memory), Python seller (local and its balance() call).
    let ((pay_seq, pay_rem), (paying_seq, paying_rem)) = balances().await;
    assert_eq!(
        (pay_seq, pay_rem),
        (1 + n, xbr(PAYMENT_XBR) - price * U256::from(n))
    );
    assert_eq!(
        (paying_seq, paying_rem),
        (1 + n, xbr(PAYING_XBR) - price * U256::from(n))
    );
    let bal = tagged(&out, "BALANCE")[0];
    assert_eq!(seq_remaining(bal), (paying_seq, paying_rem));
    assert_eq!(seq_remaining(&bal["maker"]), (paying_seq, paying_rem));
    let b = buyer.channel().await.unwrap();
    assert_eq!((b.seq, b.balance), (pay_seq, pay_rem));
    let purchases = buyer_store.purchases().unwrap();
    assert_eq!(
        purchases.iter().map(|p| p.key_id).collect::<BTreeSet<_>>(),
        keys_b
    );

    // The maker's sales of the Python seller's keys: completed; the seller's XBRSIG5 receipts
    // recover to its delegate over the paying states recorded.
    let sales = maker_store.sales().unwrap();
    assert_eq!(sales.len() as u64, n);
    let sales_b: Vec<_> = sales
        .iter()
        .filter(|s| keys_b.contains(&s.key_id))
        .collect();
    assert_eq!(sales_b.len() as u64, n_b);
    for s in sales_b {
        assert_eq!(s.status, SaleStatus::Completed);
        let state = sig::off_chain(MARKET, PAYING, s.paying_seq, s.paying_remaining);
        domain
            .verify(
                &state,
                s.seller_signature.as_ref().unwrap(),
                &key(4).address(),
                "python seller",
            )
            .unwrap();
    }

    // ---------------------------------------------------------- 3. Python buyer auto-close
    // A fresh Python buyer buys one more key from a Rust seller, then meets a key it cannot pay:
    // it signs a final close of its payment channel (the reference's 8-argument close_channel,
    // closeAt = 1) and our maker counter-signs and settles it on chain.
    buyer_session.leave().await.unwrap();
    let seller_session = delegate(&router, ser.rust_seller, CS_RUST_SELLER, None).await;
    let seller_peer = Arc::new(SessionPeer::new(
        seller_session.clone(),
        Some(Duration::from_secs(30)),
    ));
    let events: Arc<dyn Publisher> = seller_peer.clone();
    let seller = Seller::new(
        SellerConfig::new(key(6).address(), key(4), Kek::from_bytes([4; 32])),
        Arc::new(xbr_market::MemoryStore::new()),
        maker_client(&seller_session),
        events,
    );
    let too_dear = pay_rem; // more than the channel holds after one more key
    for (api_id, price, every) in [(API_CHEAP, price, 100), (API_DEAR, too_dear, 100)] {
        seller
            .add(ApiSpec {
                api_id,
                prefix: PREFIX.into(),
                price,
                policy: RotationPolicy::Count(every),
                categories: None,
            })
            .unwrap();
    }
    register_seller(&seller_session, &seller).await.unwrap();
    seller.start().await.unwrap();
    let max_price = too_dear.to_string();
    let mut py_buyer = spawn_trader(
        &router,
        "buyer",
        ser.python_buyer,
        2,
        (CS_PY_BUYER, None),
        &[
            "--key",
            buyer_key,
            "--max-price",
            &max_price,
            "--keep-going",
        ],
    );
    let ready = lines_until(&mut py_buyer, "READY", PEER_START);
    assert_joined_as(&ready, 3);
    assert_eq!(
        seq_remaining(&ready.last().unwrap().doc),
        (pay_seq, pay_rem)
    );
    let mut sent = Vec::new();
    for (i, api) in [API_CHEAP, API_DEAR].iter().enumerate() {
        let p = payload("xbrd-seller", 100 + i as u64);
        let (key_id, enc, ct) = seller.wrap(api, TOPIC, &p).await.unwrap();
        seller_session
            .publish(
                TOPIC,
                event_args(&key_id, enc, ct),
                Dict::new(),
                PublishOptions::acknowledged(),
            )
            .await
            .unwrap();
        sent.push((key_id, p));
    }
    let out = lines_until(&mut py_buyer, "DONE", PEER_RUN);
    assert!(py_buyer.wait(Duration::from_secs(30)).success());
    let decrypted: Vec<(KeyId, Value)> = tagged(&out, "PAYLOAD")
        .into_iter()
        .map(|p| (KeyId(json_bytes(&p["key_id"])), json_payload(&p["payload"])))
        .collect();
    assert_eq!(decrypted, sent[..1]);
    let refused = tagged(&out, "UNWRAP_ERROR");
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["error"], "xbr.error.channel_closed");
    assert_eq!(KeyId(json_bytes(&refused[0]["key_id"])), sent[1].0);
    let (close_seq, close_balance) = (pay_seq + 1, pay_rem - price);
    assert_eq!(
        seq_remaining(tagged(&out, "BALANCE")[0]),
        (close_seq, close_balance)
    );

    // Settled on chain at the Python buyer's last state; the member got the rest back.
    let closed = chain.channel(PAYMENT).await.unwrap().unwrap();
    assert_eq!(closed.state, ChainState::Closed);
    assert_eq!(
        (
            u64::from(closed.closing.closing_seq),
            closed.closing.closing_balance
        ),
        (close_seq, close_balance)
    );
    assert_eq!(
        chain.xbr_balance(key(3).address()).await.unwrap(),
        member_before + close_balance
    );
    let mirrored = maker_store.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(mirrored.state, xbr_market::types::ChannelState::Closed);
    let close = mirrored.close.unwrap();
    assert!(close.closed_tx.is_some());
    assert_eq!(
        (close.seq, close.balance, close.is_final),
        (close_seq, close_balance, true)
    );
    // The dear key was never sold.
    assert_eq!(maker_store.sales().unwrap().len() as u64, n + 1);

    seller.stop();
    for s in [seller_session, probe, maker_session] {
        s.leave().await.unwrap();
    }
}

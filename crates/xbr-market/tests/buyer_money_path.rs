//! The buyer's side of the money path in the in-process market: purchase intents sent again
//! after lost replies and restarts, refusals that free the seq, keys checked against the
//! ciphertext in hand, the persisted receive key, failed key ids not quoted again.
//!
//! A lost reply is played by a `buy_key` handler on the bus in front of the real maker: it
//! forwards the call (or not) and answers `wamp.error.timeout` instead of the maker's reply.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tempfile::TempDir;
use wamp_proto::{Dict, Value};
use xbr_market::error::MarketResult;
use xbr_market::error::{MarketError, uri};
use xbr_market::local::{Handler, LocalBus};
use xbr_market::maker::{MarketMaker, Procedure};
use xbr_market::types::{KeyId, SaleStatus, U256};
use xbr_market::wire::Payload;
use xbr_market::{Buyer, BuyerStore, SqliteStore};

const BUY_KEY: &str = "xbr.marketmaker.buy_key";

fn payload(i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("counter".into(), Value::from(i));
    Value::Dict(d)
}

fn timeout() -> MarketError {
    MarketError::from_uri("wamp.error.timeout", "reply lost")
}

/// What a `buy_key` handler in front of the maker does with a call.
#[derive(Clone, Copy)]
enum Front {
    /// The call never reaches the maker; the caller gets a timeout.
    Lose,
    /// The maker handles the call; the caller gets a timeout instead of its reply.
    LoseReply,
}

/// The maker's `buy_key`.
fn maker_buy_key(maker: &Arc<MarketMaker>) -> Handler {
    let maker = Arc::clone(maker);
    Arc::new(move |args: Vec<Value>, kwargs: Dict| {
        let maker = Arc::clone(&maker);
        Box::pin(async move { maker.dispatch(Procedure::BuyKey, &args, &kwargs, 0).await })
    })
}

/// `inner` made idempotent, as the maker's `buy_key` is designed to be: the same request again
/// gets the first reply. (Stands in for the maker's own idempotent `buy_key`; the
/// `*_by_the_maker` variants run against the maker alone.)
fn idempotent(inner: Handler) -> Handler {
    type Replies = Vec<(Vec<Value>, MarketResult<Payload>)>;
    let replies: Arc<Mutex<Replies>> = Arc::default();
    Arc::new(move |args: Vec<Value>, kwargs: Dict| {
        let (inner, replies) = (Arc::clone(&inner), Arc::clone(&replies));
        Box::pin(async move {
            let known = replies
                .lock()
                .unwrap()
                .iter()
                .find(|(a, _)| *a == args)
                .map(|(_, r)| r.clone());
            if let Some(reply) = known {
                return reply;
            }
            let reply = inner(args.clone(), kwargs).await;
            replies.lock().unwrap().push((args, reply.clone()));
            reply
        })
    })
}

/// The maker's `buy_key`, idempotent in front of it or not.
fn buy_key_of(maker: &Arc<MarketMaker>, idempotent_front: bool) -> Handler {
    let handler = maker_buy_key(maker);
    if idempotent_front {
        idempotent(handler)
    } else {
        handler
    }
}

/// Puts a `buy_key` handler in front of `inner`; returns the argument lists it saw.
fn front(bus: &Arc<LocalBus>, inner: Handler, mode: Front) -> Arc<Mutex<Vec<Vec<Value>>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let handler: Handler = Arc::new(move |args: Vec<Value>, kwargs: Dict| {
        let inner = Arc::clone(&inner);
        log.lock().unwrap().push(args.clone());
        Box::pin(async move {
            if let Front::LoseReply = mode {
                let _ = inner(args, kwargs).await;
            }
            Err::<Payload, _>(timeout())
        })
    });
    bus.register(BUY_KEY, handler);
    seen
}

fn sqlite_buyer(m: &Market, path: &Path) -> (Buyer, Arc<dyn BuyerStore>) {
    let store: Arc<dyn BuyerStore> = Arc::new(SqliteStore::open(path).unwrap());
    (
        buyer_for(&m.bus, store.clone(), &m.kek, KEY5, xbr(100)),
        store,
    )
}

/// A started market and a started buyer on a SQLite store at `db` (in the returned directory),
/// to be restarted with [`sqlite_buyer`].
async fn with_sqlite_buyer() -> (TempDir, PathBuf, Market, Buyer, Arc<dyn BuyerStore>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("buyer.db");
    let m = started_market(xbr(35)).await;
    let (buyer, store) = sqlite_buyer(&m, &db);
    buyer.start().await.unwrap();
    (dir, db, m, buyer, store)
}

/// The maker and the buyer's store stand at `(seq, remaining)`, nothing in flight.
fn assert_agree(m: &Market, store: &Arc<dyn BuyerStore>, seq: u64, remaining: U256) {
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (seq, remaining, U256::ZERO)
    );
    let b = store.buyer_channel().unwrap().unwrap();
    assert_eq!((b.seq, b.balance), (seq, remaining));
}

fn completed_sales(m: &Market) -> usize {
    m.maker_store
        .sales()
        .unwrap()
        .iter()
        .filter(|s| s.status == SaleStatus::Completed)
        .count()
}

/// The maker completes a sale whose reply the buyer loses; the restarted buyer sends the same
/// request again and gets the key without paying twice.
async fn lost_reply_then_restart(idempotent: bool) {
    let (_dir, db, m, buyer, store) = with_sqlite_buyer().await;
    let pubkey = buyer.buyer_pubkey().unwrap();
    let (k, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let buy_key = buy_key_of(&m.maker, idempotent);
    front(&m.bus, buy_key.clone(), Front::LoseReply);
    let e = buyer.unwrap(&k, enc, &ct).await.unwrap_err();
    assert_eq!(e.uri, "wamp.error.timeout");
    assert_eq!(store.purchase_intents().unwrap().len(), 1, "intent kept");
    assert_eq!(completed_sales(&m), 1, "the maker completed the sale");
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(465), U256::ZERO)
    );
    drop((buyer, store));

    m.bus.register(BUY_KEY, buy_key);
    let (buyer, store) = sqlite_buyer(&m, &db);
    assert_eq!(buyer.start().await.unwrap(), xbr(465));
    assert_eq!(buyer.buyer_pubkey().unwrap(), pubkey, "same receive key");
    assert!(store.purchase_intents().unwrap().is_empty());
    let p = store.purchase(&k).unwrap().unwrap();
    assert!(p.verified, "checked against the ciphertext in hand");
    assert_eq!(buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(1));
    assert_eq!(m.maker_store.sales().unwrap().len(), 1, "paid once");
    assert_agree(&m, &store, 2, xbr(465));
}

#[tokio::test]
async fn a_lost_reply_is_fetched_again_after_a_restart_not_paid_twice() {
    lost_reply_then_restart(true).await;
}

#[tokio::test]
async fn a_lost_reply_is_fetched_again_after_a_restart_not_paid_twice_by_the_maker() {
    lost_reply_then_restart(false).await;
}

/// The step after the maker's reply fails: the intent stays, the next unwrap sends the same
/// request again and gets the key, charged once.
async fn failure_after_the_reply(idempotent: bool) {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    m.bus.register(BUY_KEY, buy_key_of(&m.maker, idempotent));
    let (k, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let scenario = fail::FailScenario::setup();
    fail::cfg("buyer::after_reply", "1*return(error)").unwrap();
    let e = m.buyer.unwrap(&k, enc, &ct).await.unwrap_err();
    assert_eq!(e.uri, uri::RUNTIME_ERROR);
    assert_eq!(m.buyer_store.purchase_intents().unwrap().len(), 1);
    assert!(m.buyer_store.purchase(&k).unwrap().is_none());
    assert_eq!(m.buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(1));
    scenario.teardown();
    assert!(m.buyer_store.purchase_intents().unwrap().is_empty());
    assert_eq!(m.maker_store.sales().unwrap().len(), 1, "charged once");
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(465), U256::ZERO)
    );
    assert_eq!(m.buyer.channel().await.unwrap().seq, 2);
}

#[tokio::test]
async fn a_failure_after_the_reply_keeps_the_intent_and_the_retry_gets_the_key() {
    failure_after_the_reply(true).await;
}

#[tokio::test]
async fn a_failure_after_the_reply_keeps_the_intent_and_the_retry_gets_the_key_by_the_maker() {
    failure_after_the_reply(false).await;
}

#[tokio::test]
async fn a_failure_after_the_intent_keeps_it_and_the_next_unwrap_sends_it() {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    let (k, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let scenario = fail::FailScenario::setup();
    fail::cfg("buyer::after_intent", "1*return(error)").unwrap();
    let e = m.buyer.unwrap(&k, enc, &ct).await.unwrap_err();
    assert_eq!(e.uri, uri::RUNTIME_ERROR);
    let intents = m.buyer_store.purchase_intents().unwrap();
    assert_eq!((intents.len(), intents[0].seq), (1, 2));
    assert_eq!(intents[0].ciphertext.as_deref(), Some(ct.as_slice()));
    assert!(m.maker_store.sales().unwrap().is_empty(), "nothing sent");
    assert_eq!(m.buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(1));
    scenario.teardown();
    assert!(m.buyer_store.purchase_intents().unwrap().is_empty());
    assert_agree(&m, &m.buyer_store, 2, xbr(465));
    assert_eq!(m.maker_store.sales().unwrap().len(), 1);
}

#[tokio::test]
async fn a_pending_intent_goes_first_and_is_sent_again_identically_after_a_restart() {
    let (_dir, db, m, buyer, store) = with_sqlite_buyer().await;
    let api = hex16(API);
    let (k1, enc, c1) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    let (k2, _, c2) = m.seller.wrap(&api, "x", &payload(2)).await.unwrap();
    assert_ne!(k1, k2);
    let seen = front(&m.bus, maker_buy_key(&m.maker), Front::Lose);
    assert_eq!(
        buyer.unwrap(&k1, enc, &c1).await.unwrap_err().uri,
        "wamp.error.timeout"
    );
    // Another key while the first is unanswered: the pending request goes again, unchanged,
    // and this purchase fails with its error; nothing else is sent.
    assert_eq!(
        buyer.unwrap(&k2, enc, &c2).await.unwrap_err().uri,
        "wamp.error.timeout"
    );
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0], calls[1], "identical request");
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (1, xbr(500), U256::ZERO)
    );
    drop((buyer, store));

    // Restarted while no maker takes buy_key: the request stays pending (an earlier send may
    // have reached the maker) and the start fails.
    m.bus.unregister(BUY_KEY);
    let (buyer, store) = sqlite_buyer(&m, &db);
    let e = buyer.start().await.unwrap_err();
    assert_eq!(e.uri, uri::NO_SUCH_PROCEDURE);
    assert_eq!(store.purchase_intents().unwrap().len(), 1);
    // With the maker reachable: the maker sees the request for the first time.
    m.bus.register_maker(m.maker.clone());
    assert_eq!(buyer.start().await.unwrap(), xbr(465));
    assert!(store.purchase_intents().unwrap().is_empty());
    assert_eq!(buyer.unwrap(&k1, enc, &c1).await.unwrap(), payload(1));
    assert_eq!(buyer.unwrap(&k2, enc, &c2).await.unwrap(), payload(2));
    assert_eq!(completed_sales(&m), 2);
    assert_agree(&m, &store, 3, xbr(430));
}

#[tokio::test]
async fn an_intent_the_maker_refuses_after_a_restart_frees_the_seq() {
    let (_dir, db, m, buyer, store) = with_sqlite_buyer().await;
    let api = hex16(API);
    let (k1, enc, c1) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    front(&m.bus, maker_buy_key(&m.maker), Front::Lose);
    buyer.unwrap(&k1, enc, &c1).await.unwrap_err();
    assert_eq!(store.purchase_intents().unwrap().len(), 1);
    drop((buyer, store));

    // The key's offer is gone by the time the request reaches the maker: refused for good.
    m.maker_store.set_offer_expires(&k1, 1).unwrap();
    m.bus.register_maker(m.maker.clone());
    let (buyer, store) = sqlite_buyer(&m, &db);
    assert_eq!(buyer.start().await.unwrap(), xbr(500));
    assert!(store.purchase_intents().unwrap().is_empty());
    assert!(store.purchase(&k1).unwrap().is_none());
    // Seq 2 is free again: the next key is bought with it.
    let (k2, _, c2) = m.seller.wrap(&api, "x", &payload(2)).await.unwrap();
    assert_eq!(buyer.unwrap(&k2, enc, &c2).await.unwrap(), payload(2));
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(465), U256::ZERO)
    );
    assert_eq!(store.purchase(&k2).unwrap().unwrap().seq, 2);
}

#[tokio::test]
async fn a_refusal_with_the_makers_position_moves_the_buyer_there() {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    let (k1, enc, c1) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    // The maker ends at (2, 465) but refuses, telling where it stands.
    let (maker, store) = (m.maker.clone(), m.maker_store.clone());
    let handler: Handler = Arc::new(move |args: Vec<Value>, kwargs: Dict| {
        let (maker, store) = (maker.clone(), store.clone());
        Box::pin(async move {
            let _ = maker.dispatch(Procedure::BuyKey, &args, &kwargs, 0).await;
            let (seq, remaining, _) = maker_view(&store, PAYMENT);
            Err(MarketError::new(uri::UNEXPECTED_CHANNEL_SEQ, "seq used")
                .with_position(seq, remaining))
        })
    });
    m.bus.register(BUY_KEY, handler);
    let e = m.buyer.unwrap(&k1, enc, &c1).await.unwrap_err();
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_SEQ);
    assert!(m.buyer_store.purchase_intents().unwrap().is_empty());
    let b = m.buyer_store.buyer_channel().unwrap().unwrap();
    assert_eq!((b.seq, b.balance), (2, xbr(465)));
    // The next purchase signs the seq after the maker's.
    m.bus.register_maker(m.maker.clone());
    let (k2, _, c2) = m.seller.wrap(&api, "x", &payload(2)).await.unwrap();
    assert_eq!(m.buyer.unwrap(&k2, enc, &c2).await.unwrap(), payload(2));
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (3, xbr(430), U256::ZERO)
    );
}

#[tokio::test]
async fn garbage_under_a_real_key_id_is_paid_once_kept_unverified_and_verified_later() {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    let (k, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let mut garbage = ct.clone();
    let last = garbage.len() - 1;
    garbage[last] ^= 0xff;
    for _ in 0..2 {
        let e = m.buyer.unwrap(&k, enc, &garbage).await.unwrap_err();
        assert_eq!(e.uri, uri::DECRYPTION_FAILED);
    }
    let p = m.buyer_store.purchase(&k).unwrap().unwrap();
    assert!(!p.verified, "recorded (the money moved), unverified");
    assert_eq!(m.maker_store.sales().unwrap().len(), 1, "not bought again");
    assert_eq!(m.buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(1));
    assert!(m.buyer_store.purchase(&k).unwrap().unwrap().verified);
    assert_eq!(m.maker_store.sales().unwrap().len(), 1);
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(465), U256::ZERO)
    );
}

#[tokio::test]
async fn a_receipt_whose_sealed_key_does_not_open_is_paid_once_and_not_bought_again() {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    let (k1, enc, c1) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    // The maker's receipt arrives with a sealed key that does not open.
    let inner = maker_buy_key(&m.maker);
    let handler: Handler = Arc::new(move |args: Vec<Value>, kwargs: Dict| {
        let inner = Arc::clone(&inner);
        Box::pin(async move {
            let (mut args, kwargs) = inner(args, kwargs).await?;
            if let Value::Dict(receipt) = &mut args[0]
                && let Some(Value::Bytes(sealed)) = receipt.get_mut("sealed_key")
            {
                sealed[0] ^= 0xff;
            }
            Ok((args, kwargs))
        })
    });
    m.bus.register(BUY_KEY, handler);
    for _ in 0..2 {
        let e = m.buyer.unwrap(&k1, enc, &c1).await.unwrap_err();
        assert_eq!(e.uri, uri::DECRYPTION_FAILED);
    }
    let p = m.buyer_store.purchase(&k1).unwrap().unwrap();
    assert!(
        p.wrapped_key.is_empty() && !p.verified,
        "paid, not delivered"
    );
    assert!(m.buyer_store.purchase_intents().unwrap().is_empty());
    assert_eq!(m.maker_store.sales().unwrap().len(), 1, "not bought again");
    assert_agree(&m, &m.buyer_store, 2, xbr(465));
    // Trading goes on with the next key.
    m.bus.register_maker(m.maker.clone());
    let (k2, _, c2) = m.seller.wrap(&api, "x", &payload(2)).await.unwrap();
    assert_eq!(m.buyer.unwrap(&k2, enc, &c2).await.unwrap(), payload(2));
    assert_agree(&m, &m.buyer_store, 3, xbr(430));
    // A restarted buyer restores the undelivered key as such.
    let again = buyer_for(&m.bus, m.buyer_store.clone(), &m.kek, KEY5, xbr(100));
    again.start().await.unwrap();
    let e = again.unwrap(&k1, enc, &c1).await.unwrap_err();
    assert_eq!(e.uri, uri::DECRYPTION_FAILED);
    assert_eq!(again.unwrap(&k2, enc, &c2).await.unwrap(), payload(2));
    assert_eq!(m.maker_store.sales().unwrap().len(), 2);
}

#[tokio::test]
async fn the_receive_key_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let m = started_market(xbr(35)).await;
    let (first, _) = sqlite_buyer(&m, &dir.path().join("buyer.db"));
    assert!(first.buyer_pubkey().is_none(), "loaded by start");
    first.start().await.unwrap();
    let pubkey = first.buyer_pubkey().unwrap();
    first.start().await.unwrap();
    assert_eq!(first.buyer_pubkey().unwrap(), pubkey);
    drop(first);
    let (again, _) = sqlite_buyer(&m, &dir.path().join("buyer.db"));
    again.start().await.unwrap();
    assert_eq!(again.buyer_pubkey().unwrap(), pubkey);
    let (other, _) = sqlite_buyer(&m, &dir.path().join("other.db"));
    other.start().await.unwrap();
    assert_ne!(
        other.buyer_pubkey().unwrap(),
        pubkey,
        "one key per buyer database"
    );
}

#[tokio::test]
async fn failed_key_ids_are_not_quoted_again_within_the_ttl() {
    let m = started_market(xbr(35)).await;
    m.buyer.start().await.unwrap();
    let (_, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let quotes = || {
        m.bus
            .records()
            .iter()
            .filter(|r| r.procedure.ends_with(".get_quote"))
            .count()
    };
    let unknown = KeyId([0xee; 16]);
    tokio::time::pause();
    for _ in 0..3 {
        let e = m.buyer.unwrap(&unknown, enc, &ct).await.unwrap_err();
        assert_eq!(e.uri, uri::NO_SUCH_OBJECT);
    }
    assert_eq!(quotes(), 1, "quoted once within the TTL");
    tokio::time::advance(Duration::from_secs(31)).await;
    m.buyer.unwrap(&unknown, enc, &ct).await.unwrap_err();
    assert_eq!(quotes(), 2, "quoted again after the TTL");
}

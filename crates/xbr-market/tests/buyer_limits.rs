//! The buyer's limits on the in-process market: it pays only sellers and APIs on its allow-list
//! and within its maximum price (refused before any purchase intent is written), and it buys at
//! most `PURCHASES_IN_FLIGHT` distinct keys at once.

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use common::*;
use wamp_proto::{Dict, Value};
use xbr_market::error::uri;
use xbr_market::local::Handler;
use xbr_market::types::{Address, KeyId, U256};
use xbr_market::{AllowList, Buyer, BuyerStore, MemoryStore, PURCHASES_IN_FLIGHT};

fn payload() -> Value {
    let mut d = Dict::new();
    d.insert("counter".into(), Value::from(1u64));
    Value::Dict(d)
}

/// A started buyer of key 5 on a store of its own, with `allow` and `max_price`.
async fn buyer_with(m: &Market, allow: AllowList, max_price: U256) -> (Buyer, Arc<dyn BuyerStore>) {
    let store: Arc<dyn BuyerStore> = Arc::new(MemoryStore::new());
    let mut cfg = buyer_config(&m.kek, KEY5, max_price);
    cfg.allow = allow;
    let buyer = buyer_with_config(&m.bus, store.clone(), cfg);
    buyer.start().await.unwrap();
    (buyer, store)
}

fn calls(m: &Market, procedure: &str) -> usize {
    m.bus
        .records()
        .iter()
        .filter(|r| r.procedure.ends_with(procedure))
        .count()
}

/// The purchase was refused before money moved: no intent, no purchase, no `buy_key`, the
/// maker's view of the payment channel untouched.
fn assert_nothing_paid(m: &Market, store: &Arc<dyn BuyerStore>) {
    assert!(store.purchase_intents().unwrap().is_empty());
    assert!(store.purchases().unwrap().is_empty());
    assert_eq!(calls(m, ".buy_key"), 0);
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (1, xbr(500), U256::ZERO)
    );
}

#[tokio::test]
async fn a_seller_or_api_off_the_allow_list_is_refused_before_any_intent() {
    let m = started_market(xbr(35)).await;
    let (key_id, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload()).await.unwrap();
    let seller = key(KEY4).address();
    for allow in [
        AllowList {
            sellers: vec![Address::repeat_byte(0x42)],
            apis: vec![],
        },
        AllowList {
            sellers: vec![seller],
            apis: vec![hex16("00000000000000000000000000000001")],
        },
    ] {
        let (buyer, store) = buyer_with(&m, allow, xbr(100)).await;
        let e = buyer.unwrap(&key_id, enc, &ct).await.unwrap_err();
        assert_eq!(e.uri, uri::OFFER_NOT_ALLOWED, "{}", e.message);
        // Remembered: the next event under that key is not quoted again.
        let quotes = calls(&m, ".get_quote");
        let again = buyer.unwrap(&key_id, enc, &ct).await.unwrap_err();
        assert_eq!(again.uri, uri::OFFER_NOT_ALLOWED);
        assert_eq!(calls(&m, ".get_quote"), quotes);
        assert_nothing_paid(&m, &store);
    }
    let allowed = AllowList {
        sellers: vec![seller],
        apis: vec![hex16(API)],
    };
    let (buyer, _) = buyer_with(&m, allowed, xbr(100)).await;
    assert_eq!(buyer.unwrap(&key_id, enc, &ct).await.unwrap(), payload());
}

#[tokio::test]
async fn a_price_above_the_maximum_is_refused_before_any_intent() {
    let m = started_market(xbr(35)).await;
    let (key_id, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload()).await.unwrap();
    let (buyer, store) = buyer_with(&m, AllowList::default(), xbr(34)).await;
    let e = buyer.unwrap(&key_id, enc, &ct).await.unwrap_err();
    assert_eq!(e.uri, uri::MAX_PRICE_EXCEEDED);
    assert_nothing_paid(&m, &store);
}

#[tokio::test]
async fn purchases_in_flight_are_bounded_and_the_rest_shed() {
    let m = started_market(xbr(35)).await;
    let (_, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload()).await.unwrap();
    // Quotes never answer: every purchase stays in flight.
    let hang: Handler = Arc::new(|_, _| Box::pin(std::future::pending()));
    m.bus.register("xbr.marketmaker.get_quote", hang);
    m.buyer.start().await.unwrap();
    let keys: Vec<KeyId> = (0..=PURCHASES_IN_FLIGHT as u8)
        .map(|n| KeyId([n; 16]))
        .collect();
    // The first poll of an unwrap under an unknown key takes a slot and starts the purchase
    // (in a task of its own, holding the slot): each of these stays pending.
    let mut waiting = Vec::new();
    for key_id in &keys[..PURCHASES_IN_FLIGHT] {
        let mut unwrap = Box::pin(m.buyer.unwrap(key_id, enc, &ct));
        assert!(poll_once(unwrap.as_mut()).await.is_pending());
        waiting.push(unwrap);
    }
    let e = m
        .buyer
        .unwrap(&keys[PURCHASES_IN_FLIGHT], enc, &ct)
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::BUSY);
    assert!(e.message.contains("purchases in flight"), "{}", e.message);
    assert_eq!(m.buyer.purchases_shed(), 1);
    let shed_again = m
        .buyer
        .unwrap(&KeyId([0xf1; 16]), enc, &ct)
        .await
        .unwrap_err();
    assert_eq!(shed_again.uri, uri::BUSY);
    assert_eq!(m.buyer.purchases_shed(), 2);
    let counter = m.buyer.purchases_shed_counter();
    assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 2);
    // An event under a key already being bought waits for that purchase instead.
    let mut joined = Box::pin(m.buyer.unwrap(&keys[0], enc, &ct));
    assert!(poll_once(joined.as_mut()).await.is_pending());
    assert_eq!(m.buyer.purchases_shed(), 2);
    // Nothing was decided for the keys in flight.
    for w in &mut waiting {
        assert!(poll_once(w.as_mut()).await.is_pending());
    }
}

/// Polls `f` once.
async fn poll_once<F: Future + ?Sized>(mut f: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await
}

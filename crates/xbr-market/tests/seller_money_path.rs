//! The seller's side of the money path, in process: `sell` repeated after a lost reply, a
//! different request at a recorded seq, a sale the maker rolled back (voided at the re-sync,
//! its seq sold again; memory and SQLite stores), a re-sync racing a sale, the seller's own
//! price, and the failpoints around the sale's record.

mod common;

use std::sync::Arc;

use common::*;
use rand::rngs::OsRng;
use tokio::sync::Notify;
use wamp_proto::{Dict, Serializer, Value};
use xbr_core::sealedbox::BuyerReceiveKey;
use xbr_market::error::{ChannelPosition, uri};
use xbr_market::local::LocalBus;
use xbr_market::maker::Procedure;
use xbr_market::peer::{Caller, ProviderProcedure};
use xbr_market::sig;
use xbr_market::types::{KeyId, SellerSale, U256};
use xbr_market::wire::{ProviderCloseRequest, SellRequest};
use xbr_market::{SellerStore, SqliteStore};

fn payload(i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("counter".into(), Value::from(i));
    Value::Dict(d)
}

/// A started market whose seller minted (and offered) one key; returns that key's event.
async fn started(m: &Market) -> (KeyId, &'static str, Vec<u8>) {
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    m.seller
        .wrap(&hex16(API), "io.crossbar.example", &payload(0))
        .await
        .unwrap()
}

/// The maker's `sell` request for `key_id` at `(seq, balance)` of the paying channel.
fn sell_request(
    key_id: KeyId,
    buyer_pubkey: [u8; 32],
    seq: u64,
    amount: U256,
    balance: U256,
) -> SellRequest {
    let state = sig::off_chain(hex16(MARKET), hex16(PAYING), seq, balance);
    SellRequest {
        market_maker_adr: key(KEY6).address(),
        buyer_pubkey,
        key_id,
        channel_oid: hex16(PAYING),
        channel_seq: seq,
        amount,
        balance,
        signature: domain().sign(&key(KEY6), &state).unwrap(),
    }
}

fn position(seq: u64, remaining: U256) -> Option<ChannelPosition> {
    Some(ChannelPosition { seq, remaining })
}

#[tokio::test]
async fn the_same_sell_twice_gets_the_same_receipt_and_is_recorded_once() {
    let m = market(LocalBus::new(), xbr(35), 10, xbr(500)).await;
    let (key_id, _, _) = started(&m).await;
    let buyer = BuyerReceiveKey::generate(&mut OsRng);
    let req = sell_request(key_id, buyer.public(), 2, xbr(35), xbr(965));
    let first = m.seller.sell(req.clone()).await.unwrap();
    let again = m.seller.sell(req).await.unwrap();
    // The same receipt, the key sealed anew to the same buyer key.
    assert_eq!(
        (
            again.channel_seq,
            again.amount,
            again.balance,
            again.signature
        ),
        (
            first.channel_seq,
            first.amount,
            first.balance,
            first.signature
        )
    );
    assert_eq!(
        (again.key_id, again.delegate, again.buyer_pubkey),
        (first.key_id, first.delegate, first.buyer_pubkey)
    );
    let key = buyer.open(&first.sealed_key).unwrap();
    assert_eq!(buyer.open(&again.sealed_key).unwrap(), key);
    // Recorded once, the channel moved once.
    let sales = m.seller_store.seller_sales().unwrap();
    assert_eq!(sales.len(), 1);
    assert_eq!((sales[0].seq, sales[0].voided), (2, false));
    let ch = m.seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(965)));
    assert_eq!(m.seller.channel().unwrap(), ch);
}

#[tokio::test]
async fn another_request_at_a_recorded_seq_is_refused_with_the_sellers_position() {
    let bus = LocalBus::with_serializer(Serializer::Cbor);
    let m = market(bus.clone(), xbr(35), 10, xbr(500)).await;
    let (key_id, _, _) = started(&m).await;
    let sold = sell_request(key_id, [1; 32], 2, xbr(35), xbr(965));
    m.seller.sell(sold.clone()).await.unwrap();

    // Another buyer at the recorded seq, asked over the wire: the position travels back.
    let other = sell_request(key_id, [2; 32], 2, xbr(35), xbr(965));
    let e = bus
        .call(&m.seller.sell_uri(), other.to_args(), Dict::new())
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_SEQ);
    assert_eq!(e.position, position(2, xbr(965)));
    // The recorded request with another maker signature (an older seq's state) is not it
    // either; nor a seq before any sale, a seq ahead or a wrong balance: every refusal says
    // where the seller stands.
    let mut forged = sold.clone();
    forged.signature = sell_request(key_id, [1; 32], 1, xbr(35), xbr(965)).signature;
    let refusals = [
        (forged, uri::UNEXPECTED_CHANNEL_SEQ),
        (
            sell_request(key_id, [1; 32], 1, xbr(35), xbr(965)),
            uri::UNEXPECTED_CHANNEL_SEQ,
        ),
        (
            sell_request(key_id, [1; 32], 4, xbr(35), xbr(930)),
            uri::UNEXPECTED_CHANNEL_SEQ,
        ),
        (
            sell_request(key_id, [1; 32], 3, xbr(35), xbr(931)),
            uri::UNEXPECTED_CHANNEL_BALANCE,
        ),
    ];
    for (req, expected) in refusals {
        let seq = req.channel_seq;
        let e = m.seller.sell(req).await.unwrap_err();
        assert_eq!(e.uri, expected, "seq {seq}");
        assert_eq!(e.position, position(2, xbr(965)), "seq {seq}");
    }
    // A close at a state the seller does not stand at says the same.
    let close = ProviderCloseRequest {
        market_maker_adr: key(KEY6).address(),
        channel_oid: hex16(PAYING),
        channel_seq: 1,
        channel_balance: xbr(1000),
        channel_is_final: true,
        marketmaker_signature: sold.signature,
        close_at: 1,
    };
    let e = m.seller.close_channel(close).await.unwrap_err();
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_SEQ);
    assert_eq!(e.position, position(2, xbr(965)));
    assert_eq!(m.seller_store.seller_sales().unwrap().len(), 1);
    assert_eq!(m.seller.channel().unwrap().seq, 2);
}

#[tokio::test]
async fn a_sale_below_the_sellers_price_is_refused() {
    let m = market(LocalBus::new(), xbr(35), 10, xbr(500)).await;
    let (key_id, _, _) = started(&m).await;
    let e = m
        .seller
        .sell(sell_request(key_id, [1; 32], 2, xbr(34), xbr(966)))
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::INSUFFICIENT_AMOUNT);
    assert!(e.message.contains("below the price"), "{}", e.message);
    assert!(m.seller_store.seller_sales().unwrap().is_empty());
    assert_eq!(m.seller.channel().unwrap().seq, 1);
    // Above the price is the maker's business (the offer may say more).
    m.seller
        .sell(sell_request(key_id, [1; 32], 2, xbr(36), xbr(964)))
        .await
        .unwrap();
}

/// The seller records a sale, then fails its reply (failpoint): the maker rolls the sale back.
/// The re-sync adopts the maker's seq, voiding the seller's sale, and the seq sells again.
async fn rolled_back_sale_is_voided_and_sold_again(seller_store: Arc<dyn SellerStore>) {
    let bus = LocalBus::with_serializer(Serializer::Cbor);
    let mut m = market(bus.clone(), xbr(35), 10, xbr(500)).await;
    m.seller = seller_for(&bus, seller_store.clone(), &m.kek, api_spec(xbr(35), 10));
    bus.register_seller(&m.seller);
    let (k, enc, ct) = started(&m).await;

    let scenario = fail::FailScenario::setup();
    fail::cfg("seller::after_record", "1*return(error)").unwrap();
    assert!(m.buyer.unwrap(&k, enc, &ct).await.is_err());
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (1, xbr(1000), U256::ZERO)
    );
    let ch = seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(965)));

    let ch = m.seller.resync_channel().await.unwrap();
    assert_eq!((ch.seq, ch.balance), (1, xbr(1000)));
    let stored = seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((stored.seq, stored.balance), (1, xbr(1000)));
    let sales = seller_store.seller_sales().unwrap();
    assert_eq!(sales.len(), 1);
    assert!(sales[0].voided);

    // The next sale at seq 2 records fine; the old record stays, voided.
    assert_eq!(m.buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(0));
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (2, xbr(965), U256::ZERO)
    );
    let ch = seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(965)));
    let sales = seller_store.seller_sales().unwrap();
    let seqs: Vec<(u64, bool)> = sales.iter().map(|s| (s.seq, s.voided)).collect();
    assert_eq!(seqs, vec![(2, true), (2, false)]);
    scenario.teardown();
}

#[tokio::test]
async fn memory_seller_voids_a_rolled_back_sale_and_sells_its_seq_again() {
    rolled_back_sale_is_voided_and_sold_again(Arc::new(xbr_market::MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_seller_voids_a_rolled_back_sale_and_sells_its_seq_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("seller.db")).unwrap();
    rolled_back_sale_is_voided_and_sold_again(Arc::new(store)).await;
}

#[tokio::test]
async fn a_failure_before_the_record_leaves_the_seller_untouched() {
    let m = market(LocalBus::new(), xbr(35), 10, xbr(500)).await;
    let (k, enc, ct) = started(&m).await;
    let scenario = fail::FailScenario::setup();
    fail::cfg("seller::before_record", "1*return(error)").unwrap();
    assert!(m.buyer.unwrap(&k, enc, &ct).await.is_err());
    assert!(m.seller_store.seller_sales().unwrap().is_empty());
    assert_eq!(m.seller.channel().unwrap().seq, 1);
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (1, xbr(1000), U256::ZERO)
    );
    // Nothing to re-sync: the next try sells.
    assert_eq!(m.buyer.unwrap(&k, enc, &ct).await.unwrap(), payload(0));
    let sales: Vec<SellerSale> = m.seller_store.seller_sales().unwrap();
    assert_eq!(sales.len(), 1);
    scenario.teardown();
}

/// Holds the seller's read of the maker's paying-channel balance (after the maker answered)
/// until released, and tells when the maker's `sell` reaches the seller.
#[derive(Default)]
struct Gate {
    balance_read: Notify,
    release: Notify,
    sell_arrived: Notify,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_during_a_sale_cannot_adopt_a_seq_in_between() {
    let bus = LocalBus::new();
    let m = market(bus.clone(), xbr(35), 10, xbr(500)).await;
    let (k, enc, ct) = started(&m).await;

    let gate = Arc::new(Gate::default());
    let (maker, g) = (m.maker.clone(), gate.clone());
    bus.register(
        Procedure::GetPayingChannelBalance.uri(),
        Arc::new(move |args, kwargs| {
            let (maker, g) = (maker.clone(), g.clone());
            Box::pin(async move {
                let out = maker
                    .dispatch(Procedure::GetPayingChannelBalance, &args, &kwargs, 0)
                    .await;
                g.balance_read.notify_one();
                g.release.notified().await;
                out
            })
        }),
    );
    let (seller, g) = (m.seller.clone(), gate.clone());
    bus.register(
        m.seller.sell_uri(),
        Arc::new(move |args, _| {
            let (seller, g) = (seller.clone(), g.clone());
            Box::pin(async move {
                g.sell_arrived.notify_one();
                seller.dispatch(ProviderProcedure::Sell, &args).await
            })
        }),
    );

    // The re-sync has the maker's view (seq 1, nothing in flight) and holds the sale lock.
    let seller = m.seller.clone();
    let resync = tokio::spawn(async move { seller.resync_channel().await });
    gate.balance_read.notified().await;
    // A sale starts meanwhile and reaches the seller, which makes it wait.
    let buyer = m.buyer.clone();
    let buy = tokio::spawn(async move { buyer.unwrap(&k, enc, &ct).await });
    gate.sell_arrived.notified().await;
    assert_eq!(m.seller.channel().unwrap().seq, 1);
    gate.release.notify_one();

    let adopted = resync.await.unwrap().unwrap();
    assert_eq!(adopted.seq, 1);
    assert_eq!(buy.await.unwrap().unwrap(), payload(0));
    // The seller, its store and the maker agree: the sale counted once, nothing adopted over it.
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (2, xbr(965), U256::ZERO)
    );
    let stored = m.seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((stored.seq, stored.balance), (2, xbr(965)));
    assert_eq!(m.seller.channel().unwrap(), stored);
    let sales = m.seller_store.seller_sales().unwrap();
    assert_eq!(sales.len(), 1);
    assert!(!sales[0].voided);
    // A later re-sync (the gate now lets reads through at once) keeps that state.
    gate.release.notify_one();
    let again = m.seller.resync_channel().await.unwrap();
    assert_eq!(again, stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_syncs_and_sales_run_together_end_consistent() {
    let m = market(LocalBus::new(), xbr(35), 1, xbr(500)).await;
    started(&m).await;
    let n = 12u64;
    for i in 1..=n {
        // Count rotation 1: every event has a key of its own, so every event is a sale.
        let (k, enc, ct) = m
            .seller
            .wrap(&hex16(API), "io.crossbar.example", &payload(i))
            .await
            .unwrap();
        let (resynced, bought) =
            tokio::join!(m.seller.resync_channel(), m.buyer.unwrap(&k, enc, &ct));
        resynced.unwrap();
        assert_eq!(bought.unwrap(), payload(i));
    }
    let (seq, remaining, inflight) = maker_view(&m.maker_store, PAYING);
    assert_eq!(
        (seq, remaining, inflight),
        (1 + n, xbr(1000) - xbr(35) * U256::from(n), U256::ZERO)
    );
    let stored = m.seller_store.seller_channel().unwrap().unwrap();
    assert_eq!((stored.seq, stored.balance), (seq, remaining));
    assert_eq!(m.seller.channel().unwrap(), stored);
    let sales = m.seller_store.seller_sales().unwrap();
    assert_eq!(sales.len() as u64, n);
    assert!(sales.iter().all(|s| !s.voided));
}

#[tokio::test]
async fn a_dropped_sell_still_records_and_the_resent_sell_gets_its_receipt() {
    let m = market(LocalBus::new(), xbr(35), 10, xbr(500)).await;
    let (key_id, _, _) = started(&m).await;
    let recorded = Arc::new(Notify::new());
    let r = recorded.clone();
    m.seller.set_sale_hook(Arc::new(move |_| r.notify_one()));
    let scenario = fail::FailScenario::setup();
    // The sale stalls before its record; the maker gives up waiting and drops the call.
    fail::cfg("seller::before_record", "1*return(delay=200)").unwrap();
    let req = sell_request(key_id, [1; 32], 2, xbr(35), xbr(965));
    let dropped = tokio::time::timeout(
        std::time::Duration::from_millis(1),
        m.seller.sell(req.clone()),
    )
    .await;
    drop(dropped);
    // The sale goes on without its caller.
    recorded.notified().await;
    let ch = m.seller.channel().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(965)));
    // The maker re-sends the identical request: the recorded sale's receipt.
    let receipt = m.seller.sell(req).await.unwrap();
    assert_eq!((receipt.channel_seq, receipt.balance), (2, xbr(965)));
    assert_eq!(m.seller_store.seller_sales().unwrap().len(), 1);
    scenario.teardown();
}

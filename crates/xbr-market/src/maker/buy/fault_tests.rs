//! `buy_key` under faults: the work dropped at every suspension, lost replies, a seller that
//! does not answer, failpoints at every step, the request handler dropped mid-sale. After
//! recovery nothing is in flight, the seller's view of the paying channel is the maker's, and a
//! retried request gets its key without paying twice.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::super::testing::*;
use super::RecoveryReport;
use crate::error::{ChannelPosition, MarketError, uri};
use crate::types::{SaleStatus, U256};
use crate::wire::BuyKeyRequest;

fn n(v: u64) -> U256 {
    U256::from(v)
}

/// The payment channel's position after one sale at 35 out of 100.
const AFTER_ONE_SALE: Option<ChannelPosition> = Some(ChannelPosition {
    seq: 2,
    remaining: U256::from_limbs([65, 0, 0, 0]),
});

fn timeout() -> MarketError {
    MarketError::from_uri("wamp.error.timeout", "the seller did not answer")
}

/// Completes like `inner`, or gives up (dropping `inner`) when it is about to suspend for the
/// `k + 1`-th time.
struct DropAfter<F: Future> {
    inner: Option<Pin<Box<F>>>,
    suspensions_left: usize,
}

impl<F: Future> DropAfter<F> {
    fn new(inner: F, k: usize) -> Self {
        Self {
            inner: Some(Box::pin(inner)),
            suspensions_left: k,
        }
    }
}

impl<F: Future> Future for DropAfter<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if this.suspensions_left == 0 => {
                this.inner = None;
                Poll::Ready(None)
            }
            Poll::Pending => {
                this.suspensions_left -= 1;
                Poll::Pending
            }
        }
    }
}

impl Fixture {
    /// The sales' statuses, oldest first.
    fn statuses(&self) -> Vec<SaleStatus> {
        self.store
            .sales()
            .unwrap()
            .iter()
            .map(|s| s.status)
            .collect()
    }

    /// Nothing in flight on either channel, every sale resolved, and the seller's view of the
    /// paying channel equal to the maker's.
    fn assert_at_rest(&self) {
        assert_eq!(self.view(&PAYMENT).2, n(0), "payment channel in flight");
        assert_eq!(self.view(&PAYING).2, n(0), "paying channel in flight");
        assert!(
            self.statuses().iter().all(|s| !s.is_unresolved()),
            "{:?}",
            self.statuses()
        );
        let (seq, remaining, _) = self.view(&PAYING);
        assert_eq!(self.seller.position(), (seq, remaining));
    }

    /// `req` once more gets its key; the buyer was charged exactly once (100 − 35).
    async fn assert_retry_charged_once(&self, req: BuyKeyRequest) {
        let receipt = self.maker.buy_key(req).await.unwrap();
        assert_eq!(receipt.sealed_key, vec![0x5e; 80]);
        assert_eq!((receipt.channel_seq, receipt.remaining), (2, n(65)));
        assert_eq!(self.view(&PAYMENT), (2, n(65), n(0)));
        assert_eq!(self.view(&PAYING), (2, n(965), n(0)));
        assert_eq!(self.seller.position(), (2, n(965)));
        let completed = self
            .statuses()
            .into_iter()
            .filter(|s| *s == SaleStatus::Completed);
        assert_eq!(completed.count(), 1);
    }

    fn sells_sent(&self) -> usize {
        let calls = self.seller.calls.lock().unwrap();
        calls.iter().filter(|c| c.ends_with(".sell")).count()
    }
}

/// Drops the sale's work after k suspensions, for every k until it completes; recovery then
/// leaves nothing in flight, and the retried request is served without a second charge. One
/// blocking thread runs the store calls in order, so a store call already handed to it when the
/// work was dropped has finished once a later one has.
#[test]
fn the_sale_dropped_at_every_suspension_is_recovered_and_never_charged_twice() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        for k in 0.. {
            assert!(k < 100, "the sale never completed");
            let f = Fixture::new(100, 1000, 35).await;
            let req = f.request();
            let out = DropAfter::new(f.maker.sell_key(req.clone()), k).await;
            tokio::task::spawn_blocking(|| ()).await.unwrap();
            f.maker.recover_sales().await.unwrap();
            f.assert_at_rest();
            f.assert_retry_charged_once(req).await;
            if let Some(result) = out {
                result.unwrap();
                // It was dropped at each of its store calls before (reserve, sell, settle …).
                assert!(k >= 8, "only {k} suspensions");
                break;
            }
        }
    });
}

#[tokio::test]
async fn a_lost_reply_is_answered_again_and_another_request_at_its_seq_is_refused() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = f.request();
    let first = f.maker.buy_key(req.clone()).await.unwrap();
    let again = f.maker.buy_key(req.clone()).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(f.sells_sent(), 1);
    f.assert_retry_charged_once(req.clone()).await;

    let mut other = req;
    other.buyer_pubkey = [0x2d; 32];
    let e = f.maker.buy_key(other).await.unwrap_err();
    assert_eq!(e.uri, uri::UNEXPECTED_CHANNEL_SEQ);
    assert_eq!(e.position, AFTER_ONE_SALE);
    assert_eq!(f.view(&PAYMENT), (2, n(65), n(0)));
}

/// The seller does not answer: the sale stays in flight and the buyer is told to retry.
async fn pending_sale(f: &Fixture, script: SellerScript) -> BuyKeyRequest {
    *f.seller.script.lock().unwrap() = script;
    let req = f.request();
    let e = f.maker.buy_key(req.clone()).await.unwrap_err();
    assert_eq!(e.uri, uri::SALE_PENDING);
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    assert_eq!(f.view(&PAYMENT), (2, n(65), n(35)));
    assert_eq!(f.view(&PAYING), (2, n(965), n(35)));
    req
}

fn set_script(f: &Fixture, script: SellerScript) {
    *f.seller.script.lock().unwrap() = script;
}

#[tokio::test]
async fn an_unanswered_sale_stays_pending_and_completes_when_the_seller_is_back() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::Fail(timeout())).await;
    // Retried while the seller is still silent: still pending, nothing new reserved.
    let e = f.maker.buy_key(req.clone()).await.unwrap_err();
    assert_eq!(e.uri, uri::SALE_PENDING);
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    // Recovery sends the identical sell again when the seller is back.
    set_script(&f, SellerScript::Honest);
    let report = f.maker.recover_sales().await.unwrap();
    assert_eq!(
        report,
        RecoveryReport {
            completed: 1,
            ..Default::default()
        }
    );
    f.assert_at_rest();
    assert!(f.store.sales().unwrap()[0].recovered);
    f.assert_retry_charged_once(req).await;
}

#[tokio::test]
async fn a_sale_the_seller_recorded_but_whose_reply_was_lost_completes_with_its_key() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::RecordThenFail(timeout())).await;
    assert_eq!(f.seller.position(), (2, n(965)));
    set_script(&f, SellerScript::Honest);
    // The retried request resolves the sale first, then gets its receipt.
    f.assert_retry_charged_once(req).await;
    f.assert_at_rest();
}

#[tokio::test]
async fn a_pending_sale_the_seller_never_recorded_is_rolled_back() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::Fail(timeout())).await;
    let never =
        MarketError::new(uri::UNEXPECTED_CHANNEL_SEQ, "not the next seq").with_position(1, n(1000));
    set_script(&f, SellerScript::Fail(never));
    let report = f.maker.recover_sales().await.unwrap();
    assert_eq!(report.rolled_back, 1);
    assert_eq!(f.statuses(), [SaleStatus::Failed]);
    assert!(f.store.sales().unwrap()[0].recovered);
    assert_eq!(f.view(&PAYMENT), (1, n(100), n(0)));
    f.assert_at_rest();
    // The seq is free again: the same request now buys the key.
    set_script(&f, SellerScript::Honest);
    f.assert_retry_charged_once(req).await;
}

#[tokio::test]
async fn a_resent_sell_the_router_cannot_route_keeps_the_sale_pending() {
    let f = Fixture::new(100, 1000, 35).await;
    pending_sale(&f, SellerScript::Fail(timeout())).await;
    let unregistered = MarketError::new(uri::NO_SUCH_PROCEDURE, "no callee");
    set_script(&f, SellerScript::Fail(unregistered));
    let report = f.maker.recover_sales().await.unwrap();
    assert_eq!(report.pending, 1);
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    let health = f.maker.unresolved_sales_health().await.unwrap();
    assert_eq!(health.count, 1);
    assert!(health.oldest_age.is_some());
    // The sweeper waits before trying that sale again; recovery at start does not.
    assert_eq!(
        f.maker.sweep_sales(Duration::ZERO).await.unwrap(),
        RecoveryReport::default()
    );
    let sells = f.sells_sent();
    set_script(&f, SellerScript::Honest);
    assert_eq!(f.maker.recover_sales().await.unwrap().completed, 1);
    assert_eq!(f.sells_sent(), sells + 1);
    assert_eq!(f.maker.unresolved_sales_health().await.unwrap().count, 0);
}

#[tokio::test]
async fn a_busy_seller_answering_a_resent_sell_keeps_the_sale_pending() {
    let f = Fixture::new(100, 1000, 35).await;
    pending_sale(&f, SellerScript::Fail(timeout())).await;
    set_script(
        &f,
        SellerScript::Fail(MarketError::new(uri::BUSY, "too many seller tasks running")),
    );
    assert_eq!(f.maker.recover_sales().await.unwrap().pending, 1);
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    set_script(&f, SellerScript::Honest);
    assert_eq!(f.maker.recover_sales().await.unwrap().completed, 1);
    f.assert_at_rest();
}

#[tokio::test]
async fn the_sweeper_resolves_old_unresolved_sales_and_leaves_busy_channels_alone() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::Fail(timeout())).await;
    set_script(&f, SellerScript::Honest);
    let young = f
        .maker
        .sweep_sales(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(young, RecoveryReport::default());
    {
        let lock = f.maker.lock_for(&PAYMENT);
        let _busy = lock.lock().await;
        assert_eq!(
            f.maker.sweep_sales(Duration::ZERO).await.unwrap().pending,
            1
        );
    }
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    assert_eq!(
        f.maker.sweep_sales(Duration::ZERO).await.unwrap().completed,
        1
    );
    f.assert_at_rest();
    f.assert_retry_charged_once(req).await;
}

#[tokio::test]
async fn a_reference_seller_refusing_the_resent_sell_it_recorded_completes_the_money_side() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::RecordThenFail(timeout())).await;
    let recorded = MarketError::new(uri::UNEXPECTED_CHANNEL_SEQ, "seq does not follow");
    set_script(&f, SellerScript::Fail(recorded));
    assert_eq!(f.maker.recover_sales().await.unwrap().completed, 1);
    f.assert_at_rest();
    assert_eq!(f.view(&PAYMENT), (2, n(65), n(0)));
    // No sealed key to deliver: the buyer learns where its channel stands.
    let e = f.maker.buy_key(req).await.unwrap_err();
    assert_eq!(e.uri, uri::TRANSACTION_FAILED);
    assert_eq!(e.position, AFTER_ONE_SALE);
}

#[tokio::test]
async fn every_failpoint_returning_an_error_leaves_nothing_in_flight_after_recovery() {
    let _scenario = fail::FailScenario::setup();
    for name in [
        "maker::after_reserve",
        "maker::before_sell",
        "maker::after_sell",
        "maker::after_seller_signed",
        "maker::after_done",
    ] {
        let f = Fixture::new(100, 1000, 35).await;
        fail::cfg(name, "1*return(error)").unwrap();
        let req = f.request();
        let e = f.maker.buy_key(req.clone()).await.unwrap_err();
        assert_eq!(e.uri, uri::RUNTIME_ERROR, "{name}");
        let sells = f.sells_sent();
        f.maker.recover_sales().await.unwrap();
        f.assert_at_rest();
        if name == "maker::after_seller_signed" {
            assert_eq!(
                f.sells_sent(),
                sells,
                "a seller-signed sale is finished offline"
            );
        }
        f.assert_retry_charged_once(req).await;
        fail::remove(name);
    }
}

#[tokio::test]
async fn the_sale_completes_when_its_request_handler_is_dropped() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = f.request();
    // The handler dropped at its first suspension (as a caller's cancel or timeout does).
    let answered = DropAfter::new(f.maker.buy_key(req.clone()), 0).await;
    assert!(answered.is_none(), "the handler was not dropped mid-sale");
    f.maker.sales_settled().await;
    assert_eq!(f.statuses(), [SaleStatus::Completed]);
    f.assert_at_rest();
    f.assert_retry_charged_once(req).await;
}

#[tokio::test]
async fn buy_key_is_busy_when_every_sale_slot_is_taken() {
    let f = Fixture::new(100, 1000, 35).await;
    let all = u32::try_from(super::SALES_IN_FLIGHT).unwrap();
    let taken = Arc::clone(&f.maker.sale_slots)
        .try_acquire_many_owned(all)
        .unwrap();
    let e = f.maker.buy_key(f.request()).await.unwrap_err();
    assert_eq!(e.uri, uri::BUSY);
    assert!(f.statuses().is_empty());
    drop(taken);
    f.maker.buy_key(f.request()).await.unwrap();
}

/// A purchase naming the seller's paying channel while that channel has an unresolved sale: the
/// task holds the named channel's lock and finds the sale by it, so it must not wait for that
/// sale's paying-channel lock (the same lock: it would wait forever, wedging the channel and a
/// sale slot). It is refused like any request naming a channel that is not a payment channel,
/// and the channel stays usable.
#[tokio::test(start_paused = true)]
async fn a_purchase_naming_a_paying_channel_with_an_unresolved_sale_is_refused_not_wedged() {
    let f = Fixture::new(100, 1000, 35).await;
    let req = pending_sale(&f, SellerScript::Fail(timeout())).await;
    let mut on_paying = f.request();
    on_paying.channel_oid = PAYING;
    Fixture::resign(&mut on_paying);
    let answer = tokio::time::timeout(Duration::from_secs(60), f.maker.buy_key(on_paying))
        .await
        .expect("buy_key on the paying channel never answered");
    assert_eq!(answer.unwrap_err().uri, uri::NO_SUCH_OBJECT);
    assert_eq!(f.statuses(), [SaleStatus::Inflight]);
    // Neither channel's lock is held: the buyer's retry resolves the sale and gets its key.
    set_script(&f, SellerScript::Honest);
    let retry = tokio::time::timeout(Duration::from_secs(60), f.maker.recover_sales())
        .await
        .expect("recovery never finished");
    assert_eq!(retry.unwrap().completed, 1);
    f.assert_retry_charged_once(req).await;
    f.assert_at_rest();
}

//! The seller's rotation timer on an injected clock: on a paused tokio runtime an interval
//! rotation happens exactly when it is due, with no wall-clock wait.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{KEY4, KEY6, api_spec, kek, key, xbr};
use xbr_core::keyseries::RotationPolicy;
use xbr_market::local::LocalBus;
use xbr_market::peer::{Caller, MakerClient, Publisher};
use xbr_market::seller::TokioClock;
use xbr_market::{ApiSpec, MemoryStore, Seller, SellerConfig, SellerStore};

const INTERVAL: Duration = Duration::from_secs(60);

#[tokio::test(start_paused = true)]
async fn interval_rotation_happens_when_due_on_a_paused_clock() {
    let m = common::market(LocalBus::new(), xbr(1), 100, xbr(500)).await;
    let mut cfg = SellerConfig::new(key(KEY6).address(), key(KEY4), kek(&m.kek));
    cfg.clock = Arc::new(TokioClock::new());
    let caller: Arc<dyn Caller> = m.bus.clone();
    let events: Arc<dyn Publisher> = m.bus.clone();
    let store: Arc<dyn SellerStore> = Arc::new(MemoryStore::new());
    let seller = Seller::new(cfg, store, MakerClient::new(caller), events);
    seller
        .add(ApiSpec {
            policy: RotationPolicy::Interval(INTERVAL),
            ..api_spec(xbr(1), 1)
        })
        .unwrap();
    let (tx, mut rotations) = tokio::sync::mpsc::unbounded_channel();
    seller.set_rotation_hook(Arc::new(move |_, key_id, offered| {
        let _ = tx.send((*key_id, offered));
    }));

    seller.start().await.unwrap();
    let (first, offered) = rotations.recv().await.unwrap();
    assert!(offered, "the first key is offered on start");
    let started = tokio::time::Instant::now();
    let due = seller.api_keys()[0].next_rotation_at.unwrap();

    // Nothing else is pending: the paused clock jumps to the rotation timer.
    let (second, offered) = rotations.recv().await.unwrap();
    assert_ne!(second, first);
    assert!(offered);
    assert!(
        started.elapsed() >= INTERVAL,
        "rotated before it was due: {:?}",
        started.elapsed()
    );
    let keys = &seller.api_keys()[0];
    assert_eq!(keys.current_key_id, Some(second));
    assert_eq!(keys.next_rotation_at, Some(due + INTERVAL));
    seller.stop();
}

//! The close worker's transaction versions against the fake chain: persisted before the
//! broadcast (a restart sends the same bytes, never a second transaction), replaced with the
//! same nonce and higher fees when stuck, any version mined ends it, a new nonce only once
//! another transaction took ours; and both stores keeping the versions append-only.

use std::sync::Arc;
use std::time::Duration;

use super::tests::{
    channel_state, down_in_first_round, intent, maker, quick, sqlite, stored, write_intent,
};
use super::*;
use crate::maker::testing::chain::{FakeChain, chain_maker};
use crate::store::{MemoryStore, SqliteStore, StoreError};
use crate::types::{ChannelState, CloseState, CloseTx};

/// Replace a pending close at once, at most `max` times.
fn eager(chain: &FakeChain, max: u32) {
    *chain.replacement.lock().unwrap() = Some(Replacement {
        replace_after: Duration::ZERO,
        max_replacements: max,
    });
}

fn fees(c: &CloseIntent) -> Vec<(u64, u128, u128)> {
    c.versions
        .iter()
        .map(|v| (v.nonce, v.max_fee_per_gas, v.max_priority_fee_per_gas))
        .collect()
}

#[tokio::test]
async fn failpoint_after_persist_the_restart_broadcasts_the_persisted_transaction_and_signs_no_other()
 {
    let scenario = fail::FailScenario::setup();
    // Signed and persisted; the maker goes down before the broadcast.
    let (chain, store) = down_in_first_round("close::after_persist", false).await;
    let persisted = stored(&store);
    assert_eq!(
        (persisted.state, persisted.submitted_at, persisted.attempts),
        (CloseState::Submitted, None, 1)
    );
    assert_eq!(persisted.versions.len(), 1);
    let hash = persisted.versions[0].hash;
    assert_eq!(persisted.tx_hash, Some(hash));
    assert!(chain.sent.lock().unwrap().is_empty());

    let m = chain_maker(&chain, store.clone()).with_close_config(quick());
    m.close_round().await.unwrap();
    assert_eq!(*chain.sent_hashes.lock().unwrap(), [hash]);
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(
        (mined.state, mined.tx_hash, mined.attempts),
        (CloseState::Mined, Some(hash), 1)
    );
    m.scan_from_cursor().await.unwrap();
    assert_eq!(stored(&store).state, CloseState::Final);
    assert_eq!(channel_state(&store), ChannelState::Closed);
    // One signature, one transaction.
    assert_eq!(
        (chain.signatures(), chain.sent.lock().unwrap().len()),
        (1, 1)
    );
    scenario.teardown();
}

#[tokio::test]
async fn a_stuck_close_is_replaced_with_its_nonce_and_higher_fees_up_to_the_limit_and_any_version_may_be_mined()
 {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, true);
    eager(&chain, 2);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    write_intent(&store, true);
    for _ in 0..4 {
        m.close_round().await.unwrap();
    }
    let c = stored(&store);
    // The first version and two replacements, each persisted; the fourth round only
    // re-broadcasts the latest.
    assert_eq!(fees(&c), [(0, 100, 10), (0, 120, 12), (0, 144, 14)]);
    assert_eq!((c.state, c.attempts), (CloseState::Submitted, 3));
    assert_eq!(c.tx_hash, Some(c.versions[2].hash));
    let hashes: Vec<[u8; 32]> = c.versions.iter().map(|v| v.hash).collect();
    assert_eq!(*chain.sent_hashes.lock().unwrap(), hashes);

    // Another node had the first version and mined it.
    chain.mine_hash(hashes[0]);
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(
        (mined.state, mined.tx_hash, mined.mined_block),
        (CloseState::Mined, Some(hashes[0]), Some(11))
    );
    assert_eq!(channel_state(&store), ChannelState::Closed);
    assert_eq!(chain.signatures(), 3);
}

#[tokio::test]
async fn at_the_fee_cap_the_latest_version_is_broadcast_again_not_replaced() {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, true);
    eager(&chain, 10);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    write_intent(&store, true);
    for _ in 0..7 {
        m.close_round().await.unwrap();
    }
    let c = stored(&store);
    let caps: Vec<u128> = fees(&c).iter().map(|f| f.1).collect();
    assert_eq!(
        caps,
        [100, 120, 144, 172],
        "the next bump would pass the cap"
    );
    chain.mine_pending();
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(
        (mined.state, mined.tx_hash),
        (CloseState::Mined, Some(c.versions[3].hash))
    );
}

#[tokio::test]
async fn a_new_nonce_is_signed_only_once_another_transaction_took_the_closes() {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, true);
    let store = sqlite();
    // Unknown transactions are replaced at once: the nonce rule decides first.
    let m = maker(
        &chain,
        &store,
        CloseConfig {
            resubmit_after: Duration::from_secs(3600),
            ..quick()
        },
    )
    .await;
    write_intent(&store, true);
    m.close_round().await.unwrap();
    let first = stored(&store);
    // The node lost it, but the nonce is free: nothing new is signed.
    chain.forget(first.versions[0].hash);
    m.close_round().await.unwrap();
    assert_eq!((chain.signatures(), stored(&store)), (1, first.clone()));

    // Another transaction of the maker's key is mined with that nonce.
    chain.take_nonce(0);
    m.close_round().await.unwrap();
    let again = stored(&store);
    assert_eq!(fees(&again), [(0, 100, 10), (1, 100, 10)]);
    assert_eq!((again.state, again.attempts), (CloseState::Submitted, 2));
    chain.mine_pending();
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(
        (mined.state, mined.tx_hash),
        (CloseState::Mined, Some(again.versions[1].hash))
    );
}

fn version(n: u8, nonce: u64) -> CloseTx {
    CloseTx {
        hash: [n; 32],
        nonce,
        max_fee_per_gas: u128::MAX - u128::from(n),
        max_priority_fee_per_gas: u128::from(n),
        raw: vec![n; 3 + usize::from(n)],
    }
}

#[tokio::test]
async fn both_stores_keep_every_version_of_the_close_transaction_append_only() {
    let chain = FakeChain::at(0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maker.db");
    let memory: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let file: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&path).unwrap());
    for store in [memory, file] {
        maker(&chain, &store, quick()).await;
        write_intent(&store, true);
        let mut first = intent(true);
        first.state = CloseState::Submitted;
        first.tx_hash = Some([1; 32]);
        first.versions = vec![version(1, 4)];
        store
            .save_close_progress(&first, CloseState::Signed)
            .unwrap();
        let mut second = first.clone();
        second.versions.push(version(2, 4));
        second.tx_hash = Some([2; 32]);
        second.submitted_at = Some(5);
        store
            .save_close_progress(&second, CloseState::Submitted)
            .unwrap();
        assert_eq!(stored(&store), second);
        assert_eq!(store.close_intents().unwrap(), [second.clone()]);

        // A stored version never changes or disappears.
        let mut changed = second.clone();
        changed.versions[0].max_fee_per_gas = 1;
        let mut dropped = second.clone();
        dropped.versions.remove(0);
        for bad in [changed, dropped] {
            assert!(matches!(
                store.save_close_progress(&bad, CloseState::Submitted),
                Err(StoreError::Conflict(_))
            ));
        }
        assert_eq!(stored(&store), second);
    }
    // The file keeps them across a restart.
    let reopened: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(stored(&reopened).versions, [version(1, 4), version(2, 4)]);
}

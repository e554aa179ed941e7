//! The close worker against the fake chain: a chain that is down, a crash after the intent, a
//! lost receipt, a revert, a reorg, and the failpoints of each step; the stores' close intents.
//! Replacements, nonces and the transaction versions: `version_tests`.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::maker::testing::chain::{FakeChain, chain_maker};
use crate::maker::testing::{BUYER_KEY, PAYMENT, chain_channel, final_close, key};
use crate::store::{MemoryStore, SqliteStore, StoreError};
use crate::types::{ChannelClose, ChannelState, ChannelType, CloseState, Signature, U256};
use crate::wire::CloseChannelRequest;

const AMOUNT: u64 = 100;
/// Long enough for anything this test machine does; the waits end on the condition.
const PATIENCE: Duration = Duration::from_secs(30);

/// Quick retries, no reply wait, no resubmission.
pub(super) fn quick() -> CloseConfig {
    CloseConfig {
        retry_min: Duration::from_millis(5),
        retry_max: Duration::from_millis(20),
        poll: Duration::from_millis(5),
        resubmit_after: Duration::from_secs(3600),
        reply_wait: Duration::ZERO,
    }
}

/// A maker on `chain` over `store` with the buyer's payment channel of [`AMOUNT`] mirrored.
pub(super) async fn maker(
    chain: &Arc<FakeChain>,
    store: &Arc<dyn MakerStore>,
    cfg: CloseConfig,
) -> MarketMaker {
    let m = chain_maker(chain, store.clone()).with_close_config(cfg);
    let c = chain_channel(
        PAYMENT,
        ChannelType::Payment,
        key(BUYER_KEY).address(),
        U256::from(AMOUNT),
    );
    m.mirror_channel(&c).await.unwrap();
    m
}

/// The buyer's final close of its untouched payment channel.
fn close_request() -> CloseChannelRequest {
    final_close(AMOUNT)
}

/// A signed close intent of the payment channel written as the handler writes it (the worker
/// is not started: the tests run its rounds).
pub(super) fn write_intent(store: &Arc<dyn MakerStore>, is_final: bool) {
    let close = ChannelClose {
        seq: 1,
        balance: U256::from(AMOUNT),
        is_final,
        delegate_signature: Signature([1; 65]),
        marketmaker_signature: Some(Signature([2; 65])),
        closing_at: 1,
        closed_tx: None,
    };
    store.begin_close(&close, &intent(is_final)).unwrap();
}

pub(super) fn intent(is_final: bool) -> CloseIntent {
    CloseIntent {
        channel_oid: PAYMENT,
        close_at: 7,
        seq: 1,
        balance: U256::from(AMOUNT),
        is_final,
        delegate_signature: Signature([1; 65]),
        marketmaker_signature: Signature([2; 65]),
        created: 1,
        state: CloseState::Signed,
        tx_hash: None,
        submitted_at: None,
        attempts: 0,
        mined_block: None,
        failure: None,
        versions: Vec::new(),
    }
}

pub(super) fn stored(store: &Arc<dyn MakerStore>) -> CloseIntent {
    store.close_intent(&PAYMENT).unwrap().unwrap()
}

pub(super) fn channel_state(store: &Arc<dyn MakerStore>) -> ChannelState {
    store.channel(&PAYMENT).unwrap().unwrap().state
}

async fn wait_for(m: &MarketMaker, state: CloseState) -> CloseIntent {
    let c = m
        .await_close(PAYMENT, PATIENCE, |c| c.state == state)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.state, state, "{c:?}");
    c
}

/// A maker that goes down in its first close round at `failpoint` (an error there), on a fresh
/// chain (`hold`: nothing mined until asked) and SQLite store with the intent written.
pub(super) async fn down_in_first_round(
    failpoint: &str,
    hold: bool,
) -> (Arc<FakeChain>, Arc<dyn MakerStore>) {
    fail::cfg(failpoint, "1*return(error)").unwrap();
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, hold);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    write_intent(&store, true);
    let r = m.close_round().await.unwrap();
    assert_eq!(r.errors, 1);
    (chain, store)
}

pub(super) fn sqlite() -> Arc<dyn MakerStore> {
    Arc::new(SqliteStore::open_in_memory().unwrap())
}

#[tokio::test]
async fn a_close_made_while_the_chain_is_down_is_submitted_once_it_is_up_and_final_after_the_log() {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.down, true);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    // The reply comes once the intent is persisted; nothing is on chain yet.
    let r = m.close_channel(close_request()).await.unwrap();
    assert_eq!(
        (r.transaction, r.state),
        ([0; 32], ChannelState::Closing as u64)
    );
    assert_eq!(stored(&store).state, CloseState::Signed);
    assert_eq!(channel_state(&store), ChannelState::Closing);
    assert!(chain.sent.lock().unwrap().is_empty());

    FakeChain::set(&chain.down, false);
    let mined = wait_for(&m, CloseState::Mined).await;
    assert_eq!((mined.attempts, mined.mined_block), (1, Some(11)));
    assert_eq!(chain.sent.lock().unwrap().len(), 1);
    let ch = store.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(ch.state, ChannelState::Closed);
    assert_eq!(ch.close.unwrap().closed_tx, mined.tx_hash);

    m.scan_from_cursor().await.unwrap();
    let done = wait_for(&m, CloseState::Final).await;
    assert_eq!(done.tx_hash, mined.tx_hash);
    assert_eq!(chain.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_reply_carries_the_mined_transaction_when_the_chain_is_quick() {
    let chain = FakeChain::at(10);
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let cfg = CloseConfig {
        reply_wait: PATIENCE,
        ..quick()
    };
    let m = maker(&chain, &store, cfg).await;
    let r = m.close_channel(close_request()).await.unwrap();
    assert_eq!(r.state, ChannelState::Closed as u64);
    assert_eq!(Some(r.transaction), stored(&store).tx_hash);
    assert_eq!(channel_state(&store), ChannelState::Closed);
}

#[tokio::test]
async fn a_close_persisted_before_a_crash_is_submitted_after_the_restart() {
    let scenario = fail::FailScenario::setup();
    fail::cfg("close::after_intent", "1*return(error)").unwrap();
    let chain = FakeChain::at(10);
    let store = sqlite();
    {
        let m = maker(&chain, &store, quick()).await;
        let e = m.close_channel(close_request()).await.unwrap_err();
        assert!(e.message.contains("close::after_intent"), "{e}");
        // The maker goes down here: the intent is all that is left.
    }
    assert_eq!(stored(&store).state, CloseState::Signed);
    assert!(chain.sent.lock().unwrap().is_empty());

    let m = chain_maker(&chain, store.clone()).with_close_config(quick());
    // The channel is Closing: the buyer cannot close it a second time.
    let e = m.close_channel(close_request()).await.unwrap_err();
    assert!(e.is(uri::CHANNEL_NOT_OPEN), "{e}");
    m.start_closer();
    wait_for(&m, CloseState::Mined).await;
    m.scan_from_cursor().await.unwrap();
    wait_for(&m, CloseState::Final).await;
    assert_eq!(chain.sent.lock().unwrap().len(), 1);
    scenario.teardown();
}

#[tokio::test]
async fn a_lost_receipt_is_not_resubmitted_while_the_chain_knows_the_transaction() {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, true);
    let store = sqlite();
    // Resubmit the moment the node does not know the hash.
    let cfg = CloseConfig {
        resubmit_after: Duration::ZERO,
        ..quick()
    };
    let m = maker(&chain, &store, cfg).await;
    write_intent(&store, true);
    let first = m.close_round().await.unwrap();
    assert_eq!((first.moved, first.open, first.errors), (1, 1, 0));
    let sent = stored(&store);
    assert_eq!((sent.state, sent.attempts), (CloseState::Submitted, 1));

    // The receipt lookups fail: a chain error, retried, nothing sent again.
    FakeChain::set(&chain.lookups_fail, true);
    let r = m.close_round().await.unwrap();
    assert_eq!((r.moved, r.errors), (0, 1));
    // The node knows the transaction, not mined yet: wait.
    FakeChain::set(&chain.lookups_fail, false);
    let r = m.close_round().await.unwrap();
    assert_eq!((r.moved, r.open, r.errors), (0, 1, 0));
    assert_eq!(chain.sent.lock().unwrap().len(), 1);

    chain.mine_pending();
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(
        (mined.state, mined.attempts, mined.tx_hash),
        (CloseState::Mined, 1, sent.tx_hash)
    );
    assert_eq!(chain.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_transaction_the_node_forgot_is_sent_again_only_after_the_bound() {
    let chain = FakeChain::at(10);
    FakeChain::set(&chain.hold, true);
    let store = sqlite();
    let patient = maker(&chain, &store, quick()).await;
    write_intent(&store, true);
    patient.close_round().await.unwrap();
    let first = stored(&store).tx_hash.unwrap();
    chain.forget(first);
    patient.close_round().await.unwrap();
    assert_eq!(stored(&store).state, CloseState::Submitted);
    assert_eq!(chain.sent.lock().unwrap().len(), 1);

    let eager = chain_maker(&chain, store.clone()).with_close_config(CloseConfig {
        resubmit_after: Duration::ZERO,
        ..quick()
    });
    eager.close_round().await.unwrap();
    let again = stored(&store);
    assert_eq!((again.state, again.attempts), (CloseState::Submitted, 2));
    assert_ne!(again.tx_hash, Some(first));
    assert_eq!(chain.sent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_reverted_close_fails_with_its_reason_and_is_not_retried() {
    let chain = FakeChain::at(10);
    *chain.reject.lock().unwrap() = Some("INVALID_CHANNEL_SIGNATURE".into());
    let store = sqlite();
    let cfg = CloseConfig {
        reply_wait: PATIENCE,
        ..quick()
    };
    let m = maker(&chain, &store, cfg).await;
    let e = m.close_channel(close_request()).await.unwrap_err();
    assert!(e.is(uri::CHAIN_ERROR), "{e}");
    assert!(e.message.contains("INVALID_CHANNEL_SIGNATURE"), "{e}");
    let failed = stored(&store);
    assert_eq!(failed.state, CloseState::Failed);
    assert_eq!(failed.failure.as_deref(), Some("INVALID_CHANNEL_SIGNATURE"));
    assert_eq!(failed.attempts, 1);
    let r = m.close_round().await.unwrap();
    assert_eq!(r, CloseRound::default());
    assert_eq!(stored(&store), failed);
}

#[tokio::test]
async fn a_close_mined_in_a_block_a_reorg_dropped_goes_back_to_submitted() {
    let chain = FakeChain::at(10);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    write_intent(&store, false);
    m.close_round().await.unwrap();
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!(mined.state, CloseState::Mined);
    // A non-final close leaves the channel Closing.
    assert_eq!(channel_state(&store), ChannelState::Closing);
    chain.forget(mined.tx_hash.unwrap());
    m.close_round().await.unwrap();
    let back = stored(&store);
    assert_eq!(
        (back.state, back.mined_block),
        (CloseState::Submitted, None)
    );
}

#[tokio::test]
async fn failpoint_after_broadcast_the_restart_broadcasts_the_same_transaction_and_the_log_makes_it_final()
 {
    let scenario = fail::FailScenario::setup();
    // Signed, persisted and sent, but the broadcast was never noted.
    let (chain, store) = down_in_first_round("close::after_broadcast", true).await;
    let persisted = stored(&store);
    assert_eq!(
        (
            persisted.state,
            persisted.submitted_at,
            persisted.versions.len()
        ),
        (CloseState::Submitted, None, 1)
    );
    let hash = persisted.versions[0].hash;
    assert_eq!(*chain.sent_hashes.lock().unwrap(), [hash]);

    // The restart broadcasts the very same transaction again: no second one.
    let m = chain_maker(&chain, store.clone()).with_close_config(quick());
    m.close_round().await.unwrap();
    let noted = stored(&store);
    assert!(noted.submitted_at.is_some());
    assert_eq!(noted.tx_hash, Some(hash));
    chain.mine_pending();
    m.close_round().await.unwrap();
    assert_eq!(
        (stored(&store).state, stored(&store).tx_hash),
        (CloseState::Mined, Some(hash))
    );
    m.scan_from_cursor().await.unwrap();
    assert_eq!(stored(&store).state, CloseState::Final);
    assert_eq!(channel_state(&store), ChannelState::Closed);
    assert_eq!(
        (chain.sent.lock().unwrap().len(), chain.signatures()),
        (1, 1)
    );
    scenario.teardown();
}

#[tokio::test]
async fn failpoint_after_mined_the_receipt_is_looked_up_again() {
    let scenario = fail::FailScenario::setup();
    fail::cfg("close::after_mined", "1*return(error)").unwrap();
    let chain = FakeChain::at(10);
    let store = sqlite();
    let m = maker(&chain, &store, quick()).await;
    write_intent(&store, true);
    m.close_round().await.unwrap();
    let r = m.close_round().await.unwrap();
    assert_eq!(r.errors, 1);
    assert_eq!(stored(&store).state, CloseState::Submitted);
    m.close_round().await.unwrap();
    let mined = stored(&store);
    assert_eq!((mined.state, mined.attempts), (CloseState::Mined, 1));
    assert_eq!(chain.sent.lock().unwrap().len(), 1);
    scenario.teardown();
}

#[tokio::test]
async fn both_stores_write_an_intent_with_the_close_and_move_it_forward_only() {
    let chain = FakeChain::at(0);
    let memory: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    for store in [memory, sqlite()] {
        maker(&chain, &store, quick()).await;
        write_intent(&store, true);
        let ch = store.channel(&PAYMENT).unwrap().unwrap();
        assert_eq!(ch.state, ChannelState::Closing);
        assert_eq!(ch.close.as_ref().map(|c| c.seq), Some(1));
        assert_eq!(store.close_intents().unwrap(), [intent(true)]);
        // One intent per channel, and only of an open channel.
        let close = ch.close.unwrap();
        assert!(matches!(
            store.begin_close(&close, &intent(true)),
            Err(StoreError::Duplicate(_) | StoreError::Conflict(_))
        ));

        let mut mined = intent(true);
        mined.state = CloseState::Mined;
        mined.tx_hash = Some([9; 32]);
        mined.mined_block = Some(3);
        // Compare-and-set on the state.
        assert!(matches!(
            store.save_close_progress(&mined, CloseState::Submitted),
            Err(StoreError::Conflict(_))
        ));
        store
            .save_close_progress(&mined, CloseState::Signed)
            .unwrap();
        assert_eq!(stored(&store), mined);
        let ch = store.channel(&PAYMENT).unwrap().unwrap();
        assert_eq!(ch.state, ChannelState::Closed);
        assert_eq!(ch.close.unwrap().closed_tx, Some([9; 32]));

        // A final close ends with Closed, not Closing; once Final it stays.
        assert!(
            !store
                .finalize_close(&PAYMENT, ChannelState::Closing)
                .unwrap()
        );
        assert!(
            store
                .finalize_close(&PAYMENT, ChannelState::Closed)
                .unwrap()
        );
        assert!(
            !store
                .finalize_close(&PAYMENT, ChannelState::Closed)
                .unwrap()
        );
        assert_eq!(stored(&store).state, CloseState::Final);
        assert!(
            !store
                .finalize_close(&ChannelId([3; 16]), ChannelState::Closed)
                .unwrap()
        );
    }
}

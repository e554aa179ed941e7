//! The log scan against a fake chain that records every `eth_getLogs` range it is asked for.

use std::sync::Arc;

use super::*;
use crate::maker::MarketMaker;
use crate::maker::testing::chain::{FakeChain, chain_maker, key_address};
use crate::maker::testing::chain_channel;
use crate::store::{MakerStore, MemoryStore, SqliteStore};
use crate::types::{ChannelId, ChannelState, ChannelType, U256};

fn maker(chain: &Arc<FakeChain>, store: Arc<dyn MakerStore>, scan: ScanConfig) -> MarketMaker {
    chain_maker(chain, store).with_scan_config(scan)
}

const SCAN: ScanConfig = ScanConfig {
    max_range: 2_000,
    confirmations: 0,
    rescan: 0,
};

#[test]
fn block_ranges_cover_the_span_in_bounded_pieces() {
    let r: Vec<_> = block_ranges(0, 4_999, 2_000).collect();
    assert_eq!(r, [(0, 1_999), (2_000, 3_999), (4_000, 4_999)]);
    assert_eq!(block_ranges(5, 5, 2_000).collect::<Vec<_>>(), [(5, 5)]);
    assert_eq!(block_ranges(6, 5, 2_000).count(), 0);
    // A zero range counts as one block; the last block of the chain does not overflow.
    assert_eq!(block_ranges(3, 4, 0).collect::<Vec<_>>(), [(3, 3), (4, 4)]);
    let top: Vec<_> = block_ranges(u64::MAX - 2, u64::MAX, 2).collect();
    assert_eq!(top, [(u64::MAX - 2, u64::MAX - 1), (u64::MAX, u64::MAX)]);
}

#[test]
fn final_block_and_round_start_follow_the_config() {
    let cfg = ScanConfig {
        max_range: 10,
        confirmations: 2,
        rescan: 12,
    };
    assert_eq!(cfg.final_block(1), None);
    assert_eq!(cfg.final_block(2), Some(0));
    assert_eq!(cfg.final_block(100), Some(98));
    assert_eq!(cfg.round_start(None), 0);
    assert_eq!(cfg.round_start(Some(5)), 0);
    assert_eq!(cfg.round_start(Some(100)), 88);
}

#[tokio::test]
async fn scans_to_the_head_in_bounded_ranges_and_saves_the_cursor() {
    let chain = FakeChain::at(4_500);
    for (n, block) in [(1, 10), (2, 2_500), (3, 4_500)] {
        chain.open(n, block);
    }
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), SCAN);
    let scan = m.scan_from_cursor().await.unwrap();
    assert_eq!(
        scan,
        ChannelScan {
            new: 3,
            settled: 0,
            next_block: 4_501,
            ranges: 3
        }
    );
    assert_eq!(
        chain.take_ranges(),
        [(0, 1_999), (2_000, 3_999), (4_000, 4_500)]
    );
    assert_eq!(store.scan_cursor().unwrap(), Some(4_501));
    let c = store.channel(&ChannelId([2; 16])).unwrap().unwrap();
    assert_eq!((c.seq, c.remaining), (1, U256::from(20)));

    // Nothing mined since: the next round asks for nothing.
    let again = m.scan_from_cursor().await.unwrap();
    assert_eq!((again.new, again.next_block, again.ranges), (0, 4_501, 0));
    assert!(chain.take_ranges().is_empty());
}

#[tokio::test]
async fn blocks_above_the_confirmation_depth_wait_for_a_later_round() {
    let chain = FakeChain::at(100);
    chain.open(1, 99);
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let scan = ScanConfig {
        confirmations: 2,
        ..SCAN
    };
    let m = maker(&chain, store.clone(), scan);
    let first = m.scan_from_cursor().await.unwrap();
    assert_eq!((first.new, first.next_block), (0, 99));
    assert_eq!(chain.take_ranges(), [(0, 98)]);
    assert_eq!(store.channel(&ChannelId([1; 16])).unwrap(), None);

    chain.mine_to(101);
    let second = m.scan_from_cursor().await.unwrap();
    assert_eq!((second.new, second.next_block), (1, 100));
    assert_eq!(chain.take_ranges(), [(99, 99)]);

    // A chain shorter than the depth has no final block yet.
    let young = FakeChain::at(1);
    let m = maker(&young, Arc::new(MemoryStore::new()), scan);
    assert_eq!(m.scan_from_cursor().await.unwrap().ranges, 0);
    assert!(young.take_ranges().is_empty());
}

#[tokio::test]
async fn a_restarted_maker_resumes_from_the_saved_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maker.db");
    let chain = FakeChain::at(4_500);
    chain.open(1, 10);
    chain.open(2, 4_400);
    let scan = ScanConfig { rescan: 12, ..SCAN };
    {
        let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&path).unwrap());
        let first = maker(&chain, store, scan).scan_from_cursor().await.unwrap();
        assert_eq!((first.new, first.ranges), (2, 3));
    }
    chain.take_ranges();
    chain.open(3, 5_000);
    chain.mine_to(5_000);

    // The restart: the same database, a new maker. It starts just before the saved cursor,
    // not at block 0, and finds only the channel opened meanwhile.
    let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(store.scan_cursor().unwrap(), Some(4_501));
    let m = maker(&chain, store.clone(), scan);
    let resumed = m.scan_from_cursor().await.unwrap();
    assert_eq!((resumed.new, resumed.next_block), (1, 5_001));
    assert_eq!(chain.take_ranges(), [(4_489, 5_000)]);
    assert_eq!(store.all_channels().unwrap().len(), 3);
    assert_eq!(store.scan_cursor().unwrap(), Some(5_001));
}

#[tokio::test]
async fn a_log_a_reorg_moved_behind_the_cursor_is_found_by_the_rescan() {
    let chain = FakeChain::at(100);
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), ScanConfig { rescan: 12, ..SCAN });
    assert_eq!(m.scan_from_cursor().await.unwrap().new, 0);
    chain.take_ranges();
    // The blocks 98..=100 are replaced by a fork whose block 99 opens a channel.
    chain.open(1, 99);
    chain.mine_to(102);
    let scan = m.scan_from_cursor().await.unwrap();
    assert_eq!((scan.new, scan.next_block), (1, 103));
    assert_eq!(chain.take_ranges(), [(89, 102)]);
    assert!(store.channel(&ChannelId([1; 16])).unwrap().is_some());
}

#[tokio::test]
async fn the_same_opened_log_seen_twice_is_mirrored_once() {
    let chain = FakeChain::at(50);
    chain.open(1, 40);
    // The same log returned twice by one call (a node answering with duplicates) …
    chain.open(1, 40);
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), ScanConfig { rescan: 20, ..SCAN });
    assert_eq!(m.scan_from_cursor().await.unwrap().new, 1);
    // … and again by the rescan window of the next round: still one channel, unchanged.
    chain.mine_to(55);
    let again = m.scan_from_cursor().await.unwrap();
    assert_eq!((again.new, again.ranges), (0, 1));
    assert_eq!(chain.take_ranges(), [(0, 50), (31, 55)]);
    let all = store.all_channels().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].seq, all[0].remaining), (1, U256::from(10)));
}

#[tokio::test]
async fn the_cursor_never_moves_back_and_an_explicit_scan_can_start_anywhere() {
    let chain = FakeChain::at(300);
    chain.open(1, 150);
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), SCAN);
    assert_eq!(m.scan_from_cursor().await.unwrap().next_block, 301);
    // A full rescan from block 0 finds nothing new and leaves the cursor where it was.
    let full = m.scan_channels(0).await.unwrap();
    assert_eq!((full.new, full.next_block), (0, 301));
    assert_eq!(store.scan_cursor().unwrap(), Some(301));
    // A start past the final block asks for nothing.
    let past = m.scan_channels(400).await.unwrap();
    assert_eq!((past.new, past.next_block, past.ranges), (0, 400, 0));
}

#[tokio::test]
async fn logs_of_another_market_or_maker_are_not_mirrored() {
    let chain = FakeChain::at(10);
    chain.open(1, 5);
    let mut other_maker = chain_channel(
        ChannelId([2; 16]),
        ChannelType::Paying,
        key_address(),
        U256::from(5),
    );
    other_maker.marketmaker = crate::types::Address::repeat_byte(0x99);
    chain.log(6, ChainChannelEvent::Opened(other_maker));
    // Its close is a log of the market too: a channel the maker does not know stays unknown.
    chain.log(7, ChainChannelEvent::Closed(ChannelId([2; 16])));
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), SCAN);
    let scan = m.scan_from_cursor().await.unwrap();
    assert_eq!((scan.new, scan.settled), (1, 0));
    assert_eq!(store.all_channels().unwrap().len(), 1);
}

#[tokio::test]
async fn closing_and_closed_logs_move_the_channel_state_forward_only() {
    let chain = FakeChain::at(10);
    let oid = ChannelId([1; 16]);
    // Opened and Closing in one range: applied in chain order.
    chain.open(1, 3);
    chain.log(4, ChainChannelEvent::Closing(oid));
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let m = maker(&chain, store.clone(), ScanConfig { rescan: 50, ..SCAN });
    let first = m.scan_from_cursor().await.unwrap();
    assert_eq!((first.new, first.settled), (1, 1));
    let state = |s: &Arc<dyn MakerStore>| s.channel(&oid).unwrap().unwrap().state;
    assert_eq!(state(&store), ChannelState::Closing);

    chain.log(12, ChainChannelEvent::Closed(oid));
    chain.mine_to(12);
    // The rescan sees the Closing log again: it does not move the Closed channel back.
    let second = m.scan_from_cursor().await.unwrap();
    assert_eq!((second.new, second.settled), (0, 1));
    assert_eq!(state(&store), ChannelState::Closed);
    let third = m.scan_channels(0).await.unwrap();
    assert_eq!((third.new, third.settled), (0, 0));
    let c = store.channel(&oid).unwrap().unwrap();
    assert_eq!(
        (c.state, c.seq, c.remaining),
        (ChannelState::Closed, 1, U256::from(10))
    );
}

#[tokio::test]
async fn both_stores_advance_a_channel_state_forward_only() {
    let memory: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let sqlite: Arc<dyn MakerStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    for s in [memory, sqlite] {
        let oid = ChannelId([1; 16]);
        assert!(!s.advance_channel_state(&oid, ChannelState::Closed).unwrap());
        let c = chain_channel(oid, ChannelType::Payment, key_address(), U256::from(10));
        let m = maker(&FakeChain::at(0), s.clone(), SCAN);
        assert!(m.mirror_channel(&c).await.unwrap());
        assert!(
            s.advance_channel_state(&oid, ChannelState::Closing)
                .unwrap()
        );
        assert!(
            !s.advance_channel_state(&oid, ChannelState::Closing)
                .unwrap()
        );
        assert!(s.advance_channel_state(&oid, ChannelState::Closed).unwrap());
        assert!(!s.advance_channel_state(&oid, ChannelState::Open).unwrap());
        assert!(
            !s.advance_channel_state(&oid, ChannelState::Closing)
                .unwrap()
        );
        assert_eq!(
            s.channel(&oid).unwrap().unwrap().state,
            ChannelState::Closed
        );
    }
}

//! The maker's view of the chain on ganache: the channel logs scanned in ranges much smaller
//! than the chain, resumed after a restart from the cursor saved in its SQLite store, with the
//! channels opened and closed on chain while it was down.

use std::sync::Arc;

use xbr_chain::{MarketDescription, bootstrap};
use xbr_core::ChannelId;
use xbr_core::eip712::{EIP712ChannelClose, sign_typed};
use xbr_market::local::LocalBus;
use xbr_market::maker::ScanConfig;
use xbr_market::peer::NoEvents;
use xbr_market::types::ChannelState;
use xbr_market::{MakerStore, SqliteStore};
use xbrd_testkit::GANACHE_KEYS;

mod real_peers;
use real_peers::{ChainMarket, MARKET, chain_maker, key, xbr};

const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
const PAYING: ChannelId = ChannelId([0xc1; 16]);
const LATER: ChannelId = ChannelId([0xb2; 16]);

/// A payment and a paying channel, and with `later` a second payment channel.
fn description(later: bool) -> MarketDescription {
    let mut channels = vec![
        serde_json::json!({ "channel_id": format!("0x{}", "b1".repeat(16)), "kind": "payment",
          "member": key(3).address(), "delegate": key(5).address(), "amount": xbr(100).to_string() }),
        serde_json::json!({ "channel_id": format!("0x{}", "c1".repeat(16)), "kind": "paying",
          "member": key(2).address(), "delegate": key(4).address(), "amount": xbr(200).to_string() }),
    ];
    if later {
        channels.push(
            serde_json::json!({ "channel_id": format!("0x{}", "b2".repeat(16)),
          "kind": "payment", "member": key(3).address(), "delegate": key(5).address(),
          "amount": xbr(50).to_string() }),
        );
    }
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": GANACHE_KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": GANACHE_KEYS[6], "xbr": xbr(1000).to_string() },
        "members": [
            { "key": GANACHE_KEYS[2], "actor": "provider", "xbr": xbr(100).to_string() },
            { "key": GANACHE_KEYS[3], "actor": "consumer", "xbr": xbr(500).to_string() }
        ],
        "channels": channels
    });
    serde_json::from_value(json).unwrap()
}

const SCAN: ScanConfig = ScanConfig {
    max_range: 4,
    confirmations: 0,
    rescan: 3,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_maker_resumes_its_scan_and_follows_closes_made_while_it_was_down() {
    let cm = ChainMarket::start(&description(false)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("maker.db");
    let bus = LocalBus::new();
    let head = cm.chain.gateway().block_number().await.unwrap();
    assert!(head > 3 * SCAN.max_range, "the chain spans several ranges");
    {
        let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&db).unwrap());
        let maker = chain_maker(&cm, store.clone(), bus.clone(), Arc::new(NoEvents))
            .await
            .with_scan_config(SCAN);
        let first = maker.scan_from_cursor().await.unwrap();
        assert_eq!((first.new, first.settled), (2, 0));
        assert_eq!(first.next_block, head + 1);
        assert_eq!(first.ranges as u64, (head + 1).div_ceil(SCAN.max_range));
        assert_eq!(store.scan_cursor().unwrap(), Some(head + 1));
    }

    // While the maker is down: a new channel is opened and the first one closed (final, the
    // whole deposit back), both directly on chain.
    bootstrap(&cm.chain, &key(0), &description(true))
        .await
        .unwrap();
    let close_at = cm.chain.gateway().block_number().await.unwrap();
    let domain = cm.domain();
    let msg = EIP712ChannelClose::new(
        domain.chain_id,
        domain.verifying_contract,
        close_at,
        MARKET,
        PAYMENT,
        1,
        xbr(100),
        true,
    );
    cm.chain
        .close_channel(
            &key(6),
            PAYMENT,
            close_at,
            1,
            xbr(100),
            true,
            &sign_typed(&key(5), &msg),
            &sign_typed(&key(6), &msg),
        )
        .await
        .unwrap();
    let head2 = cm.chain.gateway().block_number().await.unwrap();

    // The restart: the same database. The scan starts a rescan window before the cursor, not at
    // block 0, finds the new channel and follows the close.
    let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let maker = chain_maker(&cm, store.clone(), bus, Arc::new(NoEvents))
        .await
        .with_scan_config(SCAN);
    let resumed = maker.scan_from_cursor().await.unwrap();
    assert_eq!((resumed.new, resumed.settled), (1, 1));
    let start = head + 1 - SCAN.rescan;
    assert_eq!(
        resumed.ranges as u64,
        (head2 + 1 - start).div_ceil(SCAN.max_range)
    );
    assert_eq!(store.scan_cursor().unwrap(), Some(head2 + 1));
    let state = |oid| store.channel(&oid).unwrap().unwrap();
    assert_eq!(state(PAYMENT).state, ChannelState::Closed);
    assert_eq!(state(PAYING).state, ChannelState::Open);
    let later = state(LATER);
    assert_eq!(
        (later.state, later.seq, later.remaining),
        (ChannelState::Open, 1, xbr(50))
    );

    // Another round finds nothing new.
    let again = maker.scan_from_cursor().await.unwrap();
    assert_eq!((again.new, again.settled), (0, 0));
}

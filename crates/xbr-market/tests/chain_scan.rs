//! The maker's view of the chain on ganache: the channel logs scanned in ranges much smaller
//! than the chain, resumed after a restart from the cursor saved in its SQLite store, with the
//! channels opened and closed on chain while it was down; closes made through the maker carried
//! to the chain by its close worker, also across a restart between the intent and the submit.

use std::sync::Arc;
use std::time::Duration;

use xbr_chain::{CloseChannel, MarketDescription, bootstrap};
use xbr_core::ChannelId;
use xbr_core::eip712::{EIP712ChannelClose, sign_typed};
use xbr_market::local::LocalBus;
use xbr_market::maker::{CloseConfig, ScanConfig};
use xbr_market::peer::NoEvents;
use xbr_market::types::{ChannelState, CloseState};
use xbr_market::{MakerStore, SqliteStore};
use xbrd_testkit::GANACHE_KEYS;

mod real_peers;
use real_peers::{ChainMarket, MARKET, buyer_close, chain_maker, key, xbr};

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
            &CloseChannel {
                channel_id: PAYMENT,
                close_at,
                closing_seq: 1,
                balance: xbr(100),
                is_final: true,
                delegate_signature: sign_typed(&key(5), &msg),
                marketmaker_signature: sign_typed(&key(6), &msg),
            },
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

/// Long enough for ganache on a loaded machine; the waits end on the condition.
const PATIENCE: Duration = Duration::from_secs(60);

/// Quick retries; a reply waits for the close to be mined.
const CLOSE: CloseConfig = CloseConfig {
    retry_min: Duration::from_millis(50),
    retry_max: Duration::from_millis(500),
    poll: Duration::from_millis(50),
    resubmit_after: Duration::from_secs(600),
    reply_wait: PATIENCE,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closes_through_the_maker_end_closed_and_final_also_after_a_restart_before_the_submit() {
    let scenario = fail::FailScenario::setup();
    let cm = ChainMarket::start(&description(true)).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("maker.db");
    let bus = LocalBus::new();
    let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&db).unwrap());
    let maker = chain_maker(&cm, store.clone(), bus.clone(), Arc::new(NoEvents))
        .await
        .with_scan_config(SCAN)
        .with_close_config(CLOSE);
    assert_eq!(maker.scan_from_cursor().await.unwrap().new, 3);

    // The buyer closes its payment channel through the maker: the reply carries the mined
    // transaction; the scan then sees the Closed log and makes the close final.
    let r = maker
        .close_channel(buyer_close(&cm, PAYMENT, 100).await)
        .await
        .unwrap();
    assert_eq!(r.state, ChannelState::Closed as u64);
    assert_ne!(r.transaction, [0; 32]);
    let on_chain = cm.chain.channel(PAYMENT).await.unwrap().unwrap();
    assert_eq!(on_chain.state, xbr_chain::ChannelState::Closed);
    maker.scan_from_cursor().await.unwrap();
    let intent = store.close_intent(&PAYMENT).unwrap().unwrap();
    assert_eq!(intent.state, CloseState::Final);
    assert_eq!((intent.tx_hash, intent.attempts), (Some(r.transaction), 1));
    let closed = store.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(closed.state, ChannelState::Closed);
    assert_eq!(closed.close.unwrap().closed_tx, Some(r.transaction));

    // The second channel's close: the maker goes down right after writing the intent.
    fail::cfg("close::after_intent", "1*return(error)").unwrap();
    let e = maker
        .close_channel(buyer_close(&cm, LATER, 50).await)
        .await
        .unwrap_err();
    assert!(e.message.contains("close::after_intent"), "{e}");
    drop(maker);
    drop(store);
    let on_chain = cm.chain.channel(LATER).await.unwrap().unwrap();
    assert_eq!(on_chain.state, xbr_chain::ChannelState::Open);

    // The restart: the same database; the worker recovers the intent and submits it.
    let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(&db).unwrap());
    assert_eq!(
        store.close_intent(&LATER).unwrap().unwrap().state,
        CloseState::Signed
    );
    let maker = chain_maker(&cm, store.clone(), bus, Arc::new(NoEvents))
        .await
        .with_scan_config(SCAN)
        .with_close_config(CLOSE);
    maker.start_closer();
    let mined = maker
        .await_close(LATER, PATIENCE, |c| c.state == CloseState::Mined)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mined.state, mined.attempts), (CloseState::Mined, 1));
    let on_chain = cm.chain.channel(LATER).await.unwrap().unwrap();
    assert_eq!(on_chain.state, xbr_chain::ChannelState::Closed);
    maker.scan_from_cursor().await.unwrap();
    let intent = store.close_intent(&LATER).unwrap().unwrap();
    assert_eq!(
        (intent.state, intent.tx_hash),
        (CloseState::Final, mined.tx_hash)
    );
    assert_eq!(
        store.channel(&LATER).unwrap().unwrap().state,
        ChannelState::Closed
    );
    scenario.teardown();
}

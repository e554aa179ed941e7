//! The maker's close on a chain that does not mine it at once (anvil with automine off, as a
//! public chain after a gas spike): the close worker replaces the pending `closeChannel` with
//! the same nonce and higher fees, the replacement is the one mined, and the close ends Final
//! with its hash.

use std::sync::Arc;
use std::time::Duration;

use xbr_chain::{
    ConnectOptions, Gateway, MarketDescription, SimpleBlockchain, TransactionStatus, TxPolicy,
};
use xbr_core::ChannelId;
use xbr_market::local::LocalBus;
use xbr_market::maker::{CallerPolicy, CloseConfig, ScanConfig};
use xbr_market::peer::NoEvents;
use xbr_market::types::{ChannelState, CloseState};
use xbr_market::{MakerStore, SqliteStore};
use xbrd_testkit::{ChainKind, GANACHE_KEYS};

mod real_peers;
use real_peers::{ChainMarket, buyer_close, chain_maker_on, key, xbr};

const PAYMENT: ChannelId = ChannelId([0xb1; 16]);

/// Long enough for a loaded machine; the waits end on the condition.
const PATIENCE: Duration = Duration::from_secs(60);

/// A market with the buyer's (account 3, delegate 5) payment channel of 100 XBR.
fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": GANACHE_KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": GANACHE_KEYS[6], "xbr": xbr(1000).to_string() },
        "members": [
            { "key": GANACHE_KEYS[3], "actor": "consumer", "xbr": xbr(500).to_string() }
        ],
        "channels": [
            { "channel_id": format!("0x{}", "b1".repeat(16)), "kind": "payment",
              "member": key(3).address(), "delegate": key(5).address(),
              "amount": xbr(100).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_close_is_replaced_with_higher_fees_and_ends_final_with_the_replacement() {
    let cm = ChainMarket::start_on(ChainKind::Anvil, &description()).await;
    // The maker's gateway replaces a transaction pending for 200 ms, once.
    let options = ConnectOptions {
        tx: TxPolicy {
            replace_after: Duration::from_millis(200),
            max_replacements: 1,
            ..TxPolicy::default()
        },
        ..ConnectOptions::default()
    };
    let (gateway, _) = Gateway::connect_with(&cm.ganache.url, options)
        .await
        .unwrap();
    let chain = SimpleBlockchain::new(gateway, *cm.chain.addresses());
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MakerStore> =
        Arc::new(SqliteStore::open(dir.path().join("maker.db")).unwrap());
    let close = CloseConfig {
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(500),
        poll: Duration::from_millis(50),
        resubmit_after: Duration::from_secs(600),
        reply_wait: Duration::ZERO,
    };
    let scan = ScanConfig {
        max_range: 1000,
        confirmations: 0,
        rescan: 3,
    };
    let maker = chain_maker_on(
        &cm,
        chain,
        store.clone(),
        LocalBus::new(),
        Arc::new(NoEvents),
        CallerPolicy::Unchecked,
    )
    .await
    .with_scan_config(scan)
    .with_close_config(close);
    assert_eq!(maker.scan_from_cursor().await.unwrap().new, 1);

    // Nothing is mined any more: the close is sent and stays pending, then is replaced.
    cm.ganache.set_automine(false);
    let request = buyer_close(&cm, PAYMENT, 100).await;
    let r = maker.close_channel(request).await.unwrap();
    assert_eq!(r.state, ChannelState::Closing as u64);
    let replaced = maker
        .await_close(PAYMENT, PATIENCE, |c| {
            c.versions.len() == 2 && c.submitted_at.is_some()
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.versions.len(), 2, "{replaced:?}");
    let (first, second) = (&replaced.versions[0], &replaced.versions[1]);
    assert_eq!(first.nonce, second.nonce);
    assert!(
        second.max_fee_per_gas > first.max_fee_per_gas,
        "{replaced:?}"
    );
    assert!(second.max_priority_fee_per_gas > first.max_priority_fee_per_gas);
    let gateway = cm.chain.gateway();
    assert_eq!(
        gateway
            .transaction_status(second.hash.into())
            .await
            .unwrap(),
        TransactionStatus::Pending
    );

    cm.ganache.mine(1);
    let mined = maker
        .await_close(PAYMENT, PATIENCE, |c| c.state == CloseState::Mined)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mined.state, CloseState::Mined, "{mined:?}");
    assert_eq!(mined.tx_hash, Some(second.hash));
    assert!(matches!(
        gateway
            .transaction_status(second.hash.into())
            .await
            .unwrap(),
        TransactionStatus::Mined { success: true, .. }
    ));
    assert_eq!(
        gateway.transaction_status(first.hash.into()).await.unwrap(),
        TransactionStatus::Unknown,
        "the replaced version is gone"
    );
    let on_chain = cm.chain.channel(PAYMENT).await.unwrap().unwrap();
    assert_eq!(on_chain.state, xbr_chain::ChannelState::Closed);

    cm.ganache.set_automine(true);
    maker.scan_from_cursor().await.unwrap();
    let done = store.close_intent(&PAYMENT).unwrap().unwrap();
    assert_eq!(
        (done.state, done.tx_hash, done.attempts),
        (CloseState::Final, Some(second.hash), 2)
    );
    let channel = store.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(channel.state, ChannelState::Closed);
    assert_eq!(channel.close.unwrap().closed_tx, Some(second.hash));
}

//! The maker funds the paying channels it opens: on ganache, its `approve()` is for exactly the
//! channel's amount and is reset to 0 when the open fails, so no allowance is left standing.

use alloy_primitives::U256;
use xbr_chain::MarketDescription;
use xbr_core::ChannelId;
use xbr_core::eip712::{EIP712ChannelOpen, sign_typed};
use xbr_core::eth::EthPrivateKey;
use xbr_market::chain::XbrChain;
use xbr_market::maker::MakerChain;
use xbr_market::types::ChannelType;
use xbr_market::wire::OpenChannelRequest;
use xbrd_testkit::GANACHE_KEYS;

mod real_peers;
use real_peers::{ChainMarket, MARKET, key, xbr};

/// A market whose maker (6) holds XBR; member 2 provides (delegate 4).
fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": GANACHE_KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": GANACHE_KEYS[6], "xbr": xbr(500).to_string() },
        "members": [
            { "key": GANACHE_KEYS[2], "actor": "provider", "xbr": xbr(100).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

/// A paying channel `oid` of `amount` for member 2 and its delegate 4, signed by `signer`.
fn paying_open(
    cm: &ChainMarket,
    oid: ChannelId,
    block: u64,
    signer: &EthPrivateKey,
) -> OpenChannelRequest {
    let (domain, amount) = (cm.domain(), xbr(50));
    let (member, delegate) = (key(2).address(), key(4).address());
    let msg = EIP712ChannelOpen::new(
        domain.chain_id,
        domain.verifying_contract,
        2,
        block,
        MARKET,
        oid,
        member,
        delegate,
        key(6).address(),
        member,
        amount,
    );
    OpenChannelRequest {
        member,
        market_oid: MARKET,
        channel_oid: oid,
        verifying_chain_id: domain.chain_id,
        current_block_number: block,
        verifying_contract: domain.verifying_contract,
        channel_type: ChannelType::Paying,
        delegate,
        marketmaker: key(6).address(),
        recipient: member,
        amount,
        signature: sign_typed(signer, &msg),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_paying_open_leaves_no_allowance_and_a_good_one_spends_exactly_its_own() {
    let cm = ChainMarket::start(&description()).await;
    let chain = XbrChain::new(cm.chain.clone(), key(6));
    let spender = cm.chain.addresses().channel;
    let allowance = async || {
        cm.chain
            .xbr_allowance(key(6).address(), spender)
            .await
            .unwrap()
    };
    let block = cm.chain.gateway().block_number().await.unwrap();

    // Signed by the delegate instead of the member: the contract refuses the open.
    let bad = paying_open(&cm, ChannelId([0xd1; 16]), block, &key(4));
    chain.open_channel(bad).await.unwrap_err();
    assert_eq!(allowance().await, U256::ZERO);
    assert!(
        cm.chain
            .channel(ChannelId([0xd1; 16]))
            .await
            .unwrap()
            .is_none()
    );

    let before = cm.chain.xbr_balance(key(6).address()).await.unwrap();
    let good = paying_open(&cm, ChannelId([0xd2; 16]), block, &key(2));
    let (_, opened) = chain.open_channel(good).await.unwrap();
    assert_eq!(opened.amount, xbr(50));
    assert_eq!(allowance().await, U256::ZERO);
    let after = cm.chain.xbr_balance(key(6).address()).await.unwrap();
    assert_eq!(before - after, xbr(50));
}

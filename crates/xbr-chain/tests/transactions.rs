//! The send path on each dev chain kind: chain id pin, funds and fee cap checks, revert
//! reasons, replacement of a stuck transaction, confirmation depth, and nonces of concurrent
//! sends.

mod common;

use std::time::Duration;

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{TransactionRequest, TransactionTrait};
use alloy_sol_types::SolCall;
use common::{ChainKind, DeployedChain, deployed_chain, key};
use serde_json::{Value, json};
use xbr_chain::bindings::XBRNetwork;
use xbr_chain::{
    ChainError, ConnectOptions, Gateway, SimpleBlockchain, TransactionStatus, TxPolicy,
};
use xbr_core::eth::EthPrivateKey;
use xbrd_testkit::DevChain;

per_chain!(
    a_node_of_another_chain_is_refused,
    an_unfunded_sender_is_refused_before_sending,
    a_reverting_call_names_its_reason,
    a_mined_failure_names_its_revert_reason,
    a_base_fee_above_the_cap_sends_nothing,
    a_stuck_transaction_is_replaced_and_the_replacement_mined,
    a_send_returns_once_the_receipt_is_deep_enough,
    concurrent_sends_from_one_key_get_consecutive_nonces,
);

/// A plain ETH transfer of `wei` to `to`.
fn transfer(to: Address, wei: u64) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(wei))
}

/// A second connection to `d`'s chain with `policy` (its own nonce manager).
async fn connect_with_policy(d: &DeployedChain, policy: TxPolicy) -> SimpleBlockchain {
    let options = ConnectOptions {
        expected_chain_id: Some(d.dev.chain_id),
        tx: policy,
        ..ConnectOptions::default()
    };
    let (gateway, _) = Gateway::connect_with(&d.dev.url, options).await.unwrap();
    SimpleBlockchain::new(gateway, *d.chain.addresses())
}

/// The `eth_getTransactionCount` of `address` at `tag` (`latest` or `pending`).
fn nonce_of(dev: &DevChain, address: Address, tag: &str) -> u64 {
    quantity(&dev.rpc("eth_getTransactionCount", json!([address, tag])))
}

fn quantity(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// The hash of the transaction of `from` waiting in the node's pool, if any.
fn pooled_hash(dev: &DevChain, from: Address) -> Option<B256> {
    let pool = dev.rpc("txpool_content", json!([]));
    let pending = pool["pending"].as_object()?;
    let (_, by_nonce) = pending
        .iter()
        .find(|(sender, _)| sender.parse::<Address>().ok() == Some(from))?;
    let (_, tx) = by_nonce.as_object()?.iter().next()?;
    tx["hash"].as_str()?.parse().ok()
}

/// Polls `probe` until it gives a value (bounded: a chain that never does fails the test).
async fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = probe() {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}");
}

async fn a_node_of_another_chain_is_refused(kind: ChainKind) {
    let dev = DevChain::start(kind);
    let pinned = |id| ConnectOptions {
        expected_chain_id: Some(id),
        ..ConnectOptions::default()
    };
    let err = Gateway::connect_with(&dev.url, pinned(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::WrongChain { ref url, expected: 1, actual: 1337 } if *url == dev.url
        ),
        "{err}"
    );
    assert!(err.to_string().contains("serves chain 1337"), "{err}");

    let (gateway, info) = Gateway::connect_with(&dev.url, pinned(1337)).await.unwrap();
    assert_eq!((gateway.chain_id(), info.chain_id), (1337, 1337));
}

async fn an_unfunded_sender_is_refused_before_sending(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let pauper = EthPrivateKey::from_bytes(&[0x5a; 32]).unwrap();
    let gateway = d.chain.gateway();

    let err = gateway
        .send_transaction("send ETH", &pauper, transfer(key(1).address(), 1))
        .await
        .unwrap_err();
    match err {
        ChainError::InsufficientFunds {
            address,
            need,
            have,
        } => {
            assert_eq!(address, pauper.address());
            assert_eq!(have, U256::ZERO);
            assert!(
                need > U256::from(21_000u64),
                "gas is part of the cost: {need}"
            );
        }
        other => panic!("{other}"),
    }
    // A contract call the same way; nothing reached the node.
    let err = d.chain.register_member(&pauper, "").await.unwrap_err();
    assert!(
        matches!(err, ChainError::InsufficientFunds { have, .. } if have == U256::ZERO),
        "{err}"
    );
    assert_eq!(nonce_of(&d.dev, pauper.address(), "pending"), 0);

    // Funded for gas but not for the value sent.
    d.dev
        .set_balance(&format!("{:#x}", pauper.address()), "0x38d7ea4c68000"); // 0.001 ETH
    let err = gateway
        .send_transaction(
            "send ETH",
            &pauper,
            transfer(key(1).address(), 2_000_000_000_000_000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChainError::InsufficientFunds { have, .. } if have == U256::from(1_000_000_000_000_000u64)),
        "{err}"
    );
}

async fn a_reverting_call_names_its_reason(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    // The deployer is a member already.
    let err = d.chain.register_member(&d.deployer, "").await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Reverted { ref call, ref reason }
                if call == "XBRNetwork.registerMember" && reason.contains("MEMBER_ALREADY_REGISTERED")
        ),
        "{err}"
    );
}

async fn a_mined_failure_names_its_revert_reason(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let eula = d.chain.eula().await.unwrap();
    let data = XBRNetwork::registerMemberCall {
        networkEula: eula,
        memberProfile: String::new(),
    }
    .abi_encode();
    // A gas limit given means no estimate: the node mines the call, which fails.
    let tx = TransactionRequest::default()
        .with_to(d.chain.addresses().network)
        .with_input(data)
        .with_gas_limit(300_000);
    let err = d
        .chain
        .gateway()
        .send_transaction("XBRNetwork.registerMember", &d.deployer, tx)
        .await
        .unwrap_err();
    let ChainError::TransactionFailed {
        tx_hash, reason, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("MEMBER_ALREADY_REGISTERED")),
        "{err}"
    );
    let receipt = d
        .chain
        .gateway()
        .provider()
        .get_transaction_receipt(*tx_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(!receipt.status());
}

async fn a_base_fee_above_the_cap_sends_nothing(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let policy = TxPolicy {
        max_fee_per_gas: 1,
        ..TxPolicy::default()
    };
    let chain = connect_with_policy(&d, policy).await;
    let sender = key(1);
    let before = nonce_of(&d.dev, sender.address(), "pending");
    let err = chain
        .gateway()
        .send_transaction("send ETH", &sender, transfer(key(2).address(), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ChainError::FeeCapExceeded { base_fee, cap: 1 } if base_fee > 1),
        "{err}"
    );
    assert_eq!(nonce_of(&d.dev, sender.address(), "pending"), before);
}

async fn a_stuck_transaction_is_replaced_and_the_replacement_mined(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let policy = TxPolicy {
        replace_after: Duration::from_millis(300),
        max_replacements: 1,
        ..TxPolicy::default()
    };
    let chain = connect_with_policy(&d, policy).await;
    let sender = key(1);
    let nonce = nonce_of(&d.dev, sender.address(), "pending");
    d.dev.set_automine(false);
    let send = {
        let chain = chain.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            chain
                .gateway()
                .send_transaction("send ETH", &sender, transfer(key(2).address(), 7))
                .await
        })
    };
    let first = wait_for("the first version in the pool", || {
        pooled_hash(&d.dev, sender.address())
    })
    .await;
    let replacement = match kind {
        ChainKind::Anvil => Some(
            wait_for("the replacement in the pool", || {
                pooled_hash(&d.dev, sender.address()).filter(|h| *h != first)
            })
            .await,
        ),
        // ganache locks a pending transaction for mining even while the miner is stopped and
        // refuses to replace it ("mining has already started"): the first version stays.
        ChainKind::Ganache => {
            let sends = || {
                let log = std::fs::read_to_string(d.dev.log_path()).unwrap_or_default();
                log.matches("eth_sendRawTransaction").count()
            };
            let before = sends();
            wait_for("the replacement sent", || (sends() > before).then_some(())).await;
            None
        }
    };
    d.dev.mine(1);
    let receipt = send.await.unwrap().unwrap();
    let provider = chain.gateway().provider();
    if let Some(second) = replacement {
        assert_eq!(receipt.transaction_hash, second);
        let first_receipt = provider.get_transaction_receipt(first).await.unwrap();
        assert!(first_receipt.is_none());
    } else {
        assert_eq!(receipt.transaction_hash, first);
    }
    let mined = provider
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mined.inner.nonce(), nonce);
}

async fn a_send_returns_once_the_receipt_is_deep_enough(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let policy = TxPolicy {
        confirmations: 3,
        ..TxPolicy::default()
    };
    let chain = connect_with_policy(&d, policy).await;
    let sender = key(1);
    let mined_before = nonce_of(&d.dev, sender.address(), "latest");
    let mut send = {
        let chain = chain.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            let receipt = chain
                .gateway()
                .send_transaction("send ETH", &sender, transfer(key(2).address(), 7))
                .await
                .unwrap();
            let head = chain.gateway().block_number().await.unwrap();
            (receipt, head)
        })
    };
    // Automine puts the transaction in a block of its own; then one block at a time, each time
    // giving the send several of its polls to (wrongly) return early.
    wait_for("the transaction mined", || {
        (nonce_of(&d.dev, sender.address(), "latest") > mined_before).then_some(())
    })
    .await;
    let (receipt, head) = loop {
        match tokio::time::timeout(Duration::from_secs(1), &mut send).await {
            Ok(done) => break done.unwrap(),
            Err(_) => d.dev.mine(1),
        }
    };
    let block = receipt.block_number.unwrap();
    assert!(
        head >= block + 2,
        "returned at head {head}, mined in {block}"
    );
}

async fn concurrent_sends_from_one_key_get_consecutive_nonces(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let sender = key(1);
    let start = nonce_of(&d.dev, sender.address(), "pending");
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let gateway = d.chain.gateway().clone();
        let sender = sender.clone();
        tasks.push(tokio::spawn(async move {
            gateway
                .send_transaction("send ETH", &sender, transfer(key(2).address(), i + 1))
                .await
        }));
    }
    let mut nonces = Vec::new();
    for task in tasks {
        let receipt = task.await.unwrap().unwrap();
        let tx = d
            .chain
            .gateway()
            .provider()
            .get_transaction_by_hash(receipt.transaction_hash)
            .await
            .unwrap()
            .unwrap();
        nonces.push(tx.inner.nonce());
    }
    nonces.sort_unstable();
    assert_eq!(nonces, (start..start + 8).collect::<Vec<_>>());
}

/// anvil only: ganache has no way to drop a pending transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_frees_its_nonce() {
    let d = deployed_chain(ChainKind::Anvil).await;
    let gateway = d.chain.gateway();
    let sender = key(1);
    let nonce = nonce_of(&d.dev, sender.address(), "pending");
    d.dev.set_automine(false);
    let dropped = gateway
        .submit_transaction("send ETH", &sender, transfer(key(2).address(), 1))
        .await
        .unwrap();
    assert_eq!(
        gateway.transaction_status(dropped).await.unwrap(),
        TransactionStatus::Pending
    );
    d.dev.rpc("anvil_dropTransaction", json!([dropped]));
    // The close worker's way of noticing: the node does not know the hash any more.
    assert_eq!(
        gateway.transaction_status(dropped).await.unwrap(),
        TransactionStatus::Unknown
    );
    d.dev.set_automine(true);
    let receipt = gateway
        .send_transaction("send ETH", &sender, transfer(key(2).address(), 2))
        .await
        .unwrap();
    let mined = gateway
        .provider()
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mined.inner.nonce(), nonce, "no gap left by the dropped one");
}

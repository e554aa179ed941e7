//! Presigned transactions on each dev chain kind: signed without being sent, broadcast (again)
//! as the very same transaction, and replaced with the same nonce and higher fees, the
//! replacement being the one mined.

mod common;

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_rpc_types_eth::TransactionRequest;
use common::{ChainKind, key};
use xbr_chain::{
    BroadcastOutcome, ConnectOptions, Gateway, PresignedTx, TransactionStatus, TxPolicy,
};
use xbrd_testkit::DevChain;

per_chain!(a_presigned_transaction_leaves_only_when_broadcast_and_again_as_itself);

/// A plain ETH transfer of 7 wei to `to`.
fn transfer(to: Address) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(7))
}

/// A connection to `dev` with `policy`.
async fn connect(dev: &DevChain, policy: TxPolicy) -> Gateway {
    let options = ConnectOptions {
        expected_chain_id: Some(dev.chain_id),
        tx: policy,
        ..ConnectOptions::default()
    };
    Gateway::connect_with(&dev.url, options).await.unwrap().0
}

async fn a_presigned_transaction_leaves_only_when_broadcast_and_again_as_itself(kind: ChainKind) {
    let dev = DevChain::start(kind);
    let gateway = connect(&dev, TxPolicy::default()).await;
    let sender = key(1);
    let mined = gateway.mined_nonce(sender.address()).await.unwrap();
    dev.set_automine(false);
    let tx = gateway
        .presign("send ETH", &sender, transfer(key(2).address()))
        .await
        .unwrap();
    assert_eq!(tx.nonce, mined);
    assert_eq!(PresignedTx::from_raw(&tx.raw).unwrap(), tx);
    assert_eq!(
        gateway.transaction_status(tx.hash).await.unwrap(),
        TransactionStatus::Unknown,
        "signed, not sent"
    );
    for _ in 0..2 {
        assert_eq!(
            gateway.broadcast_presigned("send ETH", &tx).await.unwrap(),
            BroadcastOutcome::Accepted
        );
    }
    assert_eq!(
        gateway.transaction_status(tx.hash).await.unwrap(),
        TransactionStatus::Pending
    );
    dev.mine(1);
    assert!(matches!(
        gateway.transaction_status(tx.hash).await.unwrap(),
        TransactionStatus::Mined { success: true, .. }
    ));
    assert_eq!(
        gateway.mined_nonce(sender.address()).await.unwrap(),
        mined + 1,
        "one transaction for two broadcasts"
    );
}

/// anvil only: ganache 7 with its miner stopped is no model of a replacement (it takes both
/// versions of one nonce into the next block).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presigned_replacement_keeps_the_nonce_and_is_the_one_mined() {
    let dev = DevChain::anvil();
    let gateway = connect(&dev, TxPolicy::default()).await;
    let sender = key(1);
    dev.set_automine(false);
    let first = gateway
        .presign("send ETH", &sender, transfer(key(2).address()))
        .await
        .unwrap();
    let accepted = gateway.broadcast_presigned("send ETH", &first).await;
    assert_eq!(accepted.unwrap(), BroadcastOutcome::Accepted);
    let second = gateway
        .presign_replacement("send ETH", &sender, &first)
        .await
        .unwrap()
        .expect("room under the cap");
    assert_eq!(second.nonce, first.nonce);
    assert_eq!(
        second.max_fee_per_gas,
        (first.max_fee_per_gas * 120).div_ceil(100)
    );
    assert!(second.max_priority_fee_per_gas > first.max_priority_fee_per_gas);
    let accepted = gateway.broadcast_presigned("send ETH", &second).await;
    assert_eq!(accepted.unwrap(), BroadcastOutcome::Accepted);
    dev.mine(1);
    assert!(matches!(
        gateway.transaction_status(second.hash).await.unwrap(),
        TransactionStatus::Mined { success: true, .. }
    ));
    assert_eq!(
        gateway.transaction_status(first.hash).await.unwrap(),
        TransactionStatus::Unknown
    );
    assert_eq!(
        gateway.mined_nonce(sender.address()).await.unwrap(),
        first.nonce + 1
    );

    // With the cap at the fees already offered there is no room for another.
    let capped = connect(
        &dev,
        TxPolicy {
            max_fee_per_gas: second.max_fee_per_gas,
            ..TxPolicy::default()
        },
    )
    .await;
    let none = capped.presign_replacement("send ETH", &sender, &second);
    assert_eq!(none.await.unwrap(), None);
}

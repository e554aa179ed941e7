//! SimpleBlockchain against the real XBR contracts on each dev chain kind, deployed from scratch
//! per test.

mod common;

use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use common::{ChainKind, deployed_chain, key};
use serde_json::json;
use xbr_chain::{
    ChainError, ConnectOptions, ContractAddresses, Gateway, MemberLevel, SimpleBlockchain,
};

per_chain!(
    deployer_holds_supply_and_transfers_move_exact_amounts,
    concurrent_sends_from_one_key_all_land,
    member_status_appears_after_register_member,
    verifying_values_and_unknown_ids,
    wrong_contract_address_is_a_clear_error,
    stopped_chain_gives_a_bounded_clear_error,
);

fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

async fn deployer_holds_supply_and_transfers_move_exact_amounts(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    let deployer = d.deployer.address();
    let supply = U256::from(10u64).pow(U256::from(27));

    assert_eq!(chain.xbr_total_supply().await.unwrap(), supply);
    let before = chain.balances(deployer).await.unwrap();
    assert_eq!(before.xbr, supply);
    assert_eq!(before.xbr_decimal(), "1000000000");

    // ETH balance equals a raw eth_getBalance made outside alloy.
    let raw = d
        .dev
        .json_rpc(
            "eth_getBalance",
            json!([format!("{deployer:#x}"), "latest"]),
        )
        .unwrap();
    let raw = raw["result"].as_str().unwrap();
    let raw = U256::from_str_radix(raw.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(before.eth, raw);
    assert!(before.eth > U256::ZERO);

    let receiver = key(5).address();
    let fresh = chain.balances(receiver).await.unwrap();
    assert_eq!(fresh.xbr, U256::ZERO);
    assert_eq!(
        fresh.eth,
        xbr(1000),
        "the dev wallet funds every account with 1000 ETH"
    );
    assert_eq!(fresh.eth_decimal(), "1000");

    let amount = xbr(1234) + U256::from(5u64); // not a round number of tokens
    chain
        .transfer_xbr(&d.deployer, receiver, amount)
        .await
        .unwrap();
    let after_sender = chain.balances(deployer).await.unwrap();
    let after_receiver = chain.balances(receiver).await.unwrap();
    assert_eq!(after_sender.xbr, supply - amount);
    assert_eq!(after_receiver.xbr, amount);
    assert_eq!(after_receiver.xbr_decimal(), "1234.000000000000000005");
    // The sender paid gas in ETH; the receiver did not.
    assert!(after_sender.eth < before.eth);
    assert_eq!(after_receiver.eth, fresh.eth);
}

async fn concurrent_sends_from_one_key_all_land(kind: ChainKind) {
    // Six transfers from the deployer at once: each must get its own nonce.
    let d = deployed_chain(kind).await;
    let mut tasks = Vec::new();
    for i in 1..=6 {
        let chain = d.chain.clone();
        let sender = d.deployer.clone();
        tasks.push(tokio::spawn(async move {
            chain
                .transfer_xbr(&sender, key(i).address(), xbr(i as u64))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    for i in 1..=6 {
        assert_eq!(
            d.chain.xbr_balance(key(i).address()).await.unwrap(),
            xbr(i as u64)
        );
    }
}

async fn member_status_appears_after_register_member(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    let member = key(3);

    assert_eq!(chain.member_status(member.address()).await.unwrap(), None);

    // The network contract's creator is a VERIFIED member by construction.
    let deployer = chain
        .member_status(d.deployer.address())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deployer.level, MemberLevel::Verified);

    let eula = chain.eula().await.unwrap();
    assert_eq!(eula, "QmUEM5UuSUMeET2Zo8YQtDMK74Fr2SJGEyTokSYzT3uD94");
    let receipt = chain
        .register_member(&member, "QmProfileOfMember3")
        .await
        .unwrap();
    let status = chain
        .member_status(member.address())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.level, MemberLevel::Active);
    assert_eq!(status.eula, eula);
    assert_eq!(status.profile, "QmProfileOfMember3");
    assert_eq!(status.registered, U256::from(receipt.block_number.unwrap()));

    // Registering twice is refused by the contract, with its reason.
    let err = chain.register_member(&member, "").await.unwrap_err();
    assert!(
        matches!(err, ChainError::Reverted { ref reason, .. } if reason.contains("MEMBER_ALREADY_REGISTERED")),
        "{err}"
    );
}

async fn verifying_values_and_unknown_ids(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    let chain = &d.chain;
    assert_eq!(chain.verifying_chain().await.unwrap(), U256::from(1337u64));
    assert_eq!(chain.verifying_chain_id().await.unwrap(), 1337);
    assert_eq!(
        chain.verifying_contract().await.unwrap(),
        chain.addresses().network
    );
    let unknown = [7u8; 16];
    let market = xbr_core::MarketId(unknown);
    assert_eq!(chain.market_status(market).await.unwrap(), None);
    assert_eq!(chain.market_owner(market).await.unwrap(), None);
    assert_eq!(chain.domain_status(unknown.into()).await.unwrap(), None);
    assert_eq!(
        chain.channel(xbr_core::ChannelId(unknown)).await.unwrap(),
        None
    );
    assert_eq!(
        chain.markets_by_maker(key(6).address()).await.unwrap(),
        None
    );
}

async fn wrong_contract_address_is_a_clear_error(kind: ChainKind) {
    let d = deployed_chain(kind).await;
    // An account without code where the token should be.
    let mut wrong = *d.chain.addresses();
    wrong.token = key(1).address();
    let chain = SimpleBlockchain::new(d.chain.gateway().clone(), wrong);
    let err = chain.xbr_balance(Address::ZERO).await.unwrap_err();
    assert!(
        matches!(err, ChainError::BadReturnData { contract, .. } if contract == wrong.token),
        "{err}"
    );
}

async fn stopped_chain_gives_a_bounded_clear_error(kind: ChainKind) {
    let mut d = deployed_chain(kind).await;
    let url = d.dev.url.clone();
    d.dev.stop();

    let started = Instant::now();
    let err = d.chain.balances(d.deployer.address()).await.unwrap_err();
    assert!(
        matches!(err, ChainError::Unreachable { url: ref u, .. } if *u == url),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach Ethereum at {url}")),
        "{err}"
    );

    let err = SimpleBlockchain::connect(&url, ContractAddresses::unset())
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");

    let err = d
        .chain
        .transfer_xbr(&d.deployer, key(1).address(), U256::from(1u64))
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
    // Refused connections fail at once; the bound here is the configured timeouts.
    let options = ConnectOptions::default();
    assert!(
        started.elapsed() < options.request_timeout * 3,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_endpoint_times_out_instead_of_hanging() {
    // A TCP listener that accepts connections but never answers: the request timeout must end it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let options = ConnectOptions {
        connect_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(800),
        ..ConnectOptions::default()
    };
    let started = Instant::now();
    let err = Gateway::connect_with(&url, options).await.unwrap_err();
    assert!(
        matches!(err, ChainError::Unreachable { url: ref u, .. } if *u == url),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(listener);
}

#[tokio::test]
async fn bad_urls_are_rejected_without_io() {
    for bad in ["not a url", "ws://127.0.0.1:1", "ftp://example.org/"] {
        let err = Gateway::connect(bad).await.unwrap_err();
        assert!(matches!(err, ChainError::InvalidUrl { .. }), "{bad}: {err}");
    }
}

#[tokio::test]
async fn refused_port_is_unreachable() {
    let port = xbrd_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let err = Gateway::connect(&url).await.unwrap_err();
    assert!(matches!(err, ChainError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach Ethereum at {url}: ")),
        "{err}"
    );
}

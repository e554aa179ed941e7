//! Shared set-up of the ganache tests: a fresh chain and a fresh deployment per test.
#![allow(dead_code)]

use xbr_chain::{ContractBytecode, Gateway, SimpleBlockchain, deploy};
use xbr_core::eth::EthPrivateKey;
use xbrd_testkit::Ganache;

/// The ganache deterministic keys (spec §4.5), accounts 0..=6.
pub const KEYS: [&str; 7] = [
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
    "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
    "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743",
    "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
    "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
];

/// Deterministic account `i`.
pub fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(KEYS[i]).unwrap()
}

/// A chain with the XBR contracts freshly deployed by account 0.
pub struct DeployedChain {
    /// Keeps ganache running until the test ends.
    pub ganache: Ganache,
    /// Connected to the deployment.
    pub chain: SimpleBlockchain,
    /// Account 0 (the deployer, holds the XBR supply).
    pub deployer: EthPrivateKey,
}

/// Starts ganache and deploys the contracts from the installed bytecode.
pub async fn deployed_chain() -> DeployedChain {
    let ganache = Ganache::start();
    let (gateway, info) = Gateway::connect(&ganache.url).await.unwrap();
    assert_eq!(info.chain_id, ganache.chain_id);
    let deployer = key(0);
    let code = ContractBytecode::load(&xbrd_testkit::contracts_dir()).unwrap();
    let deployment = deploy(&gateway, &deployer, deployer.address(), &code)
        .await
        .unwrap();
    DeployedChain {
        ganache,
        chain: SimpleBlockchain::new(gateway, deployment.contracts),
        deployer,
    }
}

//! Shared set-up of the ganache tests: a fresh chain and a fresh deployment per test.
#![allow(dead_code)]

use xbr_chain::{ContractBytecode, Gateway, SimpleBlockchain, deploy};
use xbr_core::eth::EthPrivateKey;
use xbrd_testkit::DevChain;

/// The ganache deterministic keys (spec §4.5), accounts 0..=6.
pub const KEYS: [&str; 7] = xbrd_testkit::GANACHE_KEYS;

/// Deterministic account `i`.
pub fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(KEYS[i]).unwrap()
}

/// A chain with the XBR contracts freshly deployed by account 0.
pub struct DeployedChain {
    /// Keeps ganache running until the test ends.
    pub ganache: DevChain,
    /// Connected to the deployment.
    pub chain: SimpleBlockchain,
    /// Account 0 (the deployer, holds the XBR supply).
    pub deployer: EthPrivateKey,
}

/// Starts ganache and deploys the contracts from the installed bytecode.
pub async fn deployed_chain() -> DeployedChain {
    let ganache = DevChain::ganache();
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

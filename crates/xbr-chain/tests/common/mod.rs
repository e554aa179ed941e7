//! Shared set-up of the dev-chain tests: a fresh chain of each kind and a fresh deployment per
//! test, and [`per_chain!`](crate::per_chain) to run a test body once per [`ChainKind`].
#![allow(dead_code)]

use xbr_chain::{ContractBytecode, Gateway, SimpleBlockchain, deploy};
use xbr_core::eth::EthPrivateKey;
pub use xbrd_testkit::ChainKind;
use xbrd_testkit::DevChain;

/// The dev wallet's deterministic keys (spec §4.5), accounts 0..=6, the same on every chain kind.
pub const KEYS: [&str; 7] = xbrd_testkit::DEV_KEYS;

/// Deterministic account `i`.
pub fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(KEYS[i]).unwrap()
}

/// A chain with the XBR contracts freshly deployed by account 0.
pub struct DeployedChain {
    /// Keeps the dev chain running until the test ends.
    pub dev: DevChain,
    /// Connected to the deployment.
    pub chain: SimpleBlockchain,
    /// Account 0 (the deployer, holds the XBR supply).
    pub deployer: EthPrivateKey,
}

/// Starts a dev chain of `kind` and deploys the contracts from the installed bytecode.
pub async fn deployed_chain(kind: ChainKind) -> DeployedChain {
    let dev = DevChain::start(kind);
    let (gateway, info) = Gateway::connect(&dev.url).await.unwrap();
    assert_eq!(info.chain_id, dev.chain_id);
    let deployer = key(0);
    let code = ContractBytecode::load(&xbrd_testkit::contracts_dir()).unwrap();
    let deployment = deploy(&gateway, &deployer, deployer.address(), &code)
        .await
        .unwrap();
    DeployedChain {
        dev,
        chain: SimpleBlockchain::new(gateway, deployment.contracts),
        deployer,
    }
}

/// For each `async fn name(kind: ChainKind)` listed, defines `mod name` with one test per chain
/// kind (`name::ganache`, `name::anvil`) that runs it on a two-thread tokio runtime.
#[macro_export]
macro_rules! per_chain {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn ganache() {
                    super::$name($crate::common::ChainKind::Ganache).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn anvil() {
                    super::$name($crate::common::ChainKind::Anvil).await
                }
            }
        )+
    };
}

//! Where a chain command works: the gateway, the contracts and the pinned chain id (from `-c FILE`
//! or the flags), the connection that checks the chain id before anything is read or sent, and
//! the signing key.

use std::path::Path;

use anyhow::bail;
use xbr_chain::{ChainInfo, ConnectOptions, Gateway, SimpleBlockchain, TxPolicy};
use xbr_core::eth::EthPrivateKey;

use super::args::GatewayArgs;
use crate::chain::contract_addresses;
use crate::config::secret::{KeyKind, read_key_file};
use crate::config::validate::contracts_from_file;
use crate::config::{self, Config, ConfigError, Contracts};

/// The chain a command talks to.
pub struct Target {
    /// The gateway URL (no trailing `/`).
    pub url: String,
    /// The contract addresses.
    pub contracts: Contracts,
    /// The chain id the gateway must serve, when pinned.
    pub chain_id: Option<u64>,
    /// Fees, replacement and confirmations of the transactions sent.
    pub tx: TxPolicy,
    /// The daemon configuration given with `-c`, if any.
    pub config: Option<Config>,
}

/// The contract slots a command needs (`token`, `network`, `market`, `channel`).
pub type Need = &'static [&'static str];

impl Target {
    /// From `-c FILE` or `--gateway`/`--contracts-file`; `--chain-id` wins over the configuration's.
    pub fn resolve(args: &GatewayArgs) -> anyhow::Result<Self> {
        if let Some(path) = &args.config {
            let cfg = config::load(path)?;
            return Ok(Self::of_config(cfg, args.chain_id, args.confirmations));
        }
        let Some(gateway) = &args.gateway else {
            bail!(ConfigError::Missing {
                field: "--gateway".into(),
                expected: "an http(s) JSON-RPC URL (or -c FILE)".into(),
            });
        };
        let contracts = match &args.contracts_file {
            Some(f) => contracts_from_file(f)?,
            None => Contracts::default(),
        };
        Ok(Self {
            contracts,
            ..Self::of_url(gateway, args.chain_id, args.confirmations)
        })
    }

    /// The chain at `url`, without contracts (for deploying them).
    pub fn of_url(url: &str, chain_id: Option<u64>, confirmations: Option<u64>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            contracts: Contracts::default(),
            chain_id,
            tx: tx_policy(TxPolicy::default(), confirmations),
            config: None,
        }
    }

    /// The chain of a daemon configuration (gateway, contracts, `chain_id`,
    /// `[ethereum.transactions]`); `chain_id` and `confirmations` given on the command line win.
    pub fn of_config(cfg: Config, chain_id: Option<u64>, confirmations: Option<u64>) -> Self {
        let mut target = Self::of_url(
            cfg.ethereum.gateway.as_str(),
            chain_id.or(cfg.ethereum.chain_id),
            None,
        );
        target.tx = tx_policy(cfg.ethereum.transactions, confirmations);
        target.contracts = cfg.ethereum.contracts.clone();
        target.config = Some(cfg);
        target
    }

    /// The connection options: the pinned chain id and the transaction policy.
    pub fn options(&self) -> ConnectOptions {
        if self.chain_id.is_none() {
            tracing::warn!(
                url = %self.url,
                "the chain id is not pinned (give --chain-id, or chain_id in the configuration): working on whatever chain the gateway serves"
            );
        }
        ConnectOptions {
            expected_chain_id: self.chain_id,
            tx: self.tx,
            ..ConnectOptions::default()
        }
    }

    /// A plain gateway (no contracts yet), for deploying them.
    pub async fn gateway(&self) -> anyhow::Result<(Gateway, ChainInfo)> {
        let (gateway, info) = Gateway::connect_with(&self.url, self.options()).await?;
        tracing::info!(url = %self.url, chain_id = info.chain_id, block = info.block_number, "connected");
        Ok((gateway, info))
    }

    /// Connects after checking that the contracts in `need` are known, and that the node serves
    /// the pinned chain id.
    pub async fn connect(&self, need: Need) -> anyhow::Result<(SimpleBlockchain, ChainInfo)> {
        let c = &self.contracts;
        for name in need {
            let known = match *name {
                "token" => c.token.is_some(),
                "network" => c.network.is_some(),
                "market" => c.market.is_some(),
                "channel" => c.channel.is_some(),
                _ => true,
            };
            if !known {
                bail!(ConfigError::Missing {
                    field: format!("ethereum.contracts.{name}"),
                    expected: "the contract address (give --contracts-file or -c FILE)".into(),
                });
            }
        }
        let (gateway, info) = self.gateway().await?;
        let chain = SimpleBlockchain::new(gateway, contract_addresses(c));
        Ok((chain, info))
    }
}

/// `policy` with `confirmations` when given.
fn tx_policy(policy: TxPolicy, confirmations: Option<u64>) -> TxPolicy {
    match confirmations {
        Some(n) => TxPolicy {
            confirmations: n,
            ..policy
        }
        .normalized(),
        None => policy,
    }
}

/// The Ethereum key in `path` (`flag` names it in errors).
pub fn load_key(path: &Path, flag: &str) -> anyhow::Result<EthPrivateKey> {
    let raw = read_key_file(path, KeyKind::Ethereum).map_err(|source| ConfigError::KeyFile {
        field: flag.into(),
        source,
    })?;
    Ok(EthPrivateKey::from_bytes(raw.expose())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A seller configuration pinning chain 1337 and 3 confirmations.
    fn config(dir: &Path) -> Config {
        let key = dir.join("seller.key");
        std::fs::write(&key, "11".repeat(32)).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let path = dir.join("seller.toml");
        std::fs::write(
            &path,
            r#"role = "seller"
realm = "xbr-market"
[[transports]]
url = "ws://127.0.0.1:1/ws"
[ethereum]
gateway = "http://127.0.0.1:2/"
private_key_file = "seller.key"
chain_id = 1337
[ethereum.transactions]
confirmations = 3
[ethereum.contracts]
token = "0x254dffcd3277C0b1660F6d42EFbB754edaBAbC2B"
network = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550"
[market]
maker = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9"
[[market.apis]]
api_id = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04"
prefix = "io.crossbar.example"
price = "35 XBR"
rotation_interval = "10s"
"#,
        )
        .unwrap();
        config::load(&path).unwrap()
    }

    #[test]
    fn the_configuration_pins_the_chain_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let from_config = Target::of_config(config(dir.path()), None, None);
        assert_eq!(from_config.url, "http://127.0.0.1:2");
        assert_eq!(from_config.chain_id, Some(1337));
        assert_eq!(from_config.tx.confirmations, 3);
        let overridden = Target::of_config(config(dir.path()), Some(5), Some(7));
        assert_eq!(overridden.chain_id, Some(5));
        assert_eq!(overridden.tx.confirmations, 7);
        assert_eq!(overridden.options().expected_chain_id, Some(5));
    }

    #[test]
    fn flags_alone_give_the_default_policy_with_at_least_one_confirmation() {
        let t = Target::of_url("http://127.0.0.1:8545/", None, Some(0));
        assert_eq!(t.url, "http://127.0.0.1:8545");
        assert_eq!(t.tx.confirmations, 1);
        assert_eq!(
            Target::of_url("http://x", Some(1), None).tx,
            TxPolicy::default()
        );
    }
}

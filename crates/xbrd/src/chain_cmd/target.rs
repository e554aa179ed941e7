//! Where a chain command works: the gateway, the contracts and the pinned chain id (from `-c FILE`
//! or the flags), the connection that checks the chain id before anything is read or sent, and
//! the signing key.

use std::path::Path;

use anyhow::bail;
use xbr_chain::{ChainInfo, ConnectOptions, SimpleBlockchain};
use xbr_core::eth::EthPrivateKey;

use super::args::{GatewayArgs, KeyArgs};
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
            return Ok(Self {
                url: cfg
                    .ethereum
                    .gateway
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
                contracts: cfg.ethereum.contracts.clone(),
                chain_id: args.chain_id,
                config: Some(cfg),
            });
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
            url: gateway.trim_end_matches('/').to_owned(),
            contracts,
            chain_id: args.chain_id,
            config: None,
        })
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
        let (chain, info) = SimpleBlockchain::connect_with(
            &self.url,
            contract_addresses(c),
            ConnectOptions::default(),
        )
        .await?;
        check_chain_id(&self.url, self.chain_id, info.chain_id)?;
        tracing::info!(url = %self.url, chain_id = info.chain_id, block = info.block_number, "connected");
        Ok((chain, info))
    }
}

/// The node at `url` must serve `expected` (when pinned); unpinned, a warning says so.
pub fn check_chain_id(url: &str, expected: Option<u64>, actual: u64) -> anyhow::Result<()> {
    match expected {
        Some(expected) if expected != actual => bail!(
            "the gateway {url} serves chain {actual}, not the chain {expected} asked for (--chain-id): nothing was sent"
        ),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                chain_id = actual,
                "the chain id is not pinned (give --chain-id): working on whatever chain {url} serves"
            );
            Ok(())
        }
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

impl KeyArgs {
    /// The signing key.
    pub fn load(&self) -> anyhow::Result<EthPrivateKey> {
        load_key(&self.key_file, "--key-file")
    }
}

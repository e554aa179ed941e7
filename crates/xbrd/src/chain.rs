//! [`ChainApi`] over xbr-chain's [`SimpleBlockchain`], connecting lazily: the daemon starts (and reports
//! "chain not reachable" on `/ready`) while the gateway is down, and connects once it answers.
//!
//! The connection carries the configured chain id pin (`ethereum.chain_id`) and transaction
//! policy (`[ethereum.transactions]`): a gateway serving another chain is never connected, so no
//! transaction is ever signed for it, and every probe reports it ([`ChainError::WrongChain`]).

use std::sync::{Arc, RwLock};

use alloy_primitives::Address;
use futures_util::future::BoxFuture;
use xbr_chain::{ConnectOptions, ContractAddresses, SimpleBlockchain};

use crate::config::{Config, Contracts};
use crate::ports::{ChainApi, ChainError, ChainHead, Membership, OnChainBalance};

/// The configured contract addresses as xbr-chain wants them (absent ones are zero; the roles that need
/// them are validated to have them).
pub fn contract_addresses(c: &Contracts) -> ContractAddresses {
    let z = |a: Option<Address>| a.unwrap_or(Address::ZERO);
    ContractAddresses {
        token: z(c.token),
        network: z(c.network),
        domain: z(c.domain),
        catalog: z(c.catalog),
        market: z(c.market),
        channel: z(c.channel),
    }
}

/// A lazily connected chain client.
pub struct Chain {
    url: String,
    addresses: ContractAddresses,
    options: ConnectOptions,
    connected: RwLock<Option<SimpleBlockchain>>,
}

/// The connect options for the configuration: its chain id pin and transaction policy.
pub fn connect_options(cfg: &Config) -> ConnectOptions {
    ConnectOptions {
        expected_chain_id: cfg.ethereum.chain_id,
        tx: cfg.ethereum.transactions,
        ..ConnectOptions::default()
    }
}

impl Chain {
    /// A client for the configured gateway (no I/O yet).
    pub fn new(cfg: &Config) -> Arc<Self> {
        Arc::new(Chain {
            url: cfg
                .ethereum
                .gateway
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            addresses: contract_addresses(&cfg.ethereum.contracts),
            options: connect_options(cfg),
            connected: RwLock::new(None),
        })
    }

    /// The connected client, connecting first if needed.
    pub async fn get(&self) -> Result<SimpleBlockchain, ChainError> {
        if let Some(c) = self
            .connected
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(c);
        }
        let (chain, info) = SimpleBlockchain::connect_with(&self.url, self.addresses, self.options)
            .await
            .map_err(|e| match e {
                xbr_chain::ChainError::WrongChain { .. } => ChainError::WrongChain(e.to_string()),
                e => ChainError::Unreachable(e.to_string()),
            })?;
        tracing::debug!(chain_id = info.chain_id, block = info.block_number, url = %self.url, "connected to Ethereum");
        *self.connected.write().unwrap_or_else(|e| e.into_inner()) = Some(chain.clone());
        Ok(chain)
    }
}

fn read_error(e: impl std::fmt::Display) -> ChainError {
    ChainError::Read(e.to_string())
}

impl ChainApi for Chain {
    fn head(&self) -> BoxFuture<'_, Result<ChainHead, ChainError>> {
        Box::pin(async move {
            let chain = self.get().await?;
            let info = chain.gateway().chain_info().await.map_err(read_error)?;
            Ok(ChainHead {
                chain_id: info.chain_id,
                block: info.block_number,
            })
        })
    }

    fn balances(&self, address: Address) -> BoxFuture<'_, Result<OnChainBalance, ChainError>> {
        Box::pin(async move {
            let b = self
                .get()
                .await?
                .balances(address)
                .await
                .map_err(read_error)?;
            Ok(OnChainBalance {
                eth: b.eth,
                xbr: b.xbr,
            })
        })
    }

    fn member(&self, address: Address) -> BoxFuture<'_, Result<Option<Membership>, ChainError>> {
        Box::pin(async move {
            let m = self
                .get()
                .await?
                .member_status(address)
                .await
                .map_err(read_error)?;
            Ok(m.map(|m| Membership {
                registered: m.registered,
                eula: m.eula,
                profile: m.profile,
                level: serde_json::to_value(m.level)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{:?}", m.level)),
            }))
        })
    }
}

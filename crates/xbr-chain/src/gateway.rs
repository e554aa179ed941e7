//! The JSON-RPC connection to an Ethereum node: HTTP client with timeouts, read provider,
//! locally signing providers, and the mapping of transport/contract errors to [`ChainError`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_contract::{CallBuilder, CallDecoder};
use alloy_network::EthereumWallet;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder};
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolError};
use alloy_transport::{RpcError, TransportErrorKind};
use alloy_transport_http::Http;
use xbr_core::eth::EthPrivateKey;

use crate::error::{ChainError, Result};
use crate::types::ChainInfo;

/// Timeouts of a gateway connection. Every request is bounded, so a stopped or unreachable
/// node gives an error instead of a hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// TCP (+TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each JSON-RPC request, connect included.
    pub request_timeout: Duration,
    /// How long to wait for a transaction receipt.
    pub receipt_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(15),
            receipt_timeout: Duration::from_secs(120),
        }
    }
}

/// What a node knows of a transaction ([`Gateway::transaction_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// The node does not know the hash (never received, dropped, or reorganised out).
    Unknown,
    /// Known, not mined yet.
    Pending,
    /// Mined in `block`; `success` is the receipt's status.
    Mined {
        /// The block number.
        block: u64,
        /// Status 1 (`false`: reverted).
        success: bool,
    },
}

/// A connection to an Ethereum JSON-RPC node (no contract addresses yet).
///
/// Transactions are always signed locally with keys we hold ([`Gateway::signing_provider`]);
/// `eth_sendTransaction` is never used, so any JSON-RPC node works, not only dev chains with
/// unlocked accounts.
#[derive(Debug, Clone)]
pub struct Gateway {
    url: String,
    client: RpcClient,
    provider: DynProvider,
    chain_id: u64,
    options: ConnectOptions,
    senders: SenderLocks,
}

/// One async lock per sending address: a transaction is filled (nonce = the node's pending
/// count) and submitted under its sender's lock, so concurrent sends from one key never reuse
/// a nonce. Only submission is serialised; receipts are awaited outside the lock.
#[derive(Debug, Clone, Default)]
struct SenderLocks(Arc<Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>>);

impl SenderLocks {
    async fn lock(&self, sender: Address) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.entry(sender).or_default().clone()
        };
        lock.lock_owned().await
    }
}

impl Gateway {
    /// Connects with [`ConnectOptions::default`]; see [`Gateway::connect_with`].
    pub async fn connect(url: &str) -> Result<(Self, ChainInfo)> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Connects to the node at `url` (http or https) and reads its chain id and block number.
    ///
    /// Fails with [`ChainError::Unreachable`] (`cannot reach Ethereum at <url>`) if the node does
    /// not answer within the configured timeouts.
    pub async fn connect_with(url: &str, options: ConnectOptions) -> Result<(Self, ChainInfo)> {
        let parsed: reqwest::Url = url.parse().map_err(|e| ChainError::InvalidUrl {
            url: url.to_owned(),
            reason: format!("{e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChainError::InvalidUrl {
                url: url.to_owned(),
                reason: "only http:// and https:// gateways are supported".into(),
            });
        }
        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .build()
            .map_err(|e| ChainError::HttpClient(e.to_string()))?;
        let is_local = parsed
            .host_str()
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        let client = RpcClient::new(Http::with_client(http, parsed), is_local);
        let provider = ProviderBuilder::new()
            .connect_client(client.clone())
            .erased();
        let mut gateway = Self {
            url: url.to_owned(),
            client,
            provider,
            chain_id: 0,
            options,
            senders: SenderLocks::default(),
        };
        let info = gateway.chain_info().await?;
        gateway.chain_id = info.chain_id;
        tracing::debug!(
            url,
            chain_id = info.chain_id,
            block = info.block_number,
            "connected to Ethereum"
        );
        Ok((gateway, info))
    }

    /// The gateway URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id read at connect time.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The timeouts in use.
    pub fn options(&self) -> ConnectOptions {
        self.options
    }

    /// The read-only provider (no wallet).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Chain id and current block number, freshly read.
    pub async fn chain_info(&self) -> Result<ChainInfo> {
        // Both requests are bounded by the HTTP timeouts; the outer timeout also covers a node
        // that accepts the connection but never answers at the JSON-RPC level.
        let budget = self.options.request_timeout * 2 + self.options.connect_timeout;
        let fut = async {
            let chain_id = self
                .provider
                .get_chain_id()
                .await
                .map_err(|e| self.rpc_error("eth_chainId", e))?;
            let block_number = self
                .provider
                .get_block_number()
                .await
                .map_err(|e| self.rpc_error("eth_blockNumber", e))?;
            Ok(ChainInfo {
                chain_id,
                block_number,
            })
        };
        match tokio::time::timeout(budget, fut).await {
            Ok(result) => result,
            Err(_) => Err(self.unreachable(format!("no answer within {budget:?}"))),
        }
    }

    /// The current block number.
    pub async fn block_number(&self) -> Result<u64> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| self.rpc_error("eth_blockNumber", e))
    }

    /// Mines `blocks` empty blocks (`evm_mine`; dev chains such as ganache only), e.g. to move
    /// the head past a signature's validity window in tests.
    pub async fn dev_mine(&self, blocks: u64) -> Result<()> {
        #[derive(Clone, Debug, serde::Serialize)]
        struct MineOptions {
            blocks: u64,
        }
        self.provider
            .raw_request::<_, serde::de::IgnoredAny>("evm_mine".into(), (MineOptions { blocks },))
            .await
            .map_err(|e| self.rpc_error("evm_mine", e))?;
        Ok(())
    }

    /// ETH balance in wei (`eth_getBalance` at the latest block).
    pub async fn eth_balance(&self, address: Address) -> Result<U256> {
        self.provider
            .get_balance(address)
            .await
            .map_err(|e| self.rpc_error("eth_getBalance", e))
    }

    /// A provider that fills nonce, gas, fees and chain id and signs with `key` locally.
    pub fn signing_provider(&self, key: &EthPrivateKey) -> DynProvider {
        let wallet = EthereumWallet::from(local_signer(key));
        ProviderBuilder::new()
            .wallet(wallet)
            .connect_client(self.client.clone())
            .erased()
    }

    /// Sends `tx` signed by `key` (nonce, gas, fees and chain id filled by the provider) and
    /// waits for its receipt; see [`Gateway::confirm`].
    pub async fn send_transaction(
        &self,
        call: &str,
        key: &EthPrivateKey,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt> {
        let provider = self.signing_provider(key);
        let pending = {
            let _sending = self.senders.lock(key.address()).await;
            provider
                .send_transaction(tx)
                .await
                .map_err(|e| self.rpc_error(call, e))?
        };
        self.confirm(call, pending).await
    }

    /// Sends a contract call built on a [`Gateway::signing_provider`] of `key` and waits for
    /// its receipt. `contract` names the callee in errors.
    pub async fn send_call<P, D>(
        &self,
        call: &str,
        contract: Address,
        key: &EthPrivateKey,
        builder: CallBuilder<P, D>,
    ) -> Result<TransactionReceipt>
    where
        P: Provider,
        D: CallDecoder,
    {
        let tx_hash = self.submit_call(call, contract, key, builder).await?;
        self.confirm_hash(call, tx_hash).await
    }

    /// Sends a contract call like [`Gateway::send_call`] but returns as soon as the node accepted
    /// the transaction: its hash, to follow with [`Gateway::transaction_status`]. A call the node
    /// refuses to estimate because it reverts is [`ChainError::Reverted`].
    pub async fn submit_call<P, D>(
        &self,
        call: &str,
        contract: Address,
        key: &EthPrivateKey,
        builder: CallBuilder<P, D>,
    ) -> Result<B256>
    where
        P: Provider,
        D: CallDecoder,
    {
        let _sending = self.senders.lock(key.address()).await;
        let pending = builder
            .send()
            .await
            .map_err(|e| self.contract_error(call, contract, e))?;
        Ok(*pending.tx_hash())
    }

    /// A watcher of the sent transaction `tx_hash` (for [`Gateway::confirm`]).
    fn pending(&self, tx_hash: B256) -> PendingTransactionBuilder<alloy_network::Ethereum> {
        PendingTransactionBuilder::new(self.provider.root().clone(), tx_hash)
    }

    /// Waits for the receipt of the sent transaction `tx_hash`, as [`Gateway::confirm`].
    pub async fn confirm_hash(&self, call: &str, tx_hash: B256) -> Result<TransactionReceipt> {
        self.confirm(call, self.pending(tx_hash)).await
    }

    /// What the node knows of the transaction `tx_hash`: mined (with its block and status),
    /// pending (known, not mined), or unknown (never seen, dropped, or reorganised out).
    pub async fn transaction_status(&self, tx_hash: B256) -> Result<TransactionStatus> {
        let receipt = self
            .provider
            .get_transaction_receipt(tx_hash)
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionReceipt", e))?;
        if let Some(r) = receipt
            && let Some(block) = r.block_number
        {
            return Ok(TransactionStatus::Mined {
                block,
                success: r.status(),
            });
        }
        let tx = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionByHash", e))?;
        Ok(match tx {
            Some(_) => TransactionStatus::Pending,
            None => TransactionStatus::Unknown,
        })
    }

    /// Waits (bounded by [`ConnectOptions::receipt_timeout`]) for the receipt of a sent
    /// transaction; a receipt with status 0 is [`ChainError::TransactionFailed`].
    pub async fn confirm(
        &self,
        call: &str,
        pending: PendingTransactionBuilder<alloy_network::Ethereum>,
    ) -> Result<TransactionReceipt> {
        let tx_hash = *pending.tx_hash();
        let receipt = pending
            .with_timeout(Some(self.options.receipt_timeout))
            .get_receipt()
            .await
            .map_err(|e| ChainError::NoReceipt {
                call: call.to_owned(),
                tx_hash,
                reason: e.to_string(),
            })?;
        if !receipt.status() {
            return Err(ChainError::TransactionFailed {
                call: call.to_owned(),
                tx_hash,
            });
        }
        tracing::debug!(call, %tx_hash, block = ?receipt.block_number, gas = receipt.gas_used, "confirmed");
        Ok(receipt)
    }

    pub(crate) fn unreachable(&self, reason: String) -> ChainError {
        ChainError::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }

    /// Maps a JSON-RPC error: transport failures are [`ChainError::Unreachable`], node errors
    /// carrying revert data are [`ChainError::Reverted`], the rest [`ChainError::Rpc`].
    pub(crate) fn rpc_error(&self, method: &str, err: RpcError<TransportErrorKind>) -> ChainError {
        match err {
            RpcError::Transport(kind) => self.unreachable(transport_reason(&kind)),
            RpcError::ErrorResp(payload) => {
                if let Some(reason) = payload.as_revert_data().and_then(|d| decode_revert(&d)) {
                    return ChainError::Reverted {
                        call: method.to_owned(),
                        reason,
                    };
                }
                if payload.message.contains("revert") {
                    return ChainError::Reverted {
                        call: method.to_owned(),
                        reason: payload.message.to_string(),
                    };
                }
                ChainError::Rpc {
                    method: method.to_owned(),
                    reason: payload.to_string(),
                }
            }
            other => ChainError::Rpc {
                method: method.to_owned(),
                reason: other.to_string(),
            },
        }
    }

    /// Maps an error of a generated contract binding call.
    pub(crate) fn contract_error(
        &self,
        call: &str,
        contract: Address,
        err: alloy_contract::Error,
    ) -> ChainError {
        match err {
            alloy_contract::Error::TransportError(e) => self.rpc_error(call, e),
            alloy_contract::Error::ZeroData(_, e) => ChainError::BadReturnData {
                call: call.to_owned(),
                contract,
                reason: format!("no data returned ({e}); the address holds no contract"),
            },
            alloy_contract::Error::AbiError(e) => ChainError::BadReturnData {
                call: call.to_owned(),
                contract,
                reason: e.to_string(),
            },
            alloy_contract::Error::PendingTransactionError(e) => ChainError::NoReceipt {
                call: call.to_owned(),
                tx_hash: B256::ZERO,
                reason: e.to_string(),
            },
            other => ChainError::Rpc {
                method: call.to_owned(),
                reason: other.to_string(),
            },
        }
    }
}

/// The alloy signer for an xbr-core key.
pub(crate) fn local_signer(key: &EthPrivateKey) -> PrivateKeySigner {
    let bytes = key.to_bytes();
    PrivateKeySigner::from_bytes(&B256::from(*bytes))
        .expect("an EthPrivateKey is always a valid secp256k1 scalar")
}

/// Decodes a Solidity `Error(string)` revert payload.
pub(crate) fn decode_revert(data: &[u8]) -> Option<String> {
    Revert::abi_decode(data).ok().map(|r| r.reason)
}

fn transport_reason(kind: &TransportErrorKind) -> String {
    match kind {
        TransportErrorKind::Custom(err) => {
            // reqwest errors say "error sending request for url (...)"; the cause says why.
            let mut reason = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                reason = format!("{reason}: {cause}");
                source = cause.source();
            }
            reason
        }
        other => other.to_string(),
    }
}

/// TLS for https gateways uses rustls with the ring provider (see the crate docs). reqwest needs a
/// process-wide default provider; install ring unless the application already chose one.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race against another installer is fine: some provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

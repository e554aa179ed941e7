//! The JSON-RPC connection to an Ethereum node: HTTP client with timeouts, the chain id pin,
//! read provider, the entry points of the send path ([`crate::tx`]), and the mapping of
//! transport/contract errors to [`ChainError`].

use std::time::Duration;

use alloy_contract::{CallBuilder, CallDecoder};
use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_client::RpcClient;
use alloy_rpc_types_eth::{TransactionReceipt, TransactionRequest};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{Revert, SolError};
use alloy_transport::{RpcError, TransportErrorKind};
use alloy_transport_http::Http;
use xbr_core::eth::EthPrivateKey;

use crate::error::{ChainError, Result};
use crate::tx::{NonceManager, Replacer, TxPolicy};
use crate::types::ChainInfo;

/// How a gateway connects and sends. Every request is bounded, so a stopped or unreachable
/// node gives an error instead of a hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// TCP (+TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of each JSON-RPC request, connect included.
    pub request_timeout: Duration,
    /// The chain the node must serve: connecting to another is [`ChainError::WrongChain`].
    /// `None` accepts any chain (dev chains, read-only tools).
    pub expected_chain_id: Option<u64>,
    /// Fees, replacement and confirmations of every transaction sent (see [`crate::tx`]).
    pub tx: TxPolicy,
}

impl Default for ConnectOptions {
    /// 3 s to connect, 15 s per request, any chain, [`TxPolicy::default`].
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(15),
            expected_chain_id: None,
            tx: TxPolicy::default(),
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
/// Transactions are always signed locally with keys we hold, for the chain id read (and
/// checked) at connect time; `eth_sendTransaction` is never used, so any JSON-RPC node works,
/// not only dev chains with unlocked accounts. Clones share one nonce manager.
#[derive(Debug, Clone)]
pub struct Gateway {
    url: String,
    pub(crate) client: RpcClient,
    pub(crate) provider: DynProvider,
    pub(crate) chain_id: u64,
    pub(crate) options: ConnectOptions,
    pub(crate) nonces: NonceManager,
}

impl Gateway {
    /// Connects with [`ConnectOptions::default`]; see [`Gateway::connect_with`].
    pub async fn connect(url: &str) -> Result<(Self, ChainInfo)> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Connects to the node at `url` (http or https) and reads its chain id and block number.
    ///
    /// Fails with [`ChainError::Unreachable`] (`cannot reach Ethereum at <url>`) if the node does
    /// not answer within the configured timeouts, and with [`ChainError::WrongChain`] if it
    /// serves another chain than [`ConnectOptions::expected_chain_id`].
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
            options: ConnectOptions {
                tx: options.tx.normalized(),
                ..options
            },
            nonces: NonceManager::default(),
        };
        let info = gateway.chain_info().await?;
        if let Some(expected) = options.expected_chain_id
            && expected != info.chain_id
        {
            return Err(ChainError::WrongChain {
                url: url.to_owned(),
                expected,
                actual: info.chain_id,
            });
        }
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

    /// The options in use (the transaction policy [normalized](TxPolicy::normalized)).
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

    /// Sends `tx` signed by `key` through the send path of [`crate::tx`] (gas, capped fees,
    /// balance check, nonce, replacement while stuck) and waits for its receipt at the policy's
    /// confirmation depth. `call` names the transaction in errors and progress events.
    pub async fn send_transaction(
        &self,
        call: &str,
        key: &EthPrivateKey,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt> {
        let sent = self.submit_request(call, key, tx).await?;
        let hashes = sent.hashes.clone();
        let replacer = Replacer {
            key,
            sent,
            replacements: 0,
        };
        self.await_receipt(call, hashes, Some(replacer)).await
    }

    /// [`Gateway::send_transaction`] without waiting: the hash once the node accepted the
    /// transaction (follow it with [`Gateway::transaction_status`]; it is never replaced).
    pub async fn submit_transaction(
        &self,
        call: &str,
        key: &EthPrivateKey,
        tx: TransactionRequest,
    ) -> Result<B256> {
        Ok(self.submit_request(call, key, tx).await?.hashes[0])
    }

    /// Sends a contract call built by a `sol!` binding (on any provider: only its calldata,
    /// target and value are used) like [`Gateway::send_transaction`]. `contract` names the
    /// callee in errors.
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
        self.send_transaction(call, key, call_request(contract, builder))
            .await
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
        self.submit_transaction(call, key, call_request(contract, builder))
            .await
    }

    /// Waits for the receipt of the sent transaction `tx_hash` at the policy's confirmation
    /// depth (without replacing it); a status-0 receipt is [`ChainError::TransactionFailed`].
    pub async fn confirm_hash(&self, call: &str, tx_hash: B256) -> Result<TransactionReceipt> {
        self.await_receipt(call, vec![tx_hash], None).await
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
            None => {
                // Dropped (or never sent): nonces counted past it would leave a gap.
                self.nonces.forget_all();
                TransactionStatus::Unknown
            }
        })
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

/// The transaction request of a binding's call to `contract`.
pub(crate) fn call_request<P: Provider, D: CallDecoder>(
    contract: Address,
    builder: CallBuilder<P, D>,
) -> TransactionRequest {
    builder.into_transaction_request().with_to(contract)
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

//! The errors of this crate.

use std::path::PathBuf;

use alloy_primitives::{Address, B256, U256};

use crate::addresses::AddressConfigError;

/// Anything that can go wrong talking to the chain, deploying or bootstrapping.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The gateway did not answer (refused, timed out, not JSON-RPC).
    #[error("cannot reach Ethereum at {url}: {reason}")]
    Unreachable {
        /// The gateway URL.
        url: String,
        /// What happened.
        reason: String,
    },

    /// The gateway URL does not parse or is not http(s).
    #[error("invalid Ethereum gateway URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),

    /// A JSON-RPC request failed after the connection was made.
    #[error("Ethereum RPC {method} failed: {reason}")]
    Rpc {
        /// The method or contract call.
        method: String,
        /// The transport's or node's error.
        reason: String,
    },

    /// A contract call or transaction was rejected by the EVM with a revert reason.
    #[error("{call} reverted: {reason}")]
    Reverted {
        /// The contract function, e.g. `XBRChannel.openChannel`.
        call: String,
        /// The decoded revert reason (e.g. `INVALID_CHANNEL_SIGNATURE`) or the node's message.
        reason: String,
    },

    /// A mined transaction has status 0.
    #[error(
        "{call} failed on chain (transaction {tx_hash} reverted{})",
        reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    )]
    TransactionFailed {
        /// The contract function.
        call: String,
        /// The transaction hash.
        tx_hash: B256,
        /// The revert reason, when replaying the call at the block gives one.
        reason: Option<String>,
    },

    /// The node serves another chain than the one configured ([`ConnectOptions::expected_chain_id`](crate::ConnectOptions::expected_chain_id)).
    /// No transaction is ever signed for it.
    #[error("the Ethereum node at {url} serves chain {actual}, but chain {expected} is configured")]
    WrongChain {
        /// The gateway URL.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// The node's `eth_chainId`.
        actual: u64,
    },

    /// The next block's base fee is above the configured cap ([`TxPolicy::max_fee_per_gas`](crate::TxPolicy::max_fee_per_gas)):
    /// nothing was sent.
    #[error(
        "the base fee ({base_fee} wei/gas) is above the configured cap of {cap} wei/gas; nothing was sent"
    )]
    FeeCapExceeded {
        /// The next block's base fee (wei per gas).
        base_fee: u128,
        /// The configured `max_fee_per_gas` cap (wei per gas).
        cap: u128,
    },

    /// The sender cannot pay for the transaction (gas limit × max fee + value); checked before
    /// sending, and mapped from the node's "insufficient funds" answer.
    #[error("{address} has {have} wei but the transaction may cost up to {need} wei")]
    InsufficientFunds {
        /// The sender.
        address: Address,
        /// What the transaction may cost at most (wei).
        need: U256,
        /// The sender's balance (wei).
        have: U256,
    },

    /// No receipt arrived in time (or the watcher failed).
    #[error("{call}: no receipt for transaction {tx_hash}: {reason}")]
    NoReceipt {
        /// The contract function.
        call: String,
        /// The transaction hash.
        tx_hash: B256,
        /// The watcher's error (e.g. a timeout).
        reason: String,
    },

    /// A contract's return data did not decode against its ABI (wrong address, not a contract).
    #[error(
        "{call} returned data that does not match its ABI (is {contract} the right address?): {reason}"
    )]
    BadReturnData {
        /// The contract function.
        call: String,
        /// The contract address called.
        contract: Address,
        /// The decoder's error.
        reason: String,
    },

    /// A contract address from configuration is malformed.
    #[error(transparent)]
    Config(#[from] AddressConfigError),

    /// A bytecode file is missing or unreadable.
    #[error("cannot read contract bytecode {path}: {source}")]
    BytecodeIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A bytecode file is not hex, or has an unexpected link placeholder.
    #[error("invalid bytecode for {contract}: {reason}")]
    BadBytecode {
        /// The contract name.
        contract: String,
        /// What is wrong.
        reason: String,
    },

    /// A deployment transaction produced no contract.
    #[error("deploying {contract} failed: {reason}")]
    DeployFailed {
        /// The contract name.
        contract: String,
        /// What happened.
        reason: String,
    },

    /// Writing the address files failed.
    #[error("cannot write {path}: {source}")]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A market bootstrap description is inconsistent.
    #[error("invalid market description: {0}")]
    InvalidDescription(String),
}

/// Result alias of this crate.
pub type Result<T, E = ChainError> = std::result::Result<T, E>;

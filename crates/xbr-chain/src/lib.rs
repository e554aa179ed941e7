//! # xbr-chain
//!
//! The XBR contracts on Ethereum, through alloy:
//!
//! | module | what |
//! |---|---|
//! | [`bindings`] | `sol!` bindings generated from the committed ABIs in `contracts-abi/` |
//! | [`addresses`] | [`ContractAddresses`] from configuration, `XBR_DEBUG_*_ADDR` overrides, address files |
//! | [`gateway`] | [`Gateway`]: the JSON-RPC connection with timeouts, the chain id pin, send entry points |
//! | [`tx`] | the one send path: capped EIP-1559 fees, nonce manager, replacement, confirmations ([`TxPolicy`]) |
//! | [`blockchain`] | [`SimpleBlockchain`]: balances, member/market/domain/channel status, transactions |
//! | [`logs`] | [`ChannelEvent`]: a market's `Opened`/`Closing`/`Closed` logs over a bounded block range |
//! | [`mod@deploy`] | dev-chain deployment of the seven contracts from the pinned wheel's bytecode |
//! | [`mod@bootstrap`] | a complete market (members, market, joins, payment and paying channels) from a description |
//! | [`queries`] | reads the `xbrd chain` commands need: a member's actor entry in a market |
//!
//! Transactions are always signed locally (alloy's local signer and wallet) for the pinned
//! chain id; the node only needs to be a standard JSON-RPC endpoint — `eth_sendTransaction` is
//! never used. See [`tx`] for fees, nonces, replacement and confirmations.
//!
//! ## TLS
//! The HTTP transport is reqwest with **rustls and the ring crypto provider**: no OpenSSL at
//! build or run time (static Docker images, any distro), and ring builds far faster than
//! aws-lc-rs (no C/CMake toolchain step) on small CI machines. If the application installed a
//! rustls default provider before connecting, that one is used instead.
//!
//! ## Bounded waits
//! Every request has a connect and a request timeout ([`ConnectOptions`]), and receipts are
//! awaited with a timeout ([`TxPolicy::receipt_timeout`]), so a stopped or unreachable node is an error
//! ([`ChainError::Unreachable`]: `cannot reach Ethereum at <url>`), never a hang.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod addresses;
pub mod bindings;
pub mod blockchain;
pub mod bootstrap;
pub mod deploy;
pub mod error;
pub mod gateway;
pub mod logs;
pub mod tx;
pub mod types;

pub mod queries;

pub use addresses::{AddressConfigError, ContractAddresses, ContractSlot};
pub use alloy_primitives::{Address, B128, U256};
pub use blockchain::{CloseChannel, CreateMarket, OpenChannel, SimpleBlockchain};
pub use bootstrap::{BootstrappedChannel, BootstrappedMarket, MarketDescription, bootstrap};
pub use deploy::{ContractBytecode, Deployment, deploy};
pub use error::{ChainError, Result};
pub use gateway::{ConnectOptions, Gateway, TransactionStatus};
pub use logs::{ChannelEvent, ChannelSettlement};
pub use queries::ActorStatus;
pub use tx::{BroadcastOutcome, PresignedTx, TxPolicy};
pub use types::{
    ActorType, Balances, ChainInfo, ChannelInfo, ChannelOpened, ChannelState, ChannelType,
    DomainState, DomainStatus, MarketStatus, MemberLevel, MemberStatus,
};
/// The typed ids and signature of the public API (on-chain `bytes16` ids and `bytes` signatures).
pub use xbr_core::{ChannelId, MarketId, Signature};

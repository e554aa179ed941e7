//! Transactions that are safe on public chains: the one send path every transaction of a
//! [`Gateway`](crate::Gateway) takes (contract calls and plain transfers alike).
//!
//! 1. **Prepare**: the chain id pinned at connect time, the gas estimated (a call that reverts
//!    is [`ChainError::Reverted`](crate::ChainError::Reverted) with the decoded reason), EIP-1559
//!    fees from the node (alloy's estimator over `eth_feeHistory`, the tip at least
//!    `eth_maxPriorityFeePerGas`) under the [`TxPolicy`] caps (a base fee above the cap is
//!    [`ChainError::FeeCapExceeded`](crate::ChainError::FeeCapExceeded)), and the sender's
//!    balance checked ([`ChainError::InsufficientFunds`](crate::ChainError::InsufficientFunds)).
//! 2. **Send** under the key's nonce lease (`nonce`): signed locally, `eth_sendRawTransaction`.
//! 3. **Wait** (`wait`): not mined after `replace_after` → re-signed with the same nonce and
//!    fees bumped by `fee_bump_percent` (capped), up to `max_replacements`; any version sent may
//!    be the one mined; then `confirmations` blocks, the receipt looked up again each time (a
//!    reorg sends it back to waiting).
//!
//! Callers that must persist a transaction before it leaves (the market maker's close worker)
//! sign and broadcast in two steps instead ([`PresignedTx`], module `presigned`).
//!
//! Progress is logged as `tracing` info events on target `xbr_chain::tx`: `sent` (call, hash,
//! nonce, fees), `replaced`, `mined` (block), `confirmed` (depth).

mod fees;
mod nonce;
mod policy;
mod presigned;
mod send;
mod wait;

pub(crate) use nonce::NonceManager;
pub use policy::{GWEI, TxPolicy};
pub use presigned::{BroadcastOutcome, PresignedTx};
pub(crate) use wait::Replacer;

/// The `tracing` target of transaction progress events.
pub const TARGET: &str = "xbr_chain::tx";

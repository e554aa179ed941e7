//! Transactions signed ahead of their broadcast, for callers that persist what they send before
//! it leaves (the market maker's close worker): sign with the key's next nonce, persist, then
//! broadcast the exact bytes — again after a restart, never a second transaction in their place.
//!
//! Signing takes the same steps as the [send path](crate::tx) (gas estimate, capped EIP-1559
//! fees, balance check, the nonce manager's next nonce) but sends nothing; the nonce counts as
//! used from then on. A replacement re-signs the same transaction (same nonce, gas and call)
//! with fees bumped per [`TxPolicy`](crate::TxPolicy). Waiting, replacing and deciding that a
//! nonce was taken by another transaction are the caller's: it knows what it persisted.

use alloy_network::eip2718::Decodable2718;
use alloy_network::{Ethereum, Network};
use alloy_primitives::{Address, B256, Bytes};
use alloy_provider::Provider;
use alloy_rpc_types_eth::TransactionRequest;
use xbr_core::eth::EthPrivateKey;

use crate::blockchain::{CLOSE_CHANNEL, CloseChannel, SimpleBlockchain, close_call};
use crate::error::{ChainError, Result};
use crate::gateway::{Gateway, call_request};
use crate::tx::TARGET;
use crate::tx::fees::{Fees, bumped};
use crate::tx::send::{Refusal, log_sent};

/// A signed EIP-1559 transaction, not necessarily broadcast yet: what a caller persists first.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedTx {
    /// The transaction hash.
    pub hash: B256,
    /// The sender's nonce it uses (every replacement keeps it).
    pub nonce: u64,
    /// `maxFeePerGas` (wei).
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas` (wei).
    pub max_priority_fee_per_gas: u128,
    /// The signed transaction, EIP-2718 encoded (what `eth_sendRawTransaction` takes).
    pub raw: Bytes,
}

impl std::fmt::Debug for PresignedTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedTx")
            .field("hash", &self.hash)
            .field("nonce", &self.nonce)
            .field("max_fee_per_gas", &self.max_fee_per_gas)
            .field("max_priority_fee_per_gas", &self.max_priority_fee_per_gas)
            .field("raw_len", &self.raw.len())
            .finish()
    }
}

impl PresignedTx {
    /// Reads a signed EIP-1559 transaction back from its bytes (e.g. as persisted).
    pub fn from_raw(raw: &[u8]) -> Result<Self> {
        Ok(decode(raw)?.0)
    }

    fn fees(&self) -> Fees {
        Fees {
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
        }
    }
}

/// What the node did with a broadcast ([`Gateway::broadcast_presigned`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastOutcome {
    /// Accepted, or known already.
    Accepted,
    /// Refused: the nonce is used (by one of the sender's transactions that was mined, or by
    /// another) or out of order.
    NonceUsed(String),
    /// Refused: a transaction with this nonce is pending and the fees are not enough higher.
    Underpriced(String),
    /// Refused: the sender cannot pay for it.
    InsufficientFunds,
}

/// The transaction in `raw` and its request (for re-signing).
fn decode(raw: &[u8]) -> Result<(PresignedTx, TransactionRequest)> {
    let bad = |reason: String| ChainError::Rpc {
        method: "eth_sendRawTransaction".into(),
        reason: format!("not a signed EIP-1559 transaction: {reason}"),
    };
    let envelope = <Ethereum as Network>::TxEnvelope::decode_2718(&mut &raw[..])
        .map_err(|e| bad(e.to_string()))?;
    let hash = *envelope.tx_hash();
    let request: TransactionRequest = envelope.into();
    let (Some(nonce), Some(max_fee_per_gas), Some(max_priority_fee_per_gas)) = (
        request.nonce,
        request.max_fee_per_gas,
        request.max_priority_fee_per_gas,
    ) else {
        return Err(bad("no nonce or no EIP-1559 fees".into()));
    };
    let tx = PresignedTx {
        hash,
        nonce,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        raw: Bytes::copy_from_slice(raw),
    };
    Ok((tx, request))
}

impl Gateway {
    /// Prepares and signs `tx` from `key` like the send path (gas, capped fees, balance check)
    /// with the key's next nonce, and sends nothing: persist it, then
    /// [`broadcast_presigned`](Gateway::broadcast_presigned). The nonce counts as used by this
    /// gateway from now on. A call that reverts is [`ChainError::Reverted`].
    pub async fn presign(
        &self,
        call: &str,
        key: &EthPrivateKey,
        tx: TransactionRequest,
    ) -> Result<PresignedTx> {
        let from = key.address();
        let (request, fees, _) = self.prepare(call, from, tx).await?;
        let mut lease = self.nonces.lease(from).await;
        let nonce = lease.next(self.pending_nonce(from).await?);
        let signed = self.sign(call, key, &request, nonce, fees).await?;
        lease.sent(nonce);
        tracing::debug!(target: TARGET, call, hash = %signed.hash, nonce, "signed");
        Ok(PresignedTx {
            hash: signed.hash,
            nonce,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            raw: signed.raw,
        })
    }

    /// A replacement of `previous` (signed by `key`): the same transaction and nonce with both
    /// fees raised by the policy's `fee_bump_percent`, capped. `None` when the caps leave less
    /// than the bump nodes accept. How many replacements to make, and when, is the caller's
    /// ([`TxPolicy::replace_after`](crate::TxPolicy::replace_after),
    /// [`TxPolicy::max_replacements`](crate::TxPolicy::max_replacements)).
    pub async fn presign_replacement(
        &self,
        call: &str,
        key: &EthPrivateKey,
        previous: &PresignedTx,
    ) -> Result<Option<PresignedTx>> {
        let (previous, mut request) = decode(&previous.raw)?;
        let Some(fees) = bumped(previous.fees(), &self.options.tx) else {
            tracing::warn!(target: TARGET, call, nonce = previous.nonce, cap = self.options.tx.max_fee_per_gas, "at the fee cap: no more replacements");
            return Ok(None);
        };
        request.from = Some(key.address());
        let signed = self.sign(call, key, &request, previous.nonce, fees).await?;
        tracing::debug!(target: TARGET, call, hash = %signed.hash, replaces = %previous.hash, "replacement signed");
        Ok(Some(PresignedTx {
            hash: signed.hash,
            nonce: previous.nonce,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            raw: signed.raw,
        }))
    }

    /// `eth_sendRawTransaction` of `tx`, unless the node knows it already (pending or mined):
    /// broadcasting again is safe. The node's refusals are [`BroadcastOutcome`]s; transport
    /// failures are errors.
    pub async fn broadcast_presigned(
        &self,
        call: &str,
        tx: &PresignedTx,
    ) -> Result<BroadcastOutcome> {
        // Not only a saved request: ganache 7 with its miner stopped takes the same bytes twice
        // into one block (and counts the nonce twice).
        let known = self
            .provider
            .get_transaction_by_hash(tx.hash)
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionByHash", e))?;
        if known.is_some() {
            return Ok(BroadcastOutcome::Accepted);
        }
        Ok(match self.broadcast(&tx.raw).await {
            Ok(()) => {
                log_sent(call, tx.hash, tx.nonce, tx.fees(), 0);
                BroadcastOutcome::Accepted
            }
            Err(Refusal::Nonce(reason)) => BroadcastOutcome::NonceUsed(reason),
            Err(Refusal::Underpriced(reason)) => BroadcastOutcome::Underpriced(reason),
            Err(Refusal::Funds) => BroadcastOutcome::InsufficientFunds,
            Err(Refusal::Other(e)) => return Err(e),
        })
    }

    /// How many of `address`'s transactions are mined (`eth_getTransactionCount` at the latest
    /// block): a nonce below it is used for good.
    pub async fn mined_nonce(&self, address: Address) -> Result<u64> {
        self.provider
            .get_transaction_count(address)
            .latest()
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionCount", e))
    }
}

impl SimpleBlockchain {
    /// `XBRChannel.closeChannel(...)` from `sender`, signed with its next nonce and not sent
    /// ([`Gateway::presign`]); a close the contract refuses is [`ChainError::Reverted`].
    pub async fn presign_close_channel(
        &self,
        sender: &EthPrivateKey,
        close: &CloseChannel,
    ) -> Result<PresignedTx> {
        let contract = self.channels();
        let builder = close_call(&contract, close);
        let request = call_request(self.addresses().channel, builder);
        self.gateway().presign(CLOSE_CHANNEL, sender, request).await
    }
}

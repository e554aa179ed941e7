//! Waiting for a sent transaction: receipts of every version sent, replacement of a stuck one
//! (same nonce, bumped fees), the confirmation depth, and the revert reason of a failed one.

use std::time::Duration;

use alloy_primitives::B256;
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockId, TransactionReceipt};
use tokio::time::Instant;
use xbr_core::eth::EthPrivateKey;

use crate::error::{ChainError, Result};
use crate::gateway::Gateway;
use crate::tx::TARGET;
use crate::tx::fees::bumped;
use crate::tx::send::{Refusal, Sent, log_sent};

/// The longest pause between two looks at the chain (local nodes are polled faster).
const MAX_POLL: Duration = Duration::from_secs(4);

/// What a wait may do to a transaction that is not mined: re-sign it with `key`.
pub(crate) struct Replacer<'a> {
    pub(crate) key: &'a EthPrivateKey,
    pub(crate) sent: Sent,
    pub(crate) replacements: u32,
}

impl Gateway {
    /// Waits until one of `hashes` is mined and has [`TxPolicy::confirmations`](crate::TxPolicy::confirmations)
    /// blocks, replacing it meanwhile if `replacer` is given. A mined status-0 receipt is
    /// [`ChainError::TransactionFailed`]; no receipt within the policy's `receipt_timeout` (or
    /// not enough confirmations within another one after mining) is [`ChainError::NoReceipt`].
    pub(crate) async fn await_receipt(
        &self,
        call: &str,
        mut hashes: Vec<B256>,
        mut replacer: Option<Replacer<'_>>,
    ) -> Result<TransactionReceipt> {
        let policy = self.options.tx;
        let poll = self.client.poll_interval().min(MAX_POLL);
        let mut deadline = Instant::now() + policy.receipt_timeout;
        let mut replace_at = Instant::now() + policy.replace_after;
        let mut mined_in: Option<u64> = None;
        loop {
            let now = Instant::now();
            match self.find_receipt(&hashes).await? {
                Some(receipt) => {
                    let block = receipt.block_number.unwrap_or_default();
                    if mined_in != Some(block) {
                        tracing::info!(target: TARGET, call, hash = %receipt.transaction_hash, block, "mined");
                        mined_in = Some(block);
                        deadline = now + policy.receipt_timeout;
                    }
                    if !receipt.status() {
                        let tx_hash = receipt.transaction_hash;
                        return Err(ChainError::TransactionFailed {
                            call: call.to_owned(),
                            tx_hash,
                            reason: self.revert_reason(tx_hash, block).await,
                        });
                    }
                    let depth = self
                        .block_number()
                        .await?
                        .saturating_add(1)
                        .saturating_sub(block);
                    if depth >= policy.confirmations {
                        if policy.confirmations > 1 {
                            tracing::info!(target: TARGET, call, hash = %receipt.transaction_hash, block, depth, "confirmed");
                        }
                        return Ok(receipt);
                    }
                }
                None => {
                    if mined_in.take().is_some() {
                        tracing::warn!(target: TARGET, call, "the block of the transaction was reorganised out; waiting again");
                        replace_at = now + policy.replace_after;
                    }
                    if now >= replace_at {
                        if let Some(r) = replacer.as_mut() {
                            self.replace(call, r, &mut hashes).await?;
                        }
                        replace_at = now + policy.replace_after;
                    }
                }
            }
            if now >= deadline {
                let tx_hash = hashes.last().copied().unwrap_or_default();
                let reason = match mined_in {
                    Some(block) => format!(
                        "mined in block {block} but not {} blocks deep within {:?}",
                        policy.confirmations, policy.receipt_timeout
                    ),
                    None => format!("not mined within {:?}", policy.receipt_timeout),
                };
                return Err(ChainError::NoReceipt {
                    call: call.to_owned(),
                    tx_hash,
                    reason,
                });
            }
            tokio::time::sleep(poll.min(deadline - now)).await;
        }
    }

    /// The receipt of whichever of `hashes` is mined.
    async fn find_receipt(&self, hashes: &[B256]) -> Result<Option<TransactionReceipt>> {
        for hash in hashes {
            let receipt = self
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(|e| self.rpc_error("eth_getTransactionReceipt", e))?;
            if let Some(r) = receipt.filter(|r| r.block_number.is_some()) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// Re-signs the stuck transaction with bumped fees and sends it; past the replacement limit
    /// (or the fee cap) it re-sends the latest version, which a node may have dropped.
    async fn replace(
        &self,
        call: &str,
        r: &mut Replacer<'_>,
        hashes: &mut Vec<B256>,
    ) -> Result<()> {
        let policy = self.options.tx;
        let nonce = r.sent.nonce;
        if r.replacements < policy.max_replacements {
            match bumped(r.sent.fees, &policy) {
                Some(fees) => {
                    let signed = self.sign(call, r.key, &r.sent.request, nonce, fees).await?;
                    match self.broadcast(&signed.raw).await {
                        Ok(()) => {
                            r.replacements += 1;
                            r.sent.fees = fees;
                            r.sent.raw = signed.raw;
                            hashes.push(signed.hash);
                            log_sent(call, signed.hash, nonce, fees, r.replacements);
                            return Ok(());
                        }
                        Err(Refusal::Nonce(_)) => return self.nonce_taken(call, r, hashes).await,
                        // The version sent may still be mined: keep waiting for it (a node that
                        // is gone shows in the next receipt lookup).
                        Err(Refusal::Underpriced(reason)) => {
                            tracing::warn!(target: TARGET, call, nonce, %reason, "replacement refused");
                        }
                        Err(Refusal::Funds) => {
                            tracing::warn!(target: TARGET, call, nonce, "cannot pay for a replacement with higher fees");
                        }
                        Err(Refusal::Other(e)) => {
                            tracing::warn!(target: TARGET, call, nonce, error = %e, "replacement refused");
                        }
                    }
                }
                None => {
                    tracing::warn!(target: TARGET, call, nonce, cap = policy.max_fee_per_gas, "at the fee cap: no more replacements");
                    r.replacements = policy.max_replacements;
                }
            }
        }
        match self.broadcast(&r.sent.raw).await {
            Ok(()) | Err(Refusal::Underpriced(_) | Refusal::Funds) => Ok(()),
            Err(Refusal::Nonce(_)) => self.nonce_taken(call, r, hashes).await,
            Err(Refusal::Other(e)) => Err(e),
        }
    }

    /// The node says the nonce is used: fine if one of ours was mined meanwhile (the next look
    /// finds it), an error if another transaction took it.
    async fn nonce_taken(&self, call: &str, r: &Replacer<'_>, hashes: &[B256]) -> Result<()> {
        if self.find_receipt(hashes).await?.is_some() {
            return Ok(());
        }
        let from = r.key.address();
        let mined = self
            .provider
            .get_transaction_count(from)
            .latest()
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionCount", e))?;
        if mined <= r.sent.nonce {
            return Ok(());
        }
        self.nonces.forget_all();
        Err(ChainError::NoReceipt {
            call: call.to_owned(),
            tx_hash: hashes.last().copied().unwrap_or_default(),
            reason: format!(
                "nonce {} of {from} was used by a transaction this gateway did not send",
                r.sent.nonce
            ),
        })
    }

    /// Why the mined transaction `tx_hash` failed: its call replayed at `block`
    /// (`eth_call`), when the node tells.
    async fn revert_reason(&self, tx_hash: B256, block: u64) -> Option<String> {
        let tx = self
            .provider
            .get_transaction_by_hash(tx_hash)
            .await
            .ok()??;
        let from = tx.inner.signer();
        let mut call = tx.into_request();
        call.from = Some(from);
        call.nonce = None;
        call.gas_price = None;
        call.max_fee_per_gas = None;
        call.max_priority_fee_per_gas = None;
        match self.provider.call(call).block(BlockId::number(block)).await {
            Ok(_) => None,
            Err(e) => match self.rpc_error("eth_call", e) {
                ChainError::Reverted { reason, .. } | ChainError::Rpc { reason, .. } => {
                    Some(reason)
                }
                _ => None,
            },
        }
    }
}

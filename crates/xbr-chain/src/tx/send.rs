//! Preparing, signing and sending a transaction: gas estimate, capped EIP-1559 fees, balance
//! check, nonce, local signature, `eth_sendRawTransaction`.

use alloy_network::eip2718::Encodable2718;
use alloy_network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_provider::utils::Eip1559Estimator;
use alloy_rpc_types_eth::{BlockNumberOrTag, TransactionRequest};
use alloy_transport::{RpcError, TransportErrorKind};
use xbr_core::eth::EthPrivateKey;

use crate::error::{ChainError, Result};
use crate::gateway::{Gateway, local_signer};
use crate::tx::TARGET;
use crate::tx::fees::{self, Fees};

/// Blocks of fee history the estimate looks at, and the tip percentile it takes (alloy's).
const FEE_HISTORY_BLOCKS: u64 = 10;
const TIP_PERCENTILE: f64 = 20.0;

/// A transaction the node accepted, with what a replacement needs.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// The request, complete but for nonce and fees.
    pub(crate) request: TransactionRequest,
    /// Its nonce (every replacement keeps it).
    pub(crate) nonce: u64,
    /// The fees of the latest version sent.
    pub(crate) fees: Fees,
    /// The latest version sent, signed (re-broadcast if the node loses it).
    pub(crate) raw: Bytes,
    /// The hash of every version sent, the latest last; any of them may be mined.
    pub(crate) hashes: Vec<B256>,
}

/// A signed transaction.
pub(crate) struct Signed {
    pub(crate) hash: B256,
    pub(crate) raw: Bytes,
}

/// Why the node refused `eth_sendRawTransaction`.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The nonce is used or out of order.
    Nonce(String),
    /// A transaction with this nonce is pending and the fees are not enough higher.
    Underpriced(String),
    /// The sender cannot pay.
    Funds,
    /// Anything else (transport included).
    Other(ChainError),
}

/// What a node's error message says, by the wording of geth, anvil and ganache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeSays {
    /// The node has this very transaction already: as good as accepted.
    Known,
    Nonce,
    Underpriced,
    Funds,
    Other,
}

/// Classifies a node's error message.
pub(crate) fn node_says(message: &str) -> NodeSays {
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["already known", "already imported", "known transaction"]) {
        NodeSays::Known
    } else if has(&[
        "nonce too low",
        "nonce too high",
        "correct nonce",
        "invalid nonce",
    ]) {
        NodeSays::Nonce
    } else if has(&["underpriced"]) {
        NodeSays::Underpriced
    } else if has(&["insufficient funds", "enough funds"]) {
        NodeSays::Funds
    } else {
        NodeSays::Other
    }
}

/// The node's error message, if the error is a JSON-RPC error response.
fn node_message(err: &RpcError<TransportErrorKind>) -> Option<&str> {
    match err {
        RpcError::ErrorResp(payload) => Some(&payload.message),
        _ => None,
    }
}

/// The progress event of a version sent: `sent` for the first, `replaced` for the others.
pub(crate) fn log_sent(call: &str, hash: B256, nonce: u64, fees: Fees, replacement: u32) {
    let what = if replacement == 0 { "sent" } else { "replaced" };
    tracing::info!(
        target: TARGET,
        call,
        %hash,
        nonce,
        max_fee_per_gas = fees.max_fee_per_gas,
        max_priority_fee_per_gas = fees.max_priority_fee_per_gas,
        replacement,
        "{what}"
    );
}

impl Gateway {
    /// Prepares, signs and sends `tx` from `key` under the key's nonce lease; see the
    /// [module docs](crate::tx).
    pub(crate) async fn submit_request(
        &self,
        call: &str,
        key: &EthPrivateKey,
        tx: TransactionRequest,
    ) -> Result<Sent> {
        let from = key.address();
        let (request, fees, need) = self.prepare(call, from, tx).await?;
        let mut lease = self.nonces.lease(from).await;
        let mut resynced = false;
        loop {
            let nonce = lease.next(self.pending_nonce(from).await?);
            let signed = self.sign(call, key, &request, nonce, fees).await?;
            match self.broadcast(&signed.raw).await {
                Ok(()) => {
                    lease.sent(nonce);
                    log_sent(call, signed.hash, nonce, fees, 0);
                    return Ok(Sent {
                        request,
                        nonce,
                        fees,
                        raw: signed.raw,
                        hashes: vec![signed.hash],
                    });
                }
                Err(Refusal::Nonce(reason) | Refusal::Underpriced(reason)) => {
                    lease.forget();
                    if resynced {
                        return Err(ChainError::Rpc {
                            method: call.to_owned(),
                            reason,
                        });
                    }
                    tracing::warn!(target: TARGET, call, nonce, %reason, "nonce conflict; resyncing with the node");
                    resynced = true;
                }
                Err(Refusal::Funds) => {
                    lease.forget();
                    return Err(self.insufficient_funds(from, need).await);
                }
                Err(Refusal::Other(e)) => {
                    // The node may have taken it: its pending count is the truth next time.
                    lease.forget();
                    return Err(e);
                }
            }
        }
    }

    /// The node's count of `from`'s transactions, pending ones included (`eth_getTransactionCount`).
    pub(crate) async fn pending_nonce(&self, from: Address) -> Result<u64> {
        self.provider
            .get_transaction_count(from)
            .pending()
            .await
            .map_err(|e| self.rpc_error("eth_getTransactionCount", e))
    }

    /// Completes `tx` for sending from `from`: chain id, gas (estimated unless given), capped
    /// fees, and a balance check. Returns the request, its fees and its highest possible cost.
    pub(crate) async fn prepare(
        &self,
        call: &str,
        from: Address,
        mut tx: TransactionRequest,
    ) -> Result<(TransactionRequest, Fees, U256)> {
        tx.from = Some(from);
        tx.chain_id = Some(self.chain_id);
        // Always an EIP-1559 transaction with the fees decided here.
        tx.gas_price = None;
        let value = tx.value.unwrap_or_default();
        let gas = match tx.gas {
            Some(gas) => gas,
            None => match self.provider.estimate_gas(tx.clone()).await {
                Ok(gas) => gas,
                Err(e) if node_message(&e).map(node_says) == Some(NodeSays::Funds) => {
                    return Err(self.insufficient_funds(from, value).await);
                }
                Err(e) => return Err(self.rpc_error(call, e)),
            },
        };
        tx.gas = Some(gas);
        let fees = self.offer().await?;
        let need = U256::from(gas) * U256::from(fees.max_fee_per_gas) + value;
        let have = self.eth_balance(from).await?;
        if have < need {
            return Err(ChainError::InsufficientFunds {
                address: from,
                need,
                have,
            });
        }
        Ok((tx, fees, need))
    }

    /// The fees to offer now: alloy's EIP-1559 estimator over the recent fee history, the tip
    /// at least the node's `eth_maxPriorityFeePerGas`, all under the policy's caps.
    pub(crate) async fn offer(&self) -> Result<Fees> {
        let history = self
            .provider
            .get_fee_history(
                FEE_HISTORY_BLOCKS,
                BlockNumberOrTag::Latest,
                &[TIP_PERCENTILE],
            )
            .await
            .map_err(|e| self.rpc_error("eth_feeHistory", e))?;
        let base_fee = match history.next_block_base_fee() {
            Some(fee) if fee > 0 => fee,
            _ => self.latest_base_fee().await?,
        };
        let estimate =
            Eip1559Estimator::default().estimate(base_fee, &history.reward.unwrap_or_default());
        // Nodes that suggest a tip know their mempool; an unsupported method is no error.
        let node_tip = self
            .provider
            .get_max_priority_fee_per_gas()
            .await
            .unwrap_or_default();
        let suggested = Fees {
            max_fee_per_gas: estimate.max_fee_per_gas,
            max_priority_fee_per_gas: estimate.max_priority_fee_per_gas.max(node_tip),
        };
        fees::capped(base_fee, suggested, &self.options.tx)
    }

    /// The base fee in the latest block's header (a chain without one does not do EIP-1559).
    async fn latest_base_fee(&self) -> Result<u128> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc_error("eth_getBlockByNumber", e))?;
        block
            .and_then(|b| b.header.base_fee_per_gas)
            .map(u128::from)
            .ok_or_else(|| ChainError::Rpc {
                method: "eth_feeHistory".into(),
                reason: "the chain has no EIP-1559 base fee".into(),
            })
    }

    /// Signs `request` with `nonce` and `fees` (an EIP-1559 transaction for the pinned chain).
    pub(crate) async fn sign(
        &self,
        call: &str,
        key: &EthPrivateKey,
        request: &TransactionRequest,
        nonce: u64,
        fees: Fees,
    ) -> Result<Signed> {
        let tx = request
            .clone()
            .with_nonce(nonce)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let wallet = EthereumWallet::from(local_signer(key));
        let envelope = tx.build(&wallet).await.map_err(|e| ChainError::Rpc {
            method: call.to_owned(),
            reason: format!("cannot sign the transaction: {e}"),
        })?;
        Ok(Signed {
            hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
        })
    }

    /// `eth_sendRawTransaction`; a node that already has the transaction counts as accepted.
    pub(crate) async fn broadcast(&self, raw: &Bytes) -> std::result::Result<(), Refusal> {
        let err = match self.provider.send_raw_transaction(raw).await {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        let Some(message) = node_message(&err).map(str::to_owned) else {
            return Err(Refusal::Other(
                self.rpc_error("eth_sendRawTransaction", err),
            ));
        };
        match node_says(&message) {
            NodeSays::Known => Ok(()),
            NodeSays::Nonce => Err(Refusal::Nonce(message)),
            NodeSays::Underpriced => Err(Refusal::Underpriced(message)),
            NodeSays::Funds => Err(Refusal::Funds),
            NodeSays::Other => Err(Refusal::Other(
                self.rpc_error("eth_sendRawTransaction", err),
            )),
        }
    }

    /// [`ChainError::InsufficientFunds`] for `address`, with its balance as the node tells it.
    pub(crate) async fn insufficient_funds(&self, address: Address, need: U256) -> ChainError {
        let have = self.eth_balance(address).await.unwrap_or_default();
        ChainError::InsufficientFunds {
            address,
            need,
            have,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_messages_of_geth_anvil_and_ganache_are_recognised() {
        for (message, says) in [
            ("already known", NodeSays::Known),
            ("transaction already imported", NodeSays::Known),
            ("nonce too low", NodeSays::Nonce),
            ("Nonce too high", NodeSays::Nonce),
            (
                "the tx doesn't have the correct nonce. account has nonce of: 5 tx has nonce of: 4",
                NodeSays::Nonce,
            ),
            ("replacement transaction underpriced", NodeSays::Underpriced),
            ("transaction underpriced", NodeSays::Underpriced),
            (
                "insufficient funds for gas * price + value",
                NodeSays::Funds,
            ),
            (
                "Insufficient funds for gas * price + value",
                NodeSays::Funds,
            ),
            ("execution reverted: NO_SUCH_MARKET", NodeSays::Other),
        ] {
            assert_eq!(node_says(message), says, "{message}");
        }
    }
}

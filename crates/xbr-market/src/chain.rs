//! [`MakerChain`] over xbr-chain's [`SimpleBlockchain`]: channel reads and lifecycle logs,
//! `openChannel` (approving
//! the amount first for paying channels, which the maker funds) and `closeChannel` (signed
//! without sending, so the close worker persists it before its broadcast; replaced with higher
//! fees per the gateway's `TxPolicy`; looked up by hash), each signed locally with the maker's key.

use tracing::warn;
use xbr_chain::{
    BroadcastOutcome, ChannelEvent, ChannelOpened, ChannelType as ChainType, CloseChannel,
    OpenChannel, PresignedTx, SimpleBlockchain, TransactionStatus,
};
use xbr_core::eth::EthPrivateKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::maker::{
    ChainChannel, ChainChannelEvent, ChainClose, CloseBroadcast, CloseSigning, MakerChain,
    Replacement, TxStatus,
};
use crate::peer::BoxFuture;
use crate::types::{ActorType, Address, ChannelId, ChannelType, CloseTx, MarketId, U256};
use crate::wire::OpenChannelRequest;

/// The maker's chain access.
pub struct XbrChain {
    chain: SimpleBlockchain,
    key: EthPrivateKey,
}

impl XbrChain {
    /// Submits transactions from `key` (the market maker's).
    pub fn new(chain: SimpleBlockchain, key: EthPrivateKey) -> Self {
        Self { chain, key }
    }
}

fn chain_err(e: xbr_chain::ChainError) -> MarketError {
    MarketError::new(uri::CHAIN_ERROR, e.to_string())
}

/// Names the close transaction in xbr-chain's errors and progress events.
const CLOSE_CALL: &str = "XBRChannel.closeChannel";

fn close_tx(tx: PresignedTx) -> CloseTx {
    CloseTx {
        hash: tx.hash.0,
        nonce: tx.nonce,
        max_fee_per_gas: tx.max_fee_per_gas,
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
        raw: tx.raw.to_vec(),
    }
}

/// The market's view of an `Opened` event (`None` for a channel type this market does not know).
fn from_opened(o: &ChannelOpened) -> Option<ChainChannel> {
    let channel_type = match o.ctype {
        ChainType::Payment => ChannelType::Payment,
        ChainType::Paying => ChannelType::Paying,
        ChainType::Unknown(_) => return None,
    };
    Some(ChainChannel {
        channel_oid: o.channel_id,
        channel_type,
        market_oid: o.market_id,
        open_at: o.block_number.unwrap_or_default(),
        actor: o.actor,
        delegate: o.delegate,
        marketmaker: o.marketmaker,
        recipient: o.recipient,
        amount: o.amount,
        timeout: 0,
    })
}

impl MakerChain for XbrChain {
    fn block_number(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async move { self.chain.gateway().block_number().await.map_err(chain_err) })
    }

    fn channel(&self, channel_oid: ChannelId) -> BoxFuture<'_, MarketResult<Option<ChainChannel>>> {
        Box::pin(async move {
            let Some(c) = self.chain.channel(channel_oid).await.map_err(chain_err)? else {
                return Ok(None);
            };
            let channel_type = match c.ctype {
                ChainType::Payment => ChannelType::Payment,
                ChainType::Paying => ChannelType::Paying,
                ChainType::Unknown(_) => return Ok(None),
            };
            Ok(Some(ChainChannel {
                channel_oid,
                channel_type,
                market_oid: c.market_id,
                open_at: u64::try_from(c.created).unwrap_or(u64::MAX),
                actor: c.actor,
                delegate: c.delegate,
                marketmaker: c.marketmaker,
                recipient: c.recipient,
                amount: c.amount,
                timeout: 0,
            }))
        })
    }

    fn open_channel(
        &self,
        req: OpenChannelRequest,
    ) -> BoxFuture<'_, MarketResult<([u8; 32], ChainChannel)>> {
        Box::pin(async move {
            let ctype = match req.channel_type {
                ChannelType::Payment => ChainType::Payment,
                ChannelType::Paying => ChainType::Paying,
            };
            // A paying channel is funded by the maker: it approves exactly the amount, and no
            // allowance is left standing when the open fails.
            let spender = self.chain.addresses().channel;
            let approved = req.channel_type == ChannelType::Paying;
            if approved {
                self.chain
                    .approve_xbr(&self.key, spender, req.amount)
                    .await
                    .map_err(chain_err)?;
            }
            let open = OpenChannel {
                ctype,
                opened_at: req.current_block_number,
                market_id: req.market_oid,
                channel_id: req.channel_oid,
                actor: req.member,
                delegate: req.delegate,
                marketmaker: req.marketmaker,
                recipient: req.recipient,
                amount: req.amount,
                signature: req.signature,
            };
            let receipt = match self.chain.open_channel(&self.key, &open).await {
                Ok(receipt) => receipt,
                Err(e) => {
                    if approved
                        && let Err(reset) =
                            self.chain.approve_xbr(&self.key, spender, U256::ZERO).await
                    {
                        warn!(error = %reset, "open_channel failed and its allowance was not reset");
                    }
                    return Err(chain_err(e));
                }
            };
            // Record what the contract announced, not what was asked for.
            let opened = self
                .chain
                .opened_in(&receipt)
                .iter()
                .find(|o| o.channel_id == req.channel_oid)
                .and_then(from_opened)
                .ok_or_else(|| {
                    MarketError::new(
                        uri::CHAIN_ERROR,
                        "openChannel succeeded but its receipt has no Opened event",
                    )
                })?;
            Ok((receipt.transaction_hash.0, opened))
        })
    }

    fn channel_events(
        &self,
        market_oid: MarketId,
        from_block: u64,
        to_block: u64,
    ) -> BoxFuture<'_, MarketResult<Vec<ChainChannelEvent>>> {
        Box::pin(async move {
            let events = self
                .chain
                .channel_events(market_oid, from_block, to_block)
                .await
                .map_err(chain_err)?;
            Ok(events
                .iter()
                .filter_map(|e| match e {
                    ChannelEvent::Opened(o) => from_opened(o).map(ChainChannelEvent::Opened),
                    ChannelEvent::Closing(s) => Some(ChainChannelEvent::Closing(s.channel_id)),
                    ChannelEvent::Closed(s) => Some(ChainChannelEvent::Closed(s.channel_id)),
                })
                .collect())
        })
    }

    fn sign_close(&self, close: ChainClose) -> BoxFuture<'_, MarketResult<CloseSigning>> {
        Box::pin(async move {
            let seq = u32::try_from(close.seq)
                .map_err(|_| MarketError::new(uri::INVALID_TRANSACTION, "seq exceeds uint32"))?;
            let call = CloseChannel {
                channel_id: close.channel_oid,
                close_at: close.close_at,
                closing_seq: seq,
                balance: close.balance,
                is_final: close.is_final,
                delegate_signature: close.delegate_signature,
                marketmaker_signature: close.marketmaker_signature,
            };
            match self.chain.presign_close_channel(&self.key, &call).await {
                Ok(tx) => Ok(CloseSigning::Signed(close_tx(tx))),
                Err(e @ xbr_chain::ChainError::Reverted { .. }) => {
                    Ok(CloseSigning::Rejected(e.to_string()))
                }
                Err(e) => Err(chain_err(e)),
            }
        })
    }

    fn sign_close_replacement(
        &self,
        previous: CloseTx,
    ) -> BoxFuture<'_, MarketResult<Option<CloseTx>>> {
        Box::pin(async move {
            let previous = PresignedTx::from_raw(&previous.raw).map_err(chain_err)?;
            let gateway = self.chain.gateway();
            let replacement = gateway
                .presign_replacement(CLOSE_CALL, &self.key, &previous)
                .await
                .map_err(chain_err)?;
            Ok(replacement.map(close_tx))
        })
    }

    fn broadcast_close(&self, tx: CloseTx) -> BoxFuture<'_, MarketResult<CloseBroadcast>> {
        Box::pin(async move {
            let tx = PresignedTx::from_raw(&tx.raw).map_err(chain_err)?;
            let gateway = self.chain.gateway();
            let outcome = gateway
                .broadcast_presigned(CLOSE_CALL, &tx)
                .await
                .map_err(chain_err)?;
            Ok(match outcome {
                BroadcastOutcome::Accepted => CloseBroadcast::Accepted,
                BroadcastOutcome::NonceUsed(reason) | BroadcastOutcome::Underpriced(reason) => {
                    CloseBroadcast::Refused(reason)
                }
                BroadcastOutcome::InsufficientFunds => CloseBroadcast::Refused(format!(
                    "{} cannot pay for the close transaction",
                    self.key.address()
                )),
            })
        })
    }

    fn mined_nonce(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async move {
            let gateway = self.chain.gateway();
            gateway
                .mined_nonce(self.key.address())
                .await
                .map_err(chain_err)
        })
    }

    fn replacement(&self) -> Replacement {
        let policy = self.chain.gateway().options().tx;
        Replacement {
            replace_after: policy.replace_after,
            max_replacements: policy.max_replacements,
        }
    }

    fn transaction(&self, tx_hash: [u8; 32]) -> BoxFuture<'_, MarketResult<TxStatus>> {
        Box::pin(async move {
            let status = self
                .chain
                .gateway()
                .transaction_status(tx_hash.into())
                .await
                .map_err(chain_err)?;
            Ok(match status {
                TransactionStatus::Unknown => TxStatus::Unknown,
                TransactionStatus::Pending => TxStatus::Pending,
                TransactionStatus::Mined { block, success } => TxStatus::Mined { block, success },
            })
        })
    }

    fn market_actor(
        &self,
        market_oid: MarketId,
        member: Address,
    ) -> BoxFuture<'_, MarketResult<Option<ActorType>>> {
        Box::pin(async move {
            let is = |t| self.chain.is_actor(market_oid, member, t);
            let provider = is(ActorType::Provider).await.map_err(chain_err)?;
            let consumer = is(ActorType::Consumer).await.map_err(chain_err)?;
            Ok(actor_type(provider, consumer))
        })
    }
}

/// The actor type of a member who is (or is not) a provider and a consumer.
pub fn actor_type(provider: bool, consumer: bool) -> Option<ActorType> {
    match (provider, consumer) {
        (true, true) => Some(ActorType::ProviderConsumer),
        (true, false) => Some(ActorType::Provider),
        (false, true) => Some(ActorType::Consumer),
        (false, false) => None,
    }
}

//! Closing channels: a delegate's `close_channel`, the auto-close of a seller's exhausted paying
//! channel (the seller counter-signs), and settling a close: the close intent persisted with the
//! channel's move to Closing, handed to the close worker ([`super::closer`]), events published.

use wamp_proto::{Dict, Value};

use super::{MarketMaker, channel_kind};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{ProviderProcedure, now_ns};
use crate::sig::{self, ChannelState as SignedState, Domain};
use crate::store::blocking;
use crate::types::{
    Channel, ChannelClose, ChannelId, ChannelState, ChannelType, CloseIntent, CloseState,
    OfferQuery, Signature,
};
use crate::wire::{
    self, CloseChannelRequest, CloseChannelResult, ProviderCloseReceipt, ProviderCloseRequest,
    v_bytes,
};

impl MarketMaker {
    /// `close_channel`: verifies the delegate's close over the channel's current state,
    /// counter-signs and settles it (see `settle_close` for what the reply means).
    pub async fn close_channel(
        &self,
        req: CloseChannelRequest,
    ) -> MarketResult<CloseChannelResult> {
        let oid = req.channel_oid;
        let lock = self.lock_for(&oid);
        let _guard = lock.lock().await;
        let ch = blocking(&self.store, move |s| s.channel(&oid))
            .await?
            .ok_or_else(|| MarketError::new(uri::INVALID_CHANNEL, "no such channel"))?;
        let state = SignedState {
            close_at: req.current_block_number,
            market_oid: self.cfg.market_oid,
            channel_oid: oid,
            seq: req.closing_seq,
            balance: req.closing_balance,
            is_final: req.closing_is_final,
        };
        let domain = Domain {
            chain_id: req.verifying_chain_id,
            verifying_contract: req.verifying_contract,
        };
        if domain != self.cfg.domain {
            return Err(MarketError::new(
                uri::INVALID_SIGNATURE,
                "close signed for another chain or contract",
            ));
        }
        domain.verify(
            &state,
            &req.delegate_signature,
            &ch.delegate,
            "channel delegate",
        )?;
        if ch.state != ChannelState::Open {
            return Err(MarketError::new(
                uri::CHANNEL_NOT_OPEN,
                "channel is not open",
            ));
        }
        if req.closing_seq != ch.seq {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                "close seq is not the channel's current seq",
            ));
        }
        if req.closing_balance != ch.remaining || !ch.inflight.is_zero() {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "close balance is not the channel's current remaining",
            ));
        }
        let mm_sig = domain.sign(&self.cfg.key, &state)?;
        self.settle_close(&ch, &state, req.delegate_signature, mm_sig)
            .await
    }

    /// Final close of a seller's exhausted paying channel (spec §3A.3 step 3, working): the maker
    /// signs the close of the current state at the current block, the seller counter-signs
    /// through `xbr.provider.<authid>.close_channel`, and the close is settled like any other.
    /// Called with the paying channel's lock held.
    pub(super) async fn close_paying_channel(
        &self,
        paying: &Channel,
        seller_authid: &str,
    ) -> MarketResult<CloseChannelResult> {
        let close_at = match self.block_number().await {
            0 => sig::OFF_CHAIN_CLOSE_AT,
            block => block,
        };
        let state = SignedState {
            close_at,
            market_oid: self.cfg.market_oid,
            channel_oid: paying.channel_oid,
            seq: paying.seq,
            balance: paying.remaining,
            is_final: true,
        };
        let mm_sig = self.cfg.domain.sign(&self.cfg.key, &state)?;
        let req = ProviderCloseRequest {
            market_maker_adr: self.address,
            channel_oid: paying.channel_oid,
            channel_seq: paying.seq,
            channel_balance: paying.remaining,
            channel_is_final: true,
            marketmaker_signature: mm_sig,
            close_at,
        };
        let procedure = ProviderProcedure::CloseChannel.uri(seller_authid);
        let r = self
            .providers
            .call(&procedure, req.to_args(), Dict::new())
            .await?;
        let receipt = ProviderCloseReceipt::from_value(wire::first(&r))?;
        self.cfg.domain.verify(
            &state,
            &receipt.signature,
            &paying.delegate,
            "seller delegate",
        )?;
        self.settle_close(paying, &state, receipt.signature, mm_sig)
            .await
    }

    /// Records a close signed by the channel's delegate and the maker and hands it to the close
    /// worker ([`super::closer`]): with a chain, the channel's move to Closing and the close
    /// intent are written in one transaction, the worker is woken, and the reply waits at most
    /// [`CloseConfig::reply_wait`](super::CloseConfig::reply_wait) for the worker (without a
    /// chain, the channel is only marked Closing). Called with the channel's lock held.
    ///
    /// What the reply means: the close is signed by both parties and persisted; the maker
    /// submits it and retries until the chain has it, across restarts. If the transaction was
    /// mined within the wait, the reply carries its hash (and `state` Closed for a final close);
    /// otherwise `transaction` is all zeros and `state` Closing: the close is still on its way
    /// (follow the channel's state). A close that reverts on chain is an error
    /// (`xbr.error.chain_error`); it is not retried. Dropping the reply's future drops only the
    /// wait.
    async fn settle_close(
        &self,
        ch: &Channel,
        state: &SignedState,
        delegate_signature: Signature,
        mm_sig: Signature,
    ) -> MarketResult<CloseChannelResult> {
        let oid = ch.channel_oid;
        let close = ChannelClose {
            seq: state.seq,
            balance: state.balance,
            is_final: state.is_final,
            delegate_signature,
            marketmaker_signature: Some(mm_sig),
            closing_at: now_ns(),
            closed_tx: None,
        };
        let (transaction, new_state) = if self.closer.submits() {
            let intent = CloseIntent {
                channel_oid: oid,
                close_at: state.close_at,
                seq: state.seq,
                balance: state.balance,
                is_final: state.is_final,
                delegate_signature,
                marketmaker_signature: mm_sig,
                created: close.closing_at,
                state: CloseState::Signed,
                tx_hash: None,
                submitted_at: None,
                attempts: 0,
                mined_block: None,
                failure: None,
                versions: Vec::new(),
            };
            blocking(&self.store, move |s| s.begin_close(&close, &intent)).await?;
            crate::failpoint!("close::after_intent");
            self.closer.wake();
            self.close_outcome(oid).await?
        } else {
            blocking(&self.store, move |s| {
                s.close_channel(&oid, ChannelState::Open, ChannelState::Closing, &close)
            })
            .await?;
            ([0u8; 32], ChannelState::Closing)
        };
        let result = CloseChannelResult {
            transaction,
            market_oid: self.cfg.market_oid,
            channel_oid: oid,
            state: new_state as u64,
            balance: state.balance,
            seq: state.seq,
            is_final: state.is_final,
        };
        let topic = format!(
            "xbr.marketmaker.on_{}_channel_closing",
            channel_kind(ch.channel_type)
        );
        self.publish(&topic, vec![result.to_value()]).await;
        if ch.channel_type == ChannelType::Paying {
            let delegate = ch.delegate;
            let q = OfferQuery {
                seller: Some(delegate),
                limit: Some(1),
                ..Default::default()
            };
            if let Ok(Some(o)) = blocking(&self.store, move |s| s.query_offers(&q))
                .await
                .map(|v| v.into_iter().next())
            {
                let topic = format!("xbr.provider.{}.on_channel_closed", o.seller_authid);
                let args = vec![
                    v_bytes(oid),
                    Value::from(state.seq),
                    wire::v_u256_bytes(&state.balance),
                    Value::Bool(state.is_final),
                ];
                self.publish(&topic, args).await;
            }
        }
        Ok(result)
    }

    /// Waits (bounded) for the worker to carry the close of `oid` past submission: the
    /// transaction hash (zeros while none is mined) and the channel state to report.
    async fn close_outcome(&self, oid: ChannelId) -> MarketResult<([u8; 32], ChannelState)> {
        let intent = self
            .await_close(oid, self.close_reply_wait(), |c| {
                matches!(
                    c.state,
                    CloseState::Mined | CloseState::Final | CloseState::Failed
                )
            })
            .await?
            .ok_or_else(|| MarketError::runtime("close intent vanished"))?;
        match intent.state {
            CloseState::Failed => Err(MarketError::new(
                uri::CHAIN_ERROR,
                format!(
                    "closing the channel failed on chain: {}",
                    intent.failure.unwrap_or_default()
                ),
            )),
            CloseState::Mined | CloseState::Final => {
                let state = if intent.is_final {
                    ChannelState::Closed
                } else {
                    ChannelState::Closing
                };
                Ok((intent.tx_hash.unwrap_or_default(), state))
            }
            _ => Ok(([0u8; 32], ChannelState::Closing)),
        }
    }
}

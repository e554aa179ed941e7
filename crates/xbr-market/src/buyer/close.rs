//! Closing the payment channel at its current off-chain state (final close).

use tracing::info;

use super::{Active, Buyer};
use crate::error::{MarketError, MarketResult, uri};
use crate::sig::{ChannelState as SignedState, OFF_CHAIN_CLOSE_AT};
use crate::wire::CloseChannelRequest;

impl Buyer {
    /// Closes the channel of `active` (the caller holds the sale lock).
    pub(super) async fn close_locked(&self, active: &mut Active) -> MarketResult<()> {
        let inner = &self.inner;
        let ch = &active.channel;
        // Sign the close at a recent block: the contract accepts `closeAt` only within
        // PRESIGNED_TXN_MAX_AGE blocks of the head (the reference's fixed 1 expires at block 1441).
        let close_at = match inner.maker.get_block_number().await? {
            0 => OFF_CHAIN_CLOSE_AT,
            block => block,
        };
        let state = SignedState {
            close_at,
            market_oid: ch.market_oid,
            channel_oid: ch.channel_oid,
            seq: ch.seq,
            balance: ch.balance,
            is_final: true,
        };
        let signature = active.domain.sign(&inner.cfg.key, &state)?;
        let req = CloseChannelRequest {
            channel_oid: ch.channel_oid,
            verifying_chain_id: active.domain.chain_id,
            current_block_number: close_at,
            verifying_contract: active.domain.verifying_contract,
            closing_balance: ch.balance,
            closing_seq: ch.seq,
            closing_is_final: true,
            delegate_signature: signature,
        };
        inner.maker.close_channel(&req).await?;
        active.closed = true;
        info!(seq = ch.seq, "payment channel closed");
        Ok(())
    }

    /// Closes the payment channel now (final close at the current state). A purchase still
    /// pending is settled first: the close must not sign away a seq the maker may have used.
    pub async fn close_channel(&self) -> MarketResult<()> {
        let mut guard = self.inner.active.lock().await;
        let active = guard
            .as_mut()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "buyer not started"))?;
        self.settle_pending(active).await?;
        self.close_locked(active).await
    }
}

//! Closing the payment channel at its current off-chain state (final close).

use tracing::info;

use super::{Active, Buyer};
use crate::error::{MarketError, MarketResult, uri};
use crate::own_channel;

impl Buyer {
    /// Closes the channel of `active` (the caller holds the sale lock).
    pub(super) async fn close_locked(&self, active: &mut Active) -> MarketResult<()> {
        let inner = &self.inner;
        let ch = &active.channel;
        own_channel::final_close(&inner.maker, &inner.cfg.key, &active.domain, ch).await?;
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

//! The seller closing its own paying channel at its current off-chain state (final close), e.g.
//! when its operator leaves the market: the same close a buyer makes of its payment channel.

use tracing::info;

use super::Seller;
use crate::error::{MarketError, MarketResult, uri};
use crate::own_channel;
use crate::types::LocalChannel;

impl Seller {
    /// Closes the paying channel now: the delegate signs a final close at the current (seq,
    /// balance) and the maker's `close_channel` counter-signs and settles it. Runs under the sale
    /// lock, so no sale moves the channel meanwhile. The channel closed, as signed.
    pub async fn close_paying_channel(&self) -> MarketResult<LocalChannel> {
        let inner = &self.inner;
        let _sale = inner.sale_lock.lock().await;
        let (channel, domain) = {
            let st = self.state();
            (st.channel.clone(), st.domain)
        };
        let (Some(channel), Some(domain)) = (channel, domain) else {
            return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
        };
        own_channel::final_close(&inner.maker, &inner.cfg.key, &domain, &channel).await?;
        info!(channel = %channel.channel_oid, seq = channel.seq, "paying channel closed");
        Ok(channel)
    }
}

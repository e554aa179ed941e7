//! One purchase, under the sale lock: the pending intent first, then the quote, the allow-list,
//! price and balance checks (auto-close), the signed request persisted as an intent, and the intent sent.

use tracing::warn;

use super::intent::Resolution;
use super::{Buyer, Held};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::sig;
use crate::store::blocking;
use crate::types::{KeyId, PurchaseIntent};

impl Buyer {
    /// Buys `key_id` (checking the key against `in_hand`, a ciphertext published under it).
    pub(super) async fn purchase(
        &self,
        key_id: KeyId,
        in_hand: Option<Vec<u8>>,
    ) -> MarketResult<Held> {
        let inner = &self.inner;
        let mut guard = inner.active.lock().await;
        let active = guard
            .as_mut()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "buyer not started"))?;
        // A purchase whose outcome is unknown holds the next seq: nothing else is bought before
        // the maker answered it.
        self.settle_pending(active).await?;
        // Bought meanwhile (by the pending intent, or at start while this purchase waited).
        if let Some(p) = blocking(&inner.store, move |s| s.purchase(&key_id)).await? {
            return self.held(&p);
        }
        if active.closed {
            return Err(MarketError::new(
                uri::CHANNEL_CLOSED,
                "payment channel closed",
            ));
        }
        let quote = inner.maker.get_quote(&key_id).await?;
        inner.cfg.allow.check(&quote)?;
        let amount = quote.price;
        if amount > inner.cfg.max_price {
            return Err(MarketError::new(
                uri::MAX_PRICE_EXCEEDED,
                format!("price {amount} exceeds the maximum {}", inner.cfg.max_price),
            ));
        }
        let ch = active.channel.clone();
        let Some(balance) = ch.balance.checked_sub(amount) else {
            if inner.cfg.auto_close && ch.seq > 1 {
                self.close_locked(active).await?;
                return Err(MarketError::new(
                    uri::CHANNEL_CLOSED,
                    "payment channel exhausted and closed",
                ));
            }
            return Err(MarketError::new(
                uri::INSUFFICIENT_BALANCE,
                "payment channel cannot pay the price",
            ));
        };
        let seq = ch.seq + 1;
        // XBRSIG 1.
        let buyer_signature = active.domain.sign(
            &inner.cfg.key,
            &sig::off_chain(ch.market_oid, ch.channel_oid, seq, balance),
        )?;
        let intent = PurchaseIntent {
            channel_oid: ch.channel_oid,
            key_id,
            seq,
            amount,
            balance,
            buyer_signature,
            buyer_pubkey: self.receive_key()?.public(),
            created: now_ns(),
            ciphertext: in_hand,
        };
        let stored = intent.clone();
        blocking(&inner.store, move |s| s.put_purchase_intent(&stored)).await?;
        crate::failpoint!("buyer::after_intent");
        match self.send_intent(active, &intent, true).await? {
            Resolution::Bought(held) => Ok(held),
            Resolution::Refused(e) => {
                warn!(error = %e, seq, "purchase refused");
                Err(e)
            }
        }
    }
}

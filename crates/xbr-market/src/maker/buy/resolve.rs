//! What the seller's answer to `sell` means for a sale, and resolving a sale left unresolved.
//!
//! The seller's answer ([`classify`]):
//! - a valid receipt: SELLER_SIGNED, then COMPLETED;
//! - no answer known (`wamp.error.timeout`, `wamp.error.canceled`, a transport failure): the
//!   seller may have recorded the sale, so it stays INFLIGHT (the buyer gets
//!   `xbr.error.sale_pending`) until recovery sends the identical `sell` again;
//! - `xbr.error.unexpected_channel_seq` WITHOUT a position to a re-sent `sell`: the reference
//!   seller refuses a sale it recorded that way, so the money side completes. Such a sale has no
//!   sealed key to deliver (the buyer is told, with the payment channel's position). Our seller
//!   answers an identical re-sent `sell` with its receipt, so its refusal (which carries its
//!   position) means it recorded something else at that seq or nothing: a refusal. Completing on
//!   a position alone would charge a buyer for a sale the seller never made for it (a seller
//!   still standing on a sale the maker rolled back refuses the next, different sale at that seq
//!   with exactly such a position until its re-sync voids the old record);
//! - any other refusal: the seller did not record it; the sale rolls back. On a re-sent `sell`,
//!   errors that say the seller did not look at it (no such procedure: the seller has not
//!   registered yet; unavailable; busy) prove nothing about the first send, so the sale stays
//!   unresolved.
//!
//! A sale is resolved only by a holder of its paying channel's lock, who reads its state again
//! under that lock (the original task holds it until it ends), so no two parties ever resolve
//! the same sale.

use tracing::{debug, warn};

use super::Reservation;
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::MarketMaker;
use crate::sig;
use crate::types::{ChannelId, Sale, SaleStatus, TxId};
use crate::wire::{BuyReceipt, SellReceipt};

/// The callee did not answer in time.
const WAMP_TIMEOUT: &str = "wamp.error.timeout";
/// The call was canceled before an answer.
const WAMP_CANCELED: &str = "wamp.error.canceled";
/// The router has no callee for the procedure right now.
const WAMP_UNAVAILABLE: &str = "wamp.error.unavailable";

/// Which send of a sale's `sell` this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The original request's.
    First,
    /// Recovery's identical re-send (the first may or may not have reached the seller).
    Resend,
}

/// What the seller's answer means for the sale.
#[derive(Debug)]
pub(crate) enum SellerAnswer {
    /// A valid receipt.
    Signed(SellReceipt),
    /// A refusal showing the seller recorded the sale.
    Recorded(MarketError),
    /// A refusal proving the seller did not record it.
    Refused(MarketError),
    /// No answer known.
    Unknown(MarketError),
}

/// Classifies the seller's answer to a sale's `sell` (see the module doc).
pub(crate) fn classify(answer: MarketResult<SellReceipt>, attempt: Attempt) -> SellerAnswer {
    let e = match answer {
        Ok(receipt) => return SellerAnswer::Signed(receipt),
        Err(e) => e,
    };
    if e.is_transport() || e.is(WAMP_TIMEOUT) || e.is(WAMP_CANCELED) {
        return SellerAnswer::Unknown(e);
    }
    if e.is(uri::UNEXPECTED_CHANNEL_SEQ) && e.position.is_none() && attempt == Attempt::Resend {
        return SellerAnswer::Recorded(e);
    }
    if attempt == Attempt::Resend
        && (e.is(uri::NO_SUCH_PROCEDURE) || e.is(WAMP_UNAVAILABLE) || e.is(uri::BUSY))
    {
        return SellerAnswer::Unknown(e);
    }
    SellerAnswer::Refused(e)
}

/// Where a sale stands after an attempt to resolve it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// Completed (the buyer paid, the seller earned).
    Completed,
    /// Rolled back (nobody paid).
    RolledBack,
    /// Still unresolved (the seller's answer is not known yet).
    Pending,
}

impl Resolution {
    fn of(status: SaleStatus) -> Self {
        match status {
            SaleStatus::Completed => Resolution::Completed,
            SaleStatus::Failed => Resolution::RolledBack,
            SaleStatus::Inflight | SaleStatus::SellerSigned => Resolution::Pending,
        }
    }
}

/// `xbr.error.sale_pending` for a sale whose seller's answer is not known.
pub(crate) fn sale_pending(why: &str) -> MarketError {
    MarketError::new(
        uri::SALE_PENDING,
        format!("a sale on the channel is unresolved ({why}); retry the same request later"),
    )
}

impl MarketMaker {
    /// Steps 4 and 5 for a reserved sale: `sell` sent (again), the answer classified and acted
    /// on. The caller holds the sale's paying channel's lock.
    pub(crate) async fn run_reservation(
        &self,
        r: &Reservation,
        attempt: Attempt,
    ) -> MarketResult<BuyReceipt> {
        let recovered = attempt == Attempt::Resend;
        crate::failpoint!("maker::before_sell");
        let answer = self.call_seller(r).await;
        crate::failpoint!("maker::after_sell");
        match classify(answer, attempt) {
            SellerAnswer::Signed(receipt) => self.settle_as(r, receipt, recovered).await,
            SellerAnswer::Recorded(e) => {
                warn!(error = %e, "the seller recorded the sale without a receipt to us; completing it");
                self.finish(r.sale.clone(), recovered).await
            }
            SellerAnswer::Refused(e) => {
                self.roll_back_as(r, &e, recovered).await;
                Err(e)
            }
            SellerAnswer::Unknown(e) => {
                warn!(error = %e, "the seller's answer is unknown; the sale stays in flight");
                Err(sale_pending(&e.to_string()))
            }
        }
    }

    /// The reservation of a stored sale, as the original request made it: the seller from the
    /// offer, the paying channel's delegate, the signed paying state.
    async fn reservation_of(&self, sale: Sale) -> MarketResult<Reservation> {
        let (offer_id, paying_oid) = (sale.offer_id, sale.paying_channel);
        let (offer, paying) = self
            .db(move |s| Ok((s.offer(&offer_id)?, s.channel(&paying_oid)?)))
            .await?;
        let offer = offer.ok_or_else(|| MarketError::no_such_object("offer of the sale"))?;
        let paying = paying.ok_or_else(|| MarketError::no_such_object("paying channel"))?;
        Ok(Reservation {
            sell_state: sig::off_chain(
                self.cfg.market_oid,
                sale.paying_channel,
                sale.paying_seq,
                sale.paying_remaining,
            ),
            seller_delegate: paying.delegate,
            seller_authid: offer.seller_authid,
            sale,
        })
    }

    /// Resolves the sale `tx_id` if it is still unresolved: SELLER_SIGNED is finished without
    /// the network, INFLIGHT gets the identical `sell` again. The caller holds the sale's paying
    /// channel's lock. Every resolution here is recovery's (`recovered`).
    pub(crate) async fn resolve_locked(&self, tx_id: TxId) -> MarketResult<Resolution> {
        let sale = self
            .db(move |s| s.sale(&tx_id))
            .await?
            .ok_or_else(|| MarketError::no_such_object("no such sale"))?;
        let outcome = match sale.status {
            SaleStatus::Completed | SaleStatus::Failed => return Ok(Resolution::of(sale.status)),
            SaleStatus::SellerSigned => self.finish(sale, true).await,
            SaleStatus::Inflight => {
                let r = self.reservation_of(sale).await?;
                self.run_reservation(&r, Attempt::Resend).await
            }
        };
        if let Err(e) = outcome {
            debug!(error = %e, "resolving an unresolved sale");
        }
        let status = self
            .db(move |s| s.sale(&tx_id))
            .await?
            .map_or(SaleStatus::Inflight, |s| s.status);
        let resolution = Resolution::of(status);
        self.note_attempt(tx_id, resolution);
        Ok(resolution)
    }

    /// Resolves the unresolved sale of payment channel `channel`, whose lock the caller holds,
    /// under its paying channel's lock. It may stay unresolved. A request naming a channel that
    /// is the paying side of its sale is refused as a request naming no payment channel.
    pub(crate) async fn resolve_payment_channel(&self, channel: ChannelId) -> MarketResult<()> {
        let Some(sale) = self.db(move |s| s.unresolved_sale_on(&channel)).await? else {
            return Ok(());
        };
        // The store finds a sale by either of its channels. Here `channel` is the sale's paying
        // channel, whose lock the caller holds: taking it again would wait forever.
        if sale.payment_channel != channel {
            return Err(MarketError::no_such_object("no such open payment channel"));
        }
        let paying_lock = self.lock_for(&sale.paying_channel);
        let _paying_guard = paying_lock.lock().await;
        self.resolve_locked(sale.tx_id).await?;
        Ok(())
    }

    /// Resolves the unresolved sale of paying channel `channel`, whose lock the caller holds;
    /// `xbr.error.sale_pending` if it stays unresolved.
    pub(crate) async fn resolve_locked_channel(&self, channel: ChannelId) -> MarketResult<()> {
        if let Some(sale) = self.db(move |s| s.unresolved_sale_on(&channel)).await? {
            self.resolve_locked(sale.tx_id).await?;
        }
        self.refuse_if_unresolved(channel).await
    }

    /// `xbr.error.sale_pending` while `channel` has an unresolved sale.
    pub(crate) async fn refuse_if_unresolved(&self, channel: ChannelId) -> MarketResult<()> {
        match self.db(move |s| s.unresolved_sale_on(&channel)).await? {
            Some(_) => Err(sale_pending("the seller's answer is not known yet")),
            None => Ok(()),
        }
    }
}

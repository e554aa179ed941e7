//! Idempotency of `buy_key` by (payment channel, seq): a request at a seq already used gets the
//! stored outcome, whatever happened to the first reply.
//!
//! The fingerprint of a request is (key id, buyer public key, amount, balance, buyer signature).
//! The same fingerprint as the live sale at that seq gets the same [`BuyReceipt`], rebuilt from
//! the stored sale (sealed key and receipt signature included), or `xbr.error.sale_pending` while
//! the sale is unresolved; a different request is refused with `xbr.error.unexpected_channel_seq`
//! and the payment channel's position, so the buyer can re-sync.

use super::resolve::sale_pending;
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::MarketMaker;
use crate::types::{Sale, SaleStatus, U256};
use crate::wire::{BuyKeyRequest, BuyReceipt};

/// True if `req` is the request `sale` was made from.
fn same_request(sale: &Sale, req: &BuyKeyRequest) -> bool {
    sale.key_id == req.key_id
        && sale.buyer_pubkey == req.buyer_pubkey
        && sale.amount_offered == req.amount
        && sale.payment_remaining == req.balance
        && sale.buyer_signature == req.signature
}

/// The buyer's receipt of a completed sale, exactly as its first reply. The payment channel's
/// in-flight amount after a sale is 0: a channel has at most one unresolved sale, this one, and
/// it was released. A sale the seller recorded without giving us its receipt has no sealed key
/// to deliver: the buyer gets `xbr.error.transaction_failed` with the payment channel's position
/// after the sale (the money moved).
pub(crate) fn receipt_of(sale: &Sale) -> MarketResult<BuyReceipt> {
    let no_key = || {
        MarketError::new(
            uri::TRANSACTION_FAILED,
            "the seller recorded the sale but its sealed key cannot be delivered",
        )
        .with_position(sale.payment_seq, sale.payment_remaining)
    };
    if sale.status != SaleStatus::Completed {
        return Err(sale_pending("the sale is not completed"));
    }
    let (Some(sealed_key), Some(signature)) = (&sale.sealed_key, sale.maker_receipt_signature)
    else {
        return Err(no_key());
    };
    Ok(BuyReceipt {
        key_id: sale.key_id,
        delegate: sale.buyer_delegate,
        buyer_pubkey: sale.buyer_pubkey,
        sealed_key: sealed_key.clone(),
        offer_id: Some(sale.offer_id),
        free_rated: sale.amount_paid.is_zero(),
        amount: sale.amount_offered,
        amount_paid: sale.amount_paid,
        channel_seq: sale.payment_seq,
        payment_channel: sale.payment_channel,
        remaining: sale.payment_remaining,
        inflight: U256::ZERO,
        signature,
    })
}

impl MarketMaker {
    /// The stored outcome of `req` if its seq was used already on its payment channel (`None`:
    /// it was not, the purchase goes ahead). Called with the payment channel's lock held.
    pub(crate) async fn replay(&self, req: &BuyKeyRequest) -> MarketResult<Option<BuyReceipt>> {
        let (oid, seq) = (req.channel_oid, req.channel_seq);
        let (sale, payment) = self
            .db(move |s| Ok((s.sale_at_payment(&oid, seq)?, s.channel(&oid)?)))
            .await?;
        let Some(sale) = sale else {
            return Ok(None);
        };
        if !same_request(&sale, req) {
            let e = MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                format!("payment channel seq {seq} was used by another request"),
            );
            return Err(match payment {
                Some(p) => e.with_position(p.seq, p.remaining),
                None => e,
            });
        }
        if sale.status.is_unresolved() {
            return Err(sale_pending("the seller's answer is not known yet"));
        }
        receipt_of(&sale).map(Some)
    }
}

//! The state rules every store applies, as pure functions on records: what a sale does to its
//! payment and paying channels, and what a seller sale or a purchase does to the active local
//! channel mirror. The memory and SQLite stores only load, call these, and write back, so they
//! cannot drift apart.

use super::{StoreError, StoreResult};
use crate::types::{
    Channel, ChannelId, ChannelState, CloseTx, LocalChannel, Purchase, PurchaseIntent, Sale,
    SaleStatus, SellerSale, Signature, U256,
};

/// One step of a sale on its two channels: `(sale, payment, paying)` → `(payment, paying)` after
/// the step.
pub(super) type SaleRule = fn(&Sale, &Channel, &Channel) -> StoreResult<(Channel, Channel)>;

/// The sale itself, if it exists and is still in flight (completing or rolling back needs that).
pub(super) fn inflight_sale(sale: Option<Sale>) -> StoreResult<Sale> {
    let sale = sale.ok_or(StoreError::NotFound("sale"))?;
    if sale.status != SaleStatus::Inflight {
        return Err(StoreError::Conflict("sale is not in flight".into()));
    }
    Ok(sale)
}

/// The sale itself, if it exists and is unresolved (in flight or seller-signed): what finishing
/// it needs.
pub(super) fn unresolved_sale(sale: Option<Sale>) -> StoreResult<Sale> {
    let sale = sale.ok_or(StoreError::NotFound("sale"))?;
    if !sale.status.is_unresolved() {
        return Err(StoreError::Conflict("sale is already resolved".into()));
    }
    Ok(sale)
}

/// Which sales a finishing step accepts: [`inflight_sale`] or [`unresolved_sale`].
pub(super) type SaleCheck = fn(Option<Sale>) -> StoreResult<Sale>;

/// How a sale is completed: which states it may be in, the signatures to store, and whether
/// recovery finished it.
pub(super) struct Completion<'a> {
    pub check: SaleCheck,
    /// Stored if given (else the one stored at SELLER_SIGNED, if any, stays).
    pub seller_signature: Option<&'a Signature>,
    pub receipt_signature: &'a Signature,
    pub recovered: bool,
}

impl<'a> Completion<'a> {
    /// `complete_sale`: an in-flight sale completed with the seller's signature.
    pub fn with_seller(seller_signature: &'a Signature, receipt_signature: &'a Signature) -> Self {
        Self {
            check: inflight_sale,
            seller_signature: Some(seller_signature),
            receipt_signature,
            recovered: false,
        }
    }

    /// `finish_sale`: an unresolved sale completed, keeping the seller's signature if stored.
    pub fn finish(receipt_signature: &'a Signature, recovered: bool) -> Self {
        Self {
            check: unresolved_sale,
            seller_signature: None,
            receipt_signature,
            recovered,
        }
    }
}

/// Transaction 1 of a sale: both channels after reserving `amount_paid`, in the order
/// `(payment, paying)`. Fails unless each channel is open and the sale's seq and remaining are
/// exactly one step past the channel's.
pub(super) fn begin_sale(
    sale: &Sale,
    payment: &Channel,
    paying: &Channel,
) -> StoreResult<(Channel, Channel)> {
    let reserve = |what: &str, ch: &Channel, seq: u64, remaining: U256| {
        check_advance(what, ch, seq, remaining, sale.amount_paid)?;
        Ok::<_, StoreError>(Channel {
            seq,
            remaining,
            inflight: ch.inflight + sale.amount_paid,
            ..ch.clone()
        })
    };
    Ok((
        reserve("payment", payment, sale.payment_seq, sale.payment_remaining)?,
        reserve("paying", paying, sale.paying_seq, sale.paying_remaining)?,
    ))
}

/// A completed sale: both channels with the sale's amount no longer in flight.
pub(super) fn complete_sale(
    sale: &Sale,
    payment: &Channel,
    paying: &Channel,
) -> StoreResult<(Channel, Channel)> {
    let release = |ch: &Channel| {
        let inflight = ch
            .inflight
            .checked_sub(sale.amount_paid)
            .ok_or_else(|| StoreError::Corrupt("inflight below sale amount".into()))?;
        Ok::<_, StoreError>(Channel {
            inflight,
            ..ch.clone()
        })
    };
    Ok((release(payment)?, release(paying)?))
}

/// A rolled-back sale: both channels with seq and money as before transaction 1. Fails if a
/// channel moved on since (its seq is no longer the sale's).
pub(super) fn rollback_sale(
    sale: &Sale,
    payment: &Channel,
    paying: &Channel,
) -> StoreResult<(Channel, Channel)> {
    let undo = |ch: &Channel, seq: u64| {
        if ch.seq != seq || ch.inflight < sale.amount_paid {
            return Err(StoreError::Conflict(
                "channel moved past the sale being rolled back".into(),
            ));
        }
        Ok(Channel {
            seq: seq - 1,
            remaining: ch.remaining + sale.amount_paid,
            inflight: ch.inflight - sale.amount_paid,
            ..ch.clone()
        })
    };
    Ok((
        undo(payment, sale.payment_seq)?,
        undo(paying, sale.paying_seq)?,
    ))
}

/// Checks a channel can move to `(seq, remaining)` by paying `amount`.
fn check_advance(
    what: &str,
    channel: &Channel,
    seq_after: u64,
    remaining_after: U256,
    amount: U256,
) -> StoreResult<()> {
    if channel.state != ChannelState::Open {
        return Err(StoreError::Conflict(format!("{what} channel is not open")));
    }
    if channel.seq.checked_add(1) != Some(seq_after) {
        return Err(StoreError::Conflict(format!(
            "{what} channel seq is {}, sale wants {seq_after}",
            channel.seq
        )));
    }
    if channel.remaining.checked_sub(amount) != Some(remaining_after) {
        return Err(StoreError::Conflict(format!(
            "{what} channel remaining does not match the sale"
        )));
    }
    Ok(())
}

/// The active local channel after a transaction of `amount` that leaves it at
/// `(seq_after, balance_after)`; fails unless `channel_oid` is the active channel and the
/// transaction is exactly one step past it.
pub(super) fn advance_local(
    active: Option<&LocalChannel>,
    channel_oid: &ChannelId,
    seq_after: u64,
    balance_after: U256,
    amount: U256,
) -> StoreResult<LocalChannel> {
    let ch = active.ok_or(StoreError::NotFound("active channel"))?;
    if &ch.channel_oid != channel_oid {
        return Err(StoreError::Conflict("not the active channel".into()));
    }
    if ch.seq.checked_add(1) != Some(seq_after) {
        return Err(StoreError::Conflict(format!(
            "channel seq is {}, transaction wants {seq_after}",
            ch.seq
        )));
    }
    if balance_after.checked_add(amount) != Some(ch.balance) {
        return Err(StoreError::Conflict(
            "channel balance does not match the transaction".into(),
        ));
    }
    Ok(LocalChannel {
        seq: seq_after,
        balance: balance_after,
        ..ch.clone()
    })
}

/// Whether `sale` is the seller's live sale at `(channel_oid, seq)`.
pub(super) fn is_live_sale_at(sale: &SellerSale, channel_oid: &ChannelId, seq: u64) -> bool {
    !sale.voided && &sale.channel_oid == channel_oid && sale.seq == seq
}

/// Whether adopting `adopted` as the seller's paying channel voids `sale`: a live sale of that
/// channel above the adopted seq (the maker rolled it back).
pub(super) fn voided_by_adopting(sale: &SellerSale, adopted: &LocalChannel) -> bool {
    !sale.voided && sale.channel_oid == adopted.channel_oid && sale.seq > adopted.seq
}

// ------------------------------------------------------------------ buyer: purchase intents

/// Checks that `intent` is one step past the active channel (what its purchase will do to it).
pub(super) fn check_intent(
    active: Option<&LocalChannel>,
    intent: &PurchaseIntent,
) -> StoreResult<()> {
    advance_local(
        active,
        &intent.channel_oid,
        intent.seq,
        intent.balance,
        intent.amount,
    )
    .map(|_| ())
}

/// Checks that `purchase` resolves `intent`: the same channel, key, seq, amount, balance and
/// buyer signature.
pub(super) fn check_resolves(
    intent: Option<&PurchaseIntent>,
    purchase: &Purchase,
) -> StoreResult<()> {
    let intent = intent.ok_or(StoreError::NotFound("purchase intent"))?;
    let same = intent.channel_oid == purchase.channel_oid
        && intent.key_id == purchase.key_id
        && intent.seq == purchase.seq
        && intent.amount == purchase.amount
        && intent.balance == purchase.balance
        && intent.buyer_signature == purchase.buyer_signature;
    if !same {
        return Err(StoreError::Conflict(
            "purchase does not resolve the pending intent".into(),
        ));
    }
    Ok(())
}

/// The versions of a close's transaction that `new` adds to the `stored` ones: a version once
/// stored never changes or disappears (any of them may be the one mined).
pub(super) fn appended_close_txs<'a>(
    stored: &[CloseTx],
    new: &'a [CloseTx],
) -> StoreResult<&'a [CloseTx]> {
    if !new.starts_with(stored) {
        return Err(StoreError::Conflict(
            "the close's stored transaction versions cannot change".into(),
        ));
    }
    Ok(&new[stored.len()..])
}

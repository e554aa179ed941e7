//! `buy_key` (spec §3A.3 plus the checks the reference left as FIXME) as a persisted sale state
//! machine, safe when the request is dropped, the process dies or a reply is lost.
//!
//! The request handler ([`MarketMaker::buy_key`]) checks the buyer's signature and hands the
//! purchase to a task owned by the maker (at most [`SALES_IN_FLIGHT`]); dropping the handler
//! drops only the wait. The task ([`MarketMaker::sell_key`]) runs these steps, each with explicit
//! inputs and outputs, holding the payment channel's lock and then the paying channel's:
//!
//! 1. [`MarketMaker::check_buyer_signature`] (in the handler) and [`MarketMaker::check_payment`]:
//!    the buyer's signature (XBRSIG 2), the payment channel, the live offer, amount, seq and
//!    balance; before that, the channel's unresolved sale is resolved and a request at a seq
//!    already used gets the stored outcome ([`replay`]);
//! 2. [`MarketMaker::pick_paying_channel`] and [`MarketMaker::claim_paying_channel`]: the
//!    seller's paying channel that earns the price (an exhausted one is closed), its unresolved
//!    sale resolved first;
//! 3. [`MarketMaker::reserve`]: the maker's sell signature (XBRSIG 3) and transaction 1 (both
//!    channels advanced, the price in flight, the sale INFLIGHT = reserved);
//! 4. [`MarketMaker::call_seller`]: `xbr.provider.<authid>.sell` and its receipt (XBRSIG 6); the
//!    answer is classified ([`resolve`]): a receipt → SELLER_SIGNED; a refusal proving the seller
//!    did not record the sale → [`MarketMaker::roll_back`]; no answer → the sale stays INFLIGHT
//!    and the buyer gets `xbr.error.sale_pending`;
//! 5. [`MarketMaker::settle`]: the receipt signature (XBRSIG 7), transaction 2 (COMPLETED), the
//!    channel-empty events and the buyer's receipt, rebuilt from the stored sale.
//!
//! Unresolved sales left by a crash or an unanswered seller are resolved by [`recovery`] at start
//! and by the runtime's sweeper.

mod recovery;
mod replay;
mod resolve;

use std::sync::Arc;

use tracing::{Instrument, info_span, warn};
use wamp_proto::Dict;

use super::MarketMaker;
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{ProviderProcedure, now_ns};
use crate::sig::{self, ChannelState as SignedState};
use crate::store::MakerStore;
use crate::types::{
    Address, Channel, ChannelId, ChannelState, ChannelType, Offer, Sale, SaleStatus, TxId, U256,
};
use crate::wire::{self, BuyKeyRequest, BuyReceipt, SellReceipt, SellRequest, v_bytes};

pub(crate) use recovery::Backoff;
pub use recovery::{RecoveryReport, UnresolvedSales};

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod tests;

/// At most this many purchases run at once; past it `buy_key` answers `xbr.error.busy`.
pub const SALES_IN_FLIGHT: usize = 256;

/// The payment side of a purchase, checked against the stored channel and the live offer.
#[derive(Clone, Debug)]
pub struct CheckedPayment {
    /// The buyer's open payment channel, as stored before the purchase.
    pub payment: Channel,
    /// The live offer of the key.
    pub offer: Offer,
    /// The price to charge (the offer's price).
    pub price: U256,
    /// The payment channel's remaining after the purchase.
    pub remaining_after: U256,
}

/// A sale reserved in the store (transaction 1 done): what the seller is asked to sign.
#[derive(Clone, Debug)]
pub struct Reservation {
    /// The stored sale (status INFLIGHT).
    pub sale: Sale,
    /// The paying channel's state after the sale (signed by maker and seller).
    pub sell_state: SignedState,
    /// The paying channel's delegate (the seller's signer).
    pub seller_delegate: Address,
    /// The seller's provider id (its procedures' URI component).
    pub seller_authid: String,
}

impl MarketMaker {
    /// `buy_key`: the buyer's signature is checked here; the purchase runs in a task of the
    /// maker's ([`Self::sell_key`]) that this call only awaits, so dropping it (cancel, caller
    /// timeout, lost connection) does not stop the sale.
    pub async fn buy_key(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        self.check_buyer_signature(&req)?;
        let slot = Arc::clone(&self.sale_slots)
            .try_acquire_owned()
            .map_err(|_| MarketError::new(uri::BUSY, "too many purchases in flight"))?;
        let span = info_span!("buy_key", key_id = %req.key_id, channel = %req.channel_oid, seq = req.channel_seq);
        let maker = self.handle();
        let task = tokio::spawn(
            async move {
                let _slot = slot;
                maker.sell_key(req).await
            }
            .instrument(span),
        );
        task.await
            .map_err(|e| MarketError::runtime(format!("sale task ended: {e}")))?
    }

    /// Waits until no purchase task is running (tests, shutdown).
    pub async fn sales_settled(&self) {
        let all = u32::try_from(SALES_IN_FLIGHT).unwrap_or(u32::MAX);
        // The semaphore is never closed, so acquiring cannot fail.
        drop(self.sale_slots.acquire_many(all).await);
    }

    /// The purchase itself (the task body of [`Self::buy_key`]), with the payment channel's
    /// lock and then the paying channel's held across the steps.
    pub(crate) async fn sell_key(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        let payment_lock = self.lock_for(&req.channel_oid);
        let _payment_guard = payment_lock.lock().await;
        self.resolve_payment_channel(req.channel_oid).await?;
        if let Some(receipt) = self.replay(&req).await? {
            return Ok(receipt);
        }
        self.refuse_if_unresolved(req.channel_oid).await?;
        let checked = self.check_payment(&req).await?;

        let paying_oid = self
            .pick_paying_channel(checked.offer.seller, checked.price)
            .await?;
        let paying_lock = self.lock_for(&paying_oid);
        let _paying_guard = paying_lock.lock().await;
        self.resolve_locked_channel(paying_oid).await?;
        let paying = self.claim_paying_channel(paying_oid, &checked).await?;

        let reservation = self.reserve(&req, &checked, &paying).await?;
        crate::failpoint!("maker::after_reserve");
        self.run_reservation(&reservation, resolve::Attempt::First)
            .await
    }

    /// Step 1a: XBRSIG 2, the buyer's signature over the payment state it proposes.
    pub(crate) fn check_buyer_signature(&self, req: &BuyKeyRequest) -> MarketResult<()> {
        self.cfg.domain.verify(
            &sig::off_chain(
                self.cfg.market_oid,
                req.channel_oid,
                req.channel_seq,
                req.balance,
            ),
            &req.signature,
            &req.delegate,
            "buyer delegate",
        )
    }

    /// Step 1b: the request against the stored payment channel (open, the delegate's, seq and
    /// balance continuing it) and the live offer (amount covers the price, the channel can pay
    /// it). Called with the payment channel's lock held.
    pub(crate) async fn check_payment(&self, req: &BuyKeyRequest) -> MarketResult<CheckedPayment> {
        let oid = req.channel_oid;
        let payment = self
            .db(move |s| s.channel(&oid))
            .await?
            .filter(|c| c.channel_type == ChannelType::Payment && c.state == ChannelState::Open)
            .ok_or_else(|| MarketError::no_such_object("no such open payment channel"))?;
        if payment.delegate != req.delegate {
            return Err(MarketError::new(
                uri::UNEXPECTED_DELEGATE_ADR,
                format!(
                    "payment channel belongs to delegate {}, not {}",
                    payment.delegate, req.delegate
                ),
            ));
        }
        let offer = self.live_offer(req.key_id).await?;
        let price = offer.price;
        if req.amount < price {
            return Err(MarketError::new(
                uri::INSUFFICIENT_AMOUNT,
                "amount below the offer price",
            ));
        }
        if price > payment.remaining {
            return Err(MarketError::new(
                uri::INSUFFICIENT_PAYMENT_BALANCE,
                "payment channel cannot pay the price",
            ));
        }
        if req.channel_seq != payment.seq + 1 {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                format!(
                    "payment channel seq is {}, expected {} in the request",
                    payment.seq,
                    payment.seq + 1
                ),
            )
            .with_position(payment.seq, payment.remaining));
        }
        let remaining_after = payment.remaining - price;
        if req.balance != remaining_after {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "balance is not the payment channel's remaining minus the price",
            )
            .with_position(payment.seq, payment.remaining));
        }
        Ok(CheckedPayment {
            payment,
            offer,
            price,
            remaining_after,
        })
    }

    /// Step 2a: the seller's open paying channel that can earn `price`, else any open one (which
    /// [`Self::claim_paying_channel`] then closes).
    pub(crate) async fn pick_paying_channel(
        &self,
        seller: Address,
        price: U256,
    ) -> MarketResult<ChannelId> {
        let open_paying: Vec<Channel> = self
            .db(move |s| s.channels_by_delegate(&seller, ChannelType::Paying))
            .await?
            .into_iter()
            .filter(|c| c.state == ChannelState::Open)
            .collect();
        open_paying
            .iter()
            .find(|c| c.remaining >= price)
            .or(open_paying.first())
            .map(|c| c.channel_oid)
            .ok_or_else(|| {
                MarketError::new(
                    uri::INSUFFICIENT_PAYING_BALANCE,
                    "seller has no active paying channel",
                )
            })
    }

    /// Step 2b: the picked paying channel as stored now, still open and able to earn the price.
    /// One that cannot is reported empty and closed with the seller's counter-signature (a
    /// failed close is logged), and the purchase fails. Called with its lock held.
    pub(crate) async fn claim_paying_channel(
        &self,
        paying_oid: ChannelId,
        checked: &CheckedPayment,
    ) -> MarketResult<Channel> {
        let paying = self
            .db(move |s| s.channel(&paying_oid))
            .await?
            .filter(|c| c.state == ChannelState::Open)
            .ok_or_else(|| {
                MarketError::new(uri::INSUFFICIENT_PAYING_BALANCE, "paying channel closed")
            })?;
        if paying.remaining >= checked.price {
            return Ok(paying);
        }
        self.publish(
            "xbr.marketmaker.on_paying_channel_empty",
            vec![v_bytes(paying_oid)],
        )
        .await;
        if let Err(e) = self
            .close_paying_channel(&paying, &checked.offer.seller_authid)
            .await
        {
            warn!(channel = %paying_oid, error = %e, "paying channel auto-close failed");
        }
        Err(MarketError::new(
            uri::INSUFFICIENT_PAYING_BALANCE,
            "paying channel cannot earn the price",
        ))
    }

    /// Step 3: signs the paying channel's next state (XBRSIG 3) and stores the sale
    /// (transaction 1: both channels' seq advanced, the price moved to inflight).
    pub(crate) async fn reserve(
        &self,
        req: &BuyKeyRequest,
        checked: &CheckedPayment,
        paying: &Channel,
    ) -> MarketResult<Reservation> {
        let paying_seq = paying.seq + 1;
        let paying_after = paying.remaining - checked.price;
        let sell_state = sig::off_chain(
            self.cfg.market_oid,
            paying.channel_oid,
            paying_seq,
            paying_after,
        );
        let maker_sell_signature = self.cfg.domain.sign(&self.cfg.key, &sell_state)?;
        let sale = Sale {
            tx_id: TxId(rand::random()),
            created: now_ns(),
            status: SaleStatus::Inflight,
            key_id: req.key_id,
            offer_id: checked.offer.offer_id,
            buyer_delegate: req.delegate,
            buyer_pubkey: req.buyer_pubkey,
            amount_offered: req.amount,
            amount_paid: checked.price,
            payment_channel: req.channel_oid,
            payment_seq: req.channel_seq,
            payment_remaining: checked.remaining_after,
            buyer_signature: req.signature,
            paying_channel: paying.channel_oid,
            paying_seq,
            paying_remaining: paying_after,
            maker_sell_signature,
            seller_signature: None,
            maker_receipt_signature: None,
            failure: None,
            sealed_key: None,
            recovered: false,
        };
        let stored = sale.clone();
        self.db(move |s| s.begin_sale(&stored)).await?;
        Ok(Reservation {
            sale,
            sell_state,
            seller_delegate: paying.delegate,
            seller_authid: checked.offer.seller_authid.clone(),
        })
    }

    /// Step 4: calls the seller's `sell` and checks its receipt: the seller's signature over
    /// the same paying state (XBRSIG 6), the key, an 80-byte sealed key.
    pub(crate) async fn call_seller(&self, reservation: &Reservation) -> MarketResult<SellReceipt> {
        let sale = &reservation.sale;
        let sell = SellRequest {
            market_maker_adr: self.address,
            buyer_pubkey: sale.buyer_pubkey,
            key_id: sale.key_id,
            channel_oid: sale.paying_channel,
            channel_seq: sale.paying_seq,
            amount: sale.amount_paid,
            balance: sale.paying_remaining,
            signature: sale.maker_sell_signature,
        };
        let procedure = ProviderProcedure::Sell.uri(&reservation.seller_authid);
        let r = self
            .providers
            .call(&procedure, sell.to_args(), Dict::new())
            .await?;
        let receipt = SellReceipt::from_value(wire::first(&r))?;
        self.cfg.domain.verify(
            &reservation.sell_state,
            &receipt.signature,
            &reservation.seller_delegate,
            "seller delegate",
        )?;
        if receipt.key_id != sale.key_id
            || receipt.sealed_key.len() != xbr_core::sealedbox::SEALED_KEY_LEN
        {
            return Err(MarketError::new(
                uri::TRANSACTION_FAILED,
                "seller receipt does not match the sale",
            ));
        }
        Ok(receipt)
    }

    /// Step 4, refused: undoes transaction 1 (seq and balances of both channels restored, the
    /// sale FAILED with `error` as the reason). A failed rollback is logged (the sale stays in
    /// flight for recovery).
    #[cfg(test)]
    pub(crate) async fn roll_back(&self, reservation: &Reservation, error: &MarketError) {
        self.roll_back_as(reservation, error, false).await;
    }

    /// [`Self::roll_back`], marking the sale `recovered` if recovery rolled it back.
    async fn roll_back_as(&self, reservation: &Reservation, error: &MarketError, recovered: bool) {
        warn!(error = %error, "sale refused by the seller, rolling back");
        let tx_id = reservation.sale.tx_id;
        let reason = error.to_string();
        let undo = move |s: &dyn MakerStore| s.rollback_sale_with(&tx_id, &reason, recovered);
        if let Err(re) = self.db(undo).await {
            warn!(error = %re, "rollback failed");
        }
    }

    /// Step 5: stores the seller's receipt (SELLER_SIGNED), then [`Self::finish`]es the sale.
    #[cfg(test)]
    pub(crate) async fn settle(
        &self,
        reservation: &Reservation,
        receipt: SellReceipt,
    ) -> MarketResult<BuyReceipt> {
        self.settle_as(reservation, receipt, false).await
    }

    /// [`Self::settle`], marking the sale `recovered` if recovery settled it.
    async fn settle_as(
        &self,
        reservation: &Reservation,
        receipt: SellReceipt,
        recovered: bool,
    ) -> MarketResult<BuyReceipt> {
        let tx_id = reservation.sale.tx_id;
        let (seller_sig, sealed_key) = (receipt.signature, receipt.sealed_key);
        let signed = self
            .db(move |s| s.seller_signed_sale(&tx_id, &seller_sig, &sealed_key))
            .await?;
        crate::failpoint!("maker::after_seller_signed");
        self.finish(signed, recovered).await
    }

    /// Signs the receipt over the new payment state (XBRSIG 7), completes the sale (transaction
    /// 2: inflight released; no network needed), reports exhausted channels and returns the
    /// buyer's receipt rebuilt from the completed sale (an error if the seller's sealed key is
    /// not known: see [`replay::receipt_of`]).
    pub(crate) async fn finish(&self, sale: Sale, recovered: bool) -> MarketResult<BuyReceipt> {
        let receipt_sig = self.cfg.domain.sign(
            &self.cfg.key,
            &sig::off_chain(
                self.cfg.market_oid,
                sale.payment_channel,
                sale.payment_seq,
                sale.payment_remaining,
            ),
        )?;
        let tx_id = sale.tx_id;
        let (payment_now, paying_now) = self
            .db(move |s| s.finish_sale(&tx_id, &receipt_sig, recovered))
            .await?;
        for (ch, topic) in [
            (&payment_now, "xbr.marketmaker.on_payment_channel_empty"),
            (&paying_now, "xbr.marketmaker.on_paying_channel_empty"),
        ] {
            if (ch.remaining + ch.inflight).is_zero() {
                self.publish(topic, vec![v_bytes(ch.channel_oid)]).await;
            }
        }
        crate::failpoint!("maker::after_done");
        replay::receipt_of(&Sale {
            status: SaleStatus::Completed,
            maker_receipt_signature: Some(receipt_sig),
            recovered,
            ..sale
        })
    }
}

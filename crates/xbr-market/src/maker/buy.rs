//! `buy_key` (spec §3A.3 plus the checks the reference left as FIXME) as named steps, each with
//! explicit inputs and outputs:
//!
//! 1. [`MarketMaker::check_buyer_signature`] and [`MarketMaker::check_payment`]: the buyer's
//!    signature (XBRSIG 2), the payment channel, the live offer, amount, seq and balance;
//! 2. [`MarketMaker::pick_paying_channel`] and [`MarketMaker::claim_paying_channel`]: the
//!    seller's paying channel that earns the price (an exhausted one is closed);
//! 3. [`MarketMaker::reserve`]: the maker's sell signature (XBRSIG 3) and transaction 1 (both
//!    channels advanced, the price in flight, the sale INFLIGHT);
//! 4. [`MarketMaker::call_seller`]: `xbr.provider.<authid>.sell` and its receipt (XBRSIG 6),
//!    [`MarketMaker::roll_back`] if it fails;
//! 5. [`MarketMaker::settle`]: the receipt signature (XBRSIG 7), transaction 2, the
//!    channel-empty events and the buyer's receipt.
//!
//! One purchase at a time per payment channel and one sale at a time per paying channel:
//! [`MarketMaker::buy_key`] holds both channels' locks across the steps.

use tracing::{Instrument, info_span, warn};
use wamp_proto::Dict;

use super::MarketMaker;
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{ProviderProcedure, now_ns};
use crate::sig::{self, ChannelState as SignedState};
use crate::store::blocking;
use crate::types::{
    Address, Channel, ChannelId, ChannelState, ChannelType, Offer, Sale, SaleStatus, TxId, U256,
};
use crate::wire::{self, BuyKeyRequest, BuyReceipt, SellReceipt, SellRequest, v_bytes};

#[cfg(test)]
mod tests;

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
    /// `buy_key`.
    pub async fn buy_key(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        let span = info_span!("buy_key", key_id = %req.key_id, channel = %req.channel_oid, seq = req.channel_seq);
        self.buy_key_steps(req).instrument(span).await
    }

    async fn buy_key_steps(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        self.check_buyer_signature(&req)?;
        let payment_lock = self.lock_for(&req.channel_oid);
        let _payment_guard = payment_lock.lock().await;
        let checked = self.check_payment(&req).await?;

        let paying_oid = self
            .pick_paying_channel(checked.offer.seller, checked.price)
            .await?;
        let paying_lock = self.lock_for(&paying_oid);
        let _paying_guard = paying_lock.lock().await;
        let paying = self.claim_paying_channel(paying_oid, &checked).await?;

        let reservation = self.reserve(&req, &checked, &paying).await?;
        let receipt = match self.call_seller(&reservation).await {
            Ok(r) => r,
            Err(e) => {
                self.roll_back(&reservation, &e).await;
                return Err(e);
            }
        };
        self.settle(&reservation, receipt).await
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
        let payment = blocking(&self.store, move |s| s.channel(&oid))
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
            ));
        }
        let remaining_after = payment.remaining - price;
        if req.balance != remaining_after {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "balance is not the payment channel's remaining minus the price",
            ));
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
        let open_paying: Vec<Channel> = blocking(&self.store, move |s| {
            s.channels_by_delegate(&seller, ChannelType::Paying)
        })
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
        let paying = blocking(&self.store, move |s| s.channel(&paying_oid))
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
        };
        let stored = sale.clone();
        blocking(&self.store, move |s| s.begin_sale(&stored)).await?;
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

    /// Step 4, failed: undoes transaction 1 (seq and balances of both channels restored, the
    /// sale FAILED with `error` as the reason). A failed rollback is logged.
    pub(crate) async fn roll_back(&self, reservation: &Reservation, error: &MarketError) {
        warn!(error = %error, "sale failed, rolling back");
        let tx_id = reservation.sale.tx_id;
        let reason = error.to_string();
        if let Err(re) = blocking(&self.store, move |s| s.rollback_sale(&tx_id, &reason)).await {
            warn!(error = %re, "rollback failed");
        }
    }

    /// Step 5: signs the receipt over the new payment state (XBRSIG 7), completes the sale
    /// (transaction 2: inflight released), reports exhausted channels and returns the buyer's
    /// receipt.
    pub(crate) async fn settle(
        &self,
        reservation: &Reservation,
        receipt: SellReceipt,
    ) -> MarketResult<BuyReceipt> {
        let sale = &reservation.sale;
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
        let (seller_sig, rs) = (receipt.signature, receipt_sig);
        let (payment_now, paying_now) = blocking(&self.store, move |s| {
            s.complete_sale(&tx_id, &seller_sig, &rs)
        })
        .await?;
        for (ch, topic) in [
            (&payment_now, "xbr.marketmaker.on_payment_channel_empty"),
            (&paying_now, "xbr.marketmaker.on_paying_channel_empty"),
        ] {
            if (ch.remaining + ch.inflight).is_zero() {
                self.publish(topic, vec![v_bytes(ch.channel_oid)]).await;
            }
        }
        Ok(BuyReceipt {
            key_id: sale.key_id,
            delegate: sale.buyer_delegate,
            buyer_pubkey: sale.buyer_pubkey,
            sealed_key: receipt.sealed_key,
            offer_id: Some(sale.offer_id),
            free_rated: sale.amount_paid.is_zero(),
            amount: sale.amount_offered,
            amount_paid: sale.amount_paid,
            channel_seq: payment_now.seq,
            payment_channel: sale.payment_channel,
            remaining: payment_now.remaining,
            inflight: payment_now.inflight,
            signature: receipt_sig,
        })
    }
}

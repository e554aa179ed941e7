//! What the market maker asks of the seller: `sell` and `close_channel`.

use rand::rngs::OsRng;
use tracing::{Instrument, info_span};
use wamp_proto::Value;
use xbr_core::DataKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{ProviderProcedure, now_ns};
use crate::sig::{self, ChannelState as SignedState, Domain};
use crate::store::blocking;
use crate::types::{ChannelId, LocalChannel, SellerSale};
use crate::wire::{self, ProviderCloseReceipt, ProviderCloseRequest, SellReceipt, SellRequest};

use super::Seller;

impl Seller {
    /// The paying channel and domain, when `channel_oid` is the seller's active paying channel.
    fn paying_channel(&self, channel_oid: &ChannelId) -> MarketResult<(LocalChannel, Domain)> {
        let (channel, domain) = {
            let st = self.state();
            (st.channel.clone(), st.domain)
        };
        let (Some(channel), Some(domain)) = (channel, domain) else {
            return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
        };
        if *channel_oid != channel.channel_oid {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_OID,
                "not the seller's active paying channel",
            ));
        }
        Ok((channel, domain))
    }

    /// `xbr.provider.<id>.sell` (spec §2.4): checks, in the reference's order, the maker address,
    /// the key, the channel, seq, balance and the maker's signature; then seals the key to the
    /// buyer, signs the new paying-channel state and persists the sale before returning.
    ///
    /// Idempotent per (paying channel, seq): the request the seller recorded at a seq (same key,
    /// buyer key, amount, balance and maker signature) gets that sale's receipt again, the key
    /// sealed anew to the same buyer key; the maker re-sends it after a crash or a lost reply.
    /// Any other request at a recorded seq, and every seq or balance mismatch, is refused with
    /// the seller's position (seq, balance) in the error. A sale below the price of the key's
    /// API is refused (`xbr.error.insufficient_amount`).
    ///
    /// The sale runs in a task of its own: dropping the returned future (the maker cancelled,
    /// the connection went) drops only the wait, never a sale half-way between its record and
    /// the seller's view of the channel.
    pub async fn sell(&self, req: SellRequest) -> MarketResult<SellReceipt> {
        let span = info_span!("sell", key_id = %req.key_id, seq = req.channel_seq);
        let seller = self.clone();
        super::detached(
            &self.inner.task_slots,
            async move { seller.sell_inner(req).await }.instrument(span),
        )
        .await
    }

    async fn sell_inner(&self, req: SellRequest) -> MarketResult<SellReceipt> {
        let inner = &self.inner;
        if req.market_maker_adr != inner.cfg.market_maker {
            return Err(MarketError::new(
                uri::UNEXPECTED_MARKETMAKER_ADR,
                "unexpected market maker address",
            ));
        }
        let key = self
            .key(&req.key_id)
            .ok_or_else(|| MarketError::no_such_object(format!("no such key {}", req.key_id)))?;
        self.check_price(&req)?;
        let _sale = inner.sale_lock.lock().await;
        let (channel, domain) = self.paying_channel(&req.channel_oid)?;
        if req.channel_seq <= channel.seq {
            return self.sale_again(&req, &channel, &key).await;
        }
        if req.channel_seq != channel.seq + 1 {
            return Err(seq_refusal(req.channel_seq, &channel));
        }
        if channel.balance.checked_sub(req.amount) != Some(req.balance) {
            return Err(refusal(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "balance is not remaining minus amount",
                &channel,
            ));
        }
        // XBRSIG 4.
        let state = sig::off_chain(
            channel.market_oid,
            channel.channel_oid,
            req.channel_seq,
            req.balance,
        );
        domain.verify(
            &state,
            &req.signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        // XBRSIG 5.
        let signature = domain.sign(&inner.cfg.key, &state)?;
        let sale = SellerSale {
            channel_oid: channel.channel_oid,
            seq: req.channel_seq,
            created: now_ns(),
            key_id: req.key_id,
            buyer_pubkey: req.buyer_pubkey,
            amount: req.amount,
            balance: req.balance,
            maker_signature: req.signature,
            seller_signature: signature,
            voided: false,
        };
        let recorded = sale.clone();
        crate::failpoint!("seller::before_record");
        // The store re-checks seq and balance: a refusal there says where the seller stands too.
        blocking(&inner.store, move |s| s.record_sale(&sale))
            .await
            .map_err(|e| MarketError::from(e).with_position(channel.seq, channel.balance))?;
        {
            let mut st = self.state();
            if let Some(c) = st.channel.as_mut() {
                c.seq = req.channel_seq;
                c.balance = req.balance;
            }
        }
        let hook = inner
            .sale_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(&recorded);
        }
        crate::failpoint!("seller::after_record");
        Ok(self.receipt(&recorded, &key))
    }

    /// Refuses a sale below the price of the key's API. A key of an API not configured in this
    /// run has no price here; the maker's offer is what prices it.
    fn check_price(&self, req: &SellRequest) -> MarketResult<()> {
        match self.api_of(&req.key_id) {
            Some(api) if req.amount < api.price => Err(MarketError::new(
                uri::INSUFFICIENT_AMOUNT,
                format!(
                    "amount {} is below the price {} of key {}",
                    req.amount, api.price, req.key_id
                ),
            )),
            _ => Ok(()),
        }
    }

    /// A `sell` at a seq the seller has passed: the stored sale's receipt when the request is
    /// the one recorded there, otherwise a refusal with the seller's position.
    async fn sale_again(
        &self,
        req: &SellRequest,
        channel: &LocalChannel,
        key: &DataKey,
    ) -> MarketResult<SellReceipt> {
        let (oid, seq) = (channel.channel_oid, req.channel_seq);
        let stored = blocking(&self.inner.store, move |s| s.live_seller_sale(&oid, seq)).await?;
        match stored {
            Some(sale) if is_recorded_request(&sale, req) => Ok(self.receipt(&sale, key)),
            _ => Err(seq_refusal(req.channel_seq, channel)),
        }
    }

    /// The receipt of a recorded sale, with the key sealed (anew) to the sale's buyer key.
    fn receipt(&self, sale: &SellerSale, key: &DataKey) -> SellReceipt {
        let sealed_key =
            xbr_core::sealedbox::seal(key.as_bytes(), &sale.buyer_pubkey, &mut OsRng).to_vec();
        SellReceipt {
            key_id: sale.key_id,
            delegate: self.inner.address,
            buyer_pubkey: sale.buyer_pubkey,
            sealed_key,
            channel_seq: sale.seq,
            amount: sale.amount,
            balance: sale.balance,
            signature: sale.seller_signature,
        }
    }

    /// `xbr.provider.<id>.close_channel` (spec §2.5, working): checks the maker, channel, current
    /// seq and balance, verifies the maker's close signature and counter-signs it.
    pub async fn close_channel(
        &self,
        req: ProviderCloseRequest,
    ) -> MarketResult<ProviderCloseReceipt> {
        let inner = &self.inner;
        if req.market_maker_adr != inner.cfg.market_maker {
            return Err(MarketError::new(
                uri::UNEXPECTED_DELEGATE_ADR,
                "unexpected market maker address",
            ));
        }
        let _sale = inner.sale_lock.lock().await;
        let (channel, domain) = self.paying_channel(&req.channel_oid)?;
        if req.channel_seq != channel.seq {
            return Err(refusal(
                uri::UNEXPECTED_CHANNEL_SEQ,
                "close seq is not the current seq",
                &channel,
            ));
        }
        if req.channel_balance != channel.balance {
            return Err(refusal(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "close balance is not the current balance",
                &channel,
            ));
        }
        let state = SignedState {
            close_at: req.close_at,
            market_oid: channel.market_oid,
            channel_oid: channel.channel_oid,
            seq: req.channel_seq,
            balance: req.channel_balance,
            is_final: req.channel_is_final,
        };
        domain.verify(
            &state,
            &req.marketmaker_signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        let signature = domain.sign(&inner.cfg.key, &state)?;
        Ok(ProviderCloseReceipt {
            delegate: inner.address,
            seq: req.channel_seq,
            balance: req.channel_balance,
            is_final: req.channel_is_final,
            signature,
        })
    }

    /// Handles `xbr.provider.<id>.<procedure>` with WAMP payloads.
    pub async fn dispatch(
        &self,
        procedure: ProviderProcedure,
        args: &[Value],
    ) -> MarketResult<wire::Payload> {
        match procedure {
            ProviderProcedure::Sell => Ok(wire::result1(
                self.sell(SellRequest::from_args(args)?).await?.to_value(),
            )),
            ProviderProcedure::CloseChannel => Ok(wire::result1(
                self.close_channel(ProviderCloseRequest::from_args(args)?)
                    .await?
                    .to_value(),
            )),
        }
    }
}

/// Whether `req` is the request `sale` recorded (its fingerprint: key, buyer key, amount,
/// balance, maker signature; the channel and seq are where `sale` was found).
fn is_recorded_request(sale: &SellerSale, req: &SellRequest) -> bool {
    sale.key_id == req.key_id
        && sale.buyer_pubkey == req.buyer_pubkey
        && sale.amount == req.amount
        && sale.balance == req.balance
        && sale.maker_signature == req.signature
}

/// A refusal telling the maker where the seller stands on the paying channel (its seq and
/// balance, in the error's kwargs), so the maker can tell a recorded sale from a refused one.
fn refusal(uri: &'static str, message: impl Into<String>, channel: &LocalChannel) -> MarketError {
    MarketError::new(uri, message).with_position(channel.seq, channel.balance)
}

/// The refusal of a `sell` at a seq that does not follow the seller's.
fn seq_refusal(seq: u64, channel: &LocalChannel) -> MarketError {
    refusal(
        uri::UNEXPECTED_CHANNEL_SEQ,
        format!("channel seq {seq} does not follow {}", channel.seq),
        channel,
    )
}

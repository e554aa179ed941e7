//! Sending a persisted purchase intent to the maker and settling what comes back:
//! - a valid receipt: the sealed key opened, checked against the ciphertext in hand, and the
//!   purchase recorded with the intent deleted in one transaction (a sealed key that does not
//!   open is recorded as paid and not delivered: the receipt proves the payment);
//! - a refusal for good (any callee error but the ones below): the intent deleted, the seq free
//!   again, and the maker's position adopted when the error carries one;
//! - unknown (`xbr.error.sale_pending`, `wamp.error.timeout`, `wamp.error.canceled`, a transport
//!   failure, an answer given before the maker looked at the intent (see [`not_looked_at`]) on a
//!   later send, an invalid receipt, a failure on the buyer's side): the intent kept, to be sent
//!   again, identically, before anything else is bought.

use rand::rngs::OsRng;
use tracing::{debug, info, warn};
use xbr_core::at_rest::wrap_data_key;
use xbr_core::payload;

use super::{Active, Buyer, Held, lock};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::sig;
use crate::store::blocking;
use crate::types::{Address, LocalChannel, Purchase, PurchaseIntent};
use crate::wire::{BuyKeyRequest, BuyReceipt};

/// `wamp.error.timeout`: the call timed out; the maker may have committed.
const WAMP_TIMEOUT: &str = "wamp.error.timeout";
/// `wamp.error.canceled`: the call was canceled; the maker may have committed.
const WAMP_CANCELED: &str = "wamp.error.canceled";

/// `wamp.error.unavailable`: the callee's session refused the invocation (too many running).
const WAMP_UNAVAILABLE: &str = "wamp.error.unavailable";

/// Whether `e` is an answer given before the maker looked up the intent: no maker registered
/// (the router, while it restarts), a maker not built yet, too many purchases or invocations
/// in flight, the caller checks. It says this send changed nothing, and nothing about an earlier
/// send of the same intent, which may have been sold.
fn not_looked_at(e: &MarketError) -> bool {
    [
        uri::NO_SUCH_PROCEDURE,
        uri::NOT_STARTED,
        uri::BUSY,
        uri::NOT_AUTHORIZED,
        WAMP_UNAVAILABLE,
    ]
    .iter()
    .any(|u| e.is(u))
}

/// Whether `e` leaves the outcome of a `buy_key` unknown (the intent is kept). An answer the
/// maker gave without looking at the intent ([`not_looked_at`]) is a refusal only on the
/// intent's first send.
pub(super) fn outcome_unknown(e: &MarketError, first_send: bool) -> bool {
    e.is(uri::SALE_PENDING)
        || e.is(WAMP_TIMEOUT)
        || e.is(WAMP_CANCELED)
        || e.is_transport()
        || (!first_send && not_looked_at(e))
}

/// What became of an intent the maker answered for good.
pub(super) enum Resolution {
    /// Bought: recorded, the channel advanced, the intent deleted.
    Bought(Held),
    /// Refused: the intent deleted (and the maker's position adopted).
    Refused(MarketError),
}

/// The `buy_key` request an intent stands for (the same bytes every time).
fn request(intent: &PurchaseIntent, delegate: Address) -> BuyKeyRequest {
    BuyKeyRequest {
        delegate,
        buyer_pubkey: intent.buyer_pubkey,
        key_id: intent.key_id,
        channel_oid: intent.channel_oid,
        channel_seq: intent.seq,
        amount: intent.amount,
        balance: intent.balance,
        signature: intent.buyer_signature,
    }
}

impl Buyer {
    /// At start, before the channel is settled with the maker: sends the intent pending on the
    /// stored channel again. An answer still unknown fails the start.
    pub(super) async fn resume_intent(&self) -> MarketResult<()> {
        let inner = &self.inner;
        let Some(channel) = blocking(&inner.store, |s| s.buyer_channel()).await? else {
            return Ok(());
        };
        if self.pending_intent(&channel).await?.is_none() {
            return Ok(());
        }
        let config = inner.maker.get_config().await?;
        let mut active = Active {
            channel,
            domain: sig::Domain {
                chain_id: config.verifying_chain_id,
                verifying_contract: config.verifying_contract,
            },
            closed: false,
        };
        self.settle_pending(&mut active).await
    }

    /// Sends the intent pending on the active channel again, if there is one. `Ok` once it is
    /// resolved (bought or refused); the error while its outcome is still unknown.
    pub(super) async fn settle_pending(&self, active: &mut Active) -> MarketResult<()> {
        let Some(intent) = self.pending_intent(&active.channel).await? else {
            return Ok(());
        };
        info!(key_id = %intent.key_id, seq = intent.seq, "sending the pending purchase again");
        match self.send_intent(active, &intent, false).await? {
            Resolution::Bought(_) => info!(key_id = %intent.key_id, "pending purchase completed"),
            Resolution::Refused(e) => {
                info!(key_id = %intent.key_id, error = %e, "pending purchase refused; seq free")
            }
        }
        Ok(())
    }

    async fn pending_intent(&self, channel: &LocalChannel) -> MarketResult<Option<PurchaseIntent>> {
        let oid = channel.channel_oid;
        let intents = blocking(&self.inner.store, |s| s.purchase_intents()).await?;
        Ok(intents.into_iter().find(|i| i.channel_oid == oid))
    }

    /// Sends a persisted intent and settles the answer (see the module doc). `Err` means the
    /// outcome is unknown and the intent stays. `first_send`: no earlier send may have reached
    /// the maker.
    pub(super) async fn send_intent(
        &self,
        active: &mut Active,
        intent: &PurchaseIntent,
        first_send: bool,
    ) -> MarketResult<Resolution> {
        let req = request(intent, self.inner.address);
        let receipt = match self.inner.maker.buy_key(&req).await {
            Ok(r) => r,
            Err(e) if outcome_unknown(&e, first_send) => {
                warn!(error = %e, seq = intent.seq, "purchase outcome unknown; intent kept");
                return Err(e);
            }
            Err(e) => {
                self.drop_intent(active, intent, &e).await?;
                return Ok(Resolution::Refused(e));
            }
        };
        crate::failpoint!("buyer::after_reply");
        self.take_receipt(active, intent, receipt)
            .await
            .map(Resolution::Bought)
    }

    /// The maker refused the intent for good: the seq is free again. A refusal that says where
    /// the maker stands moves the channel there (in the same transaction).
    async fn drop_intent(
        &self,
        active: &mut Active,
        intent: &PurchaseIntent,
        e: &MarketError,
    ) -> MarketResult<()> {
        if e.is(uri::CHANNEL_CLOSED) {
            active.closed = true;
        }
        let adopt = e.position.map(|p| LocalChannel {
            seq: p.seq,
            balance: p.remaining,
            ..active.channel.clone()
        });
        if let Some(p) = &e.position {
            warn!(maker_seq = p.seq, maker_remaining = %p.remaining, seq = intent.seq,
                "purchase refused with the maker's position; adopting it");
        }
        let (oid, seq, a) = (intent.channel_oid, intent.seq, adopt.clone());
        blocking(&self.inner.store, move |s| {
            s.drop_purchase_intent(&oid, seq, a.as_ref())
        })
        .await?;
        if let Some(channel) = adopt {
            active.channel = channel;
        }
        Ok(())
    }

    /// A receipt for the intent: checked (XBRSIG 8, seq and remaining), its sealed key opened
    /// and tried on the ciphertext in hand, and the purchase recorded with the intent deleted.
    async fn take_receipt(
        &self,
        active: &mut Active,
        intent: &PurchaseIntent,
        receipt: BuyReceipt,
    ) -> MarketResult<Held> {
        let inner = &self.inner;
        let ch = &active.channel;
        // XBRSIG 8.
        active.domain.verify(
            &sig::off_chain(
                ch.market_oid,
                intent.channel_oid,
                receipt.channel_seq,
                receipt.remaining,
            ),
            &receipt.signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        if receipt.channel_seq != intent.seq || receipt.remaining != intent.balance {
            return Err(MarketError::new(
                uri::INVALID_TRANSACTION,
                "receipt seq/remaining do not match the purchase",
            ));
        }
        // The receipt proves the payment: a sealed key that does not open (the same one comes
        // back every time) is recorded as paid and not delivered, so the key is not bought twice.
        let key = match self.receive_key()?.open(&receipt.sealed_key) {
            Ok(key) => Some(key),
            Err(e) => {
                warn!(key_id = %intent.key_id, error = %e,
                    "the receipt's sealed key does not open; recorded as paid, not delivered");
                None
            }
        };
        let verified = match (&key, intent.ciphertext.as_deref()) {
            (Some(key), Some(ct)) => payload::open(key, ct).is_ok(),
            _ => false,
        };
        let wrapped_key = key
            .as_ref()
            .map(|k| wrap_data_key(&inner.cfg.kek, intent.key_id.as_ref(), k, &mut OsRng))
            .unwrap_or_default();
        let purchase = Purchase {
            key_id: intent.key_id,
            created: now_ns(),
            wrapped_key,
            channel_oid: intent.channel_oid,
            seq: intent.seq,
            amount: intent.amount,
            balance: intent.balance,
            buyer_signature: intent.buyer_signature,
            maker_signature: receipt.signature,
            verified,
        };
        let recorded = purchase.clone();
        blocking(&inner.store, move |s| s.complete_purchase_intent(&purchase)).await?;
        let hook = lock(&inner.purchase_hook).clone();
        if let Some(hook) = hook {
            hook(&recorded);
        }
        active.channel.seq = intent.seq;
        active.channel.balance = intent.balance;
        if verified {
            debug!(seq = intent.seq, remaining = %intent.balance, "key bought");
        } else {
            warn!(key_id = %intent.key_id, seq = intent.seq,
                "bought key does not open the ciphertext in hand; kept unverified");
        }
        Ok(Held { key, verified })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_timeouts_cancels_pending_sales_and_transport_leave_the_outcome_unknown() {
        for first_send in [true, false] {
            let unknown = |e: MarketError| outcome_unknown(&e, first_send);
            assert!(unknown(MarketError::new(uri::SALE_PENDING, "x")));
            assert!(unknown(MarketError::from_uri(WAMP_TIMEOUT, "x")));
            assert!(unknown(MarketError::from_uri(WAMP_CANCELED, "x")));
            assert!(unknown(MarketError::transport("lost", "x")));
            for refusal in [
                uri::UNEXPECTED_CHANNEL_SEQ,
                uri::RUNTIME_ERROR,
                uri::OFFER_EXPIRED,
            ] {
                assert!(!unknown(MarketError::new(refusal, "x")), "{refusal}");
            }
        }
    }

    /// A restarted maker answers `not_started` until it is built, and `busy` before it looks
    /// up the intent: a re-sent intent whose first send was sold must stay (dropping it would
    /// free a seq the maker has used, and lose the key paid for).
    #[test]
    fn answers_given_before_the_maker_looked_refuse_only_the_first_send() {
        for u in [
            uri::NO_SUCH_PROCEDURE,
            uri::NOT_STARTED,
            uri::BUSY,
            uri::NOT_AUTHORIZED,
            WAMP_UNAVAILABLE,
        ] {
            let e = MarketError::from_uri(u, "not looked at");
            assert!(!outcome_unknown(&e, true), "{u}");
            assert!(outcome_unknown(&e, false), "{u}");
        }
    }
}

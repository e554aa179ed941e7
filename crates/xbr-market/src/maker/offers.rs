//! Offers and quotes: `place_offer`, `get_offer`, `revoke_offer`, `query_offers`, `get_quote`,
//! and the live offer `buy_key` sells against.

use tracing::debug;
use wamp_proto::uri::{UriMatch, check_uri};

use super::MarketMaker;
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::store::{StoreError, blocking};
use crate::types::{KeyId, Offer, OfferId, OfferQuery};
use crate::wire::{self, PlaceOfferRequest, Quote};

/// `_URI_PAT_STRICT_LAST_EMPTY`: components of `[0-9a-z_]`, an exact URI or a prefix ending in `.`.
fn valid_offer_uri(uri: &str) -> bool {
    check_uri(uri, true, UriMatch::Prefix).is_ok()
}

impl MarketMaker {
    /// `place_offer`. Placing the same key again for the same seller and API returns the stored
    /// offer (so a seller retrying after a lost reply is idempotent).
    pub async fn place_offer(
        &self,
        req: PlaceOfferRequest,
        seller_session_id: u64,
    ) -> MarketResult<Offer> {
        if !valid_offer_uri(&req.uri) {
            return Err(MarketError::invalid_argument(format!(
                "place_offer: invalid uri '{}'",
                req.uri
            )));
        }
        let now = now_ns();
        if let Some(expires) = req.expires {
            const MIN: u64 = 5 * 60 * 1_000_000_000;
            const DAY: u64 = 24 * 3600 * 1_000_000_000;
            if expires <= req.valid_from || expires > now + DAY || expires - req.valid_from < MIN {
                return Err(MarketError::invalid_argument(
                    "place_offer: invalid expires",
                ));
            }
        }
        let offer = Offer {
            offer_id: OfferId(rand::random()),
            timestamp: now,
            seller: req.delegate,
            seller_session_id,
            seller_authid: req.provider_id.clone().unwrap_or_default(),
            key_id: req.key_id,
            api_id: req.api_id,
            uri: req.uri.clone(),
            valid_from: req.valid_from,
            signature: req.signature,
            price: req.price.unwrap_or_default(),
            categories: req.categories.clone(),
            expires: req.expires,
            copies: req.copies,
            remaining: req.copies,
        };
        let o = offer.clone();
        match blocking(&self.store, move |s| s.insert_offer(&o)).await {
            Ok(()) => {}
            Err(StoreError::Duplicate(_)) => {
                let key = req.key_id;
                let existing = blocking(&self.store, move |s| s.offer_by_key(&key)).await?;
                return match existing {
                    Some(e)
                        if e.seller == req.delegate
                            && e.api_id == req.api_id
                            && e.price == offer.price =>
                    {
                        Ok(e)
                    }
                    _ => Err(MarketError::new(
                        uri::DUPLICATE_OFFER,
                        "key already offered",
                    )),
                };
            }
            Err(e) => return Err(e.into()),
        }
        debug!(key_id = %offer.key_id, "offer placed");
        self.publish(
            "xbr.marketmaker.on_offer_placed",
            vec![wire::offer_to_value(&offer)],
        )
        .await;
        Ok(offer)
    }

    /// `get_offer`.
    pub async fn get_offer(&self, offer_id: OfferId) -> MarketResult<Offer> {
        blocking(&self.store, move |s| s.offer(&offer_id))
            .await?
            .ok_or_else(|| MarketError::no_such_object("no such offer"))
    }

    /// `revoke_offer`: sets `expires = now`, persisted.
    pub async fn revoke_offer(&self, key_id: KeyId) -> MarketResult<Offer> {
        let now = now_ns();
        let offer = blocking(&self.store, move |s| s.set_offer_expires(&key_id, now)).await?;
        self.publish(
            "xbr.marketmaker.on_offer_revoked",
            vec![wire::offer_to_value(&offer)],
        )
        .await;
        Ok(offer)
    }

    /// `query_offers`.
    pub async fn query_offers(&self, q: OfferQuery) -> MarketResult<Vec<Offer>> {
        Ok(blocking(&self.store, move |s| s.query_offers(&q)).await?)
    }

    pub(super) async fn live_offer(&self, key_id: KeyId) -> MarketResult<Offer> {
        let offer = blocking(&self.store, move |s| s.offer_by_key(&key_id))
            .await?
            .ok_or_else(|| MarketError::no_such_object(format!("no offer for key {}", key_id)))?;
        if offer.expires.is_some_and(|e| e != 0 && e <= now_ns()) {
            return Err(MarketError::new(uri::OFFER_EXPIRED, "offer expired"));
        }
        Ok(offer)
    }

    /// `get_quote` (price 0 is a valid quote).
    pub async fn get_quote(&self, key_id: KeyId) -> MarketResult<Quote> {
        let offer = self.live_offer(key_id).await?;
        Ok(Quote {
            timestamp: now_ns(),
            key_id,
            price: offer.price,
            expires: offer.expires.unwrap_or(0),
            seller: Some(offer.seller),
            api_id: Some(offer.api_id),
        })
    }
}

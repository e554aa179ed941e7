//! Offers: `xbr.marketmaker.place_offer`, the offer dict (cfxdb `offer.marshal`) returned by
//! `get_offer`/`revoke_offer`/`query_offers` and published with `on_offer_placed`/`_revoked`,
//! and the `query_offers` filter.

use std::collections::BTreeMap;

use wamp_proto::{Dict, Value};

use super::{
    Args, Fields, Payload, WireMessage, opt, read_address, read_categories, read_id, read_str,
    read_u64, read_u256, v_bytes, v_categories, v_opt_u64, v_u256_bytes, v_u256_or_zero,
};
use crate::error::{MarketError, MarketResult};
use crate::types::{Address, ApiId, KeyId, Offer, OfferQuery, Signature, U256};

/// `xbr.marketmaker.place_offer` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceOfferRequest {
    /// Key offered.
    pub key_id: KeyId,
    /// API it belongs to.
    pub api_id: ApiId,
    /// URI (prefix) of the data.
    pub uri: String,
    /// Valid from (ns).
    pub valid_from: u64,
    /// Seller delegate.
    pub delegate: Address,
    /// Delegate signature (65 bytes; the reference sends random bytes).
    pub signature: Signature,
    /// Price (None = not set, treated as free).
    pub price: Option<U256>,
    /// Categories.
    pub categories: Option<BTreeMap<String, String>>,
    /// Expiry (ns).
    pub expires: Option<u64>,
    /// Copies.
    pub copies: Option<u64>,
    /// The seller's provider id (its procedures' URI component).
    pub provider_id: Option<String>,
}

impl PlaceOfferRequest {
    /// Positional args and kwargs in reference form.
    pub fn to_call(&self) -> Payload {
        let args = vec![
            v_bytes(self.key_id),
            v_bytes(self.api_id),
            Value::from(self.uri.as_str()),
            Value::from(self.valid_from),
            v_bytes(self.delegate.as_slice()),
            v_bytes(self.signature),
        ];
        let mut kw = Dict::new();
        kw.insert("privkey".into(), Value::Null);
        kw.insert(
            "price".into(),
            self.price.as_ref().map(v_u256_bytes).unwrap_or(Value::Null),
        );
        kw.insert("categories".into(), v_categories(self.categories.as_ref()));
        kw.insert("expires".into(), v_opt_u64(self.expires));
        kw.insert("copies".into(), v_opt_u64(self.copies));
        kw.insert(
            "provider_id".into(),
            self.provider_id
                .as_deref()
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
        (args, kw)
    }

    /// Parses args and kwargs.
    pub fn from_call(args: &[Value], kwargs: &Dict) -> MarketResult<Self> {
        const W: &str = "place_offer";
        let a = Args::new(W, args, 6, 6)?;
        let kw = Fields::new(W, kwargs);
        if let Some(k) = kwargs.keys().find(|k| {
            !matches!(
                k.as_str(),
                "privkey" | "price" | "categories" | "expires" | "copies" | "provider_id"
            )
        }) {
            return Err(MarketError::invalid_argument(format!(
                "{W}: unexpected keyword argument '{k}'"
            )));
        }
        Ok(Self {
            key_id: a.id(0, "key_id")?,
            api_id: a.id(1, "api_id")?,
            uri: a.str(2, "uri")?,
            valid_from: a.u64(3, "valid_from")?,
            delegate: a.address(4, "delegate_adr")?,
            signature: a.sig(5, "delegate_signature")?,
            price: opt(kw.get("price"), |v| read_u256(v, W, "price"))?,
            categories: read_categories(kw.at("categories"), W)?,
            expires: opt(kw.get("expires"), |v| read_u64(v, W, "expires"))?,
            copies: opt(kw.get("copies"), |v| read_u64(v, W, "copies"))?,
            provider_id: opt(kw.get("provider_id"), |v| read_str(v, W, "provider_id"))?,
        })
    }
}

/// The offer dict (cfxdb `offer.marshal`).
pub fn offer_to_value(o: &Offer) -> Value {
    let mut d = Dict::new();
    d.insert("timestamp".into(), Value::from(o.timestamp));
    d.insert("offer".into(), v_bytes(o.offer_id));
    d.insert("seller".into(), v_bytes(o.seller.as_slice()));
    d.insert("seller_session_id".into(), Value::from(o.seller_session_id));
    d.insert(
        "seller_authid".into(),
        Value::from(o.seller_authid.as_str()),
    );
    d.insert("key".into(), v_bytes(o.key_id));
    d.insert("api".into(), v_bytes(o.api_id));
    d.insert("uri".into(), Value::from(o.uri.as_str()));
    d.insert("valid_from".into(), Value::from(o.valid_from));
    d.insert("signature".into(), v_bytes(o.signature));
    d.insert("price".into(), v_u256_or_zero(&o.price));
    d.insert("categories".into(), v_categories(o.categories.as_ref()));
    d.insert("expires".into(), v_opt_u64(o.expires));
    d.insert("copies".into(), v_opt_u64(o.copies));
    d.insert("remaining".into(), v_opt_u64(o.remaining));
    Value::Dict(d)
}

/// Parses an offer dict.
pub fn offer_from_value(v: &Value) -> MarketResult<Offer> {
    const W: &str = "offer";
    let f = Fields::of(W, v)?;
    Ok(Offer {
        offer_id: f.id("offer")?,
        timestamp: f.u64("timestamp")?,
        seller: f.address("seller")?,
        seller_session_id: f
            .get("seller_session_id")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        seller_authid: f.str("seller_authid")?,
        key_id: f.id("key")?,
        api_id: f.id("api")?,
        uri: f.str("uri")?,
        valid_from: f.u64("valid_from")?,
        signature: f.sig("signature")?,
        price: f.u256("price")?,
        categories: read_categories(f.at("categories"), W)?,
        expires: opt(f.get("expires"), |v| read_u64(v, W, "expires"))?,
        copies: opt(f.get("copies"), |v| read_u64(v, W, "copies"))?,
        remaining: opt(f.get("remaining"), |v| read_u64(v, W, "remaining"))?,
    })
}

impl WireMessage for PlaceOfferRequest {
    fn to_payload(&self) -> Payload {
        self.to_call()
    }
    fn from_payload(args: &[Value], kwargs: &Dict) -> MarketResult<Self> {
        Self::from_call(args, kwargs)
    }
}

impl WireMessage for Offer {
    fn to_payload(&self) -> Payload {
        super::result1(offer_to_value(self))
    }
    fn from_payload(args: &[Value], _kwargs: &Dict) -> MarketResult<Self> {
        offer_from_value(args.first().unwrap_or(&Value::Null))
    }
}

/// `query_offers` arguments: `api_id, from_ts` positional (either may be null), the rest kwargs
/// (`until_ts, uri, categories, seller_id, limit`).
pub fn offer_query_from_call(args: &[Value], kwargs: &Dict) -> MarketResult<OfferQuery> {
    const W: &str = "query_offers";
    let a = Args::new(W, args, 0, 2)?;
    let kw = Fields::new(W, kwargs);
    Ok(OfferQuery {
        api_id: opt(Some(a.at(0)), |v| read_id(v, W, "api_id"))?,
        from_ts: opt(Some(a.at(1)), |v| read_u64(v, W, "from_ts"))?,
        until_ts: opt(kw.get("until_ts"), |v| read_u64(v, W, "until_ts"))?,
        uri: opt(kw.get("uri"), |v| read_str(v, W, "uri"))?,
        categories: read_categories(kw.at("categories"), W)?,
        seller: opt(kw.get("seller_id"), |v| read_address(v, W, "seller_id"))?,
        limit: opt(kw.get("limit"), |v| read_u64(v, W, "limit"))?
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_offer_round_trips_and_rejects_unknown_kwargs() {
        let r = PlaceOfferRequest {
            key_id: KeyId([1; 16]),
            api_id: ApiId([2; 16]),
            uri: "io.crossbar.example".into(),
            valid_from: 5,
            delegate: Address::repeat_byte(4),
            signature: Signature([0; 65]),
            price: Some(U256::from(3u64)),
            categories: Some([("a".to_string(), "b".to_string())].into()),
            expires: None,
            copies: None,
            provider_id: Some("0xabc".into()),
        };
        let (a, mut kw) = r.to_call();
        assert_eq!(PlaceOfferRequest::from_call(&a, &kw).unwrap(), r);
        kw.insert("bogus".into(), Value::Null);
        assert!(PlaceOfferRequest::from_call(&a, &kw).is_err());
    }
}

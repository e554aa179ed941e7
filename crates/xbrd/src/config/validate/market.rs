//! `[market]`: the market maker's address, the seller's API offers and sample feed, the buyer's
//! topics, price limit and the sellers/APIs it buys from; which of them a role needs.

use std::collections::HashSet;
use std::time::Duration;

use super::parse::{
    AMOUNT_FORM, UUID_FORM, invalid, missing, parse_address, parse_amount, parse_duration,
    parse_i64, parse_id, valid_uri,
};
use super::problems::Problems;
use crate::config::raw::{RawApi, RawApiOffer, RawMarket};
use crate::config::{ApiOffer, ConfigError, Market, Role, Rotation, SampleFeed};
use alloy_primitives::U256;
use xbr_market::AllowList;
use xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT;

/// Validates `market.apis[i]`.
fn parse_offer(i: usize, o: &RawApiOffer) -> Result<ApiOffer, ConfigError> {
    let f = |name: &str| format!("market.apis[{i}].{name}");
    let api_id = parse_id(
        &f("api_id"),
        o.api_id
            .as_deref()
            .ok_or_else(|| missing(f("api_id"), UUID_FORM))?,
    )?;
    let prefix = o
        .prefix
        .clone()
        .filter(|p| valid_uri(p))
        .ok_or_else(|| match &o.prefix {
            None => missing(
                f("prefix"),
                "the topic URI the data is published under, e.g. \"io.crossbar.example\"",
            ),
            Some(p) => invalid(
                f("prefix"),
                "a WAMP URI of dot-separated components",
                format!("{p:?}"),
            ),
        })?;
    let price = parse_amount(
        &f("price"),
        o.price
            .as_ref()
            .ok_or_else(|| missing(f("price"), AMOUNT_FORM))?,
    )?;
    let rotation = match (&o.rotation_interval, &o.rotation_count) {
        (Some(s), None) => Rotation::Interval(parse_duration(&f("rotation_interval"), s)?),
        (None, Some(s)) => Rotation::Count(parse_i64(
            &f("rotation_count"),
            s,
            "a number of payloads >= 1",
            |v| v >= 1,
        )? as u64),
        (None, None) => {
            return Err(missing(
                f("rotation_interval"),
                "exactly one of rotation_interval (e.g. \"10s\") or rotation_count (e.g. 100)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                f("rotation_count"),
                "exactly one of rotation_interval or rotation_count",
                "both",
            ));
        }
    };
    Ok(ApiOffer {
        api_id,
        prefix,
        price,
        rotation,
        categories: o.categories.clone(),
    })
}

/// Validates `[market]` for `role`.
pub(super) fn parse_market(raw: &RawMarket, role: Role) -> Result<Market, ConfigError> {
    // The independent fields first, each problem reported; what follows needs them all.
    let mut problems = Problems::default();
    let maker = problems.take(
        raw.maker
            .as_deref()
            .map(|s| parse_address("market.maker", s))
            .transpose(),
    );
    let member = problems.take(
        raw.member
            .as_deref()
            .map(|s| parse_address("market.member", s))
            .transpose(),
    );
    let market_id = problems.take(
        raw.market_id
            .as_deref()
            .map(|s| parse_id("market.market_id", s))
            .transpose(),
    );
    let max_price = problems.take(
        raw.max_price
            .as_ref()
            .map(|s| parse_amount("market.max_price", s))
            .transpose(),
    );
    for (i, t) in raw.topics.iter().enumerate() {
        if !valid_uri(t) {
            problems.push(invalid(
                format!("market.topics[{i}]"),
                "a WAMP URI (prefix)",
                format!("{t:?}"),
            ));
        }
    }
    let buy_from = problems.take(parse_buy_from(raw, role));
    let max_channel_amount = problems.take(parse_max_channel_amount(raw, role));
    let apis: Vec<ApiOffer> = raw
        .apis
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            RawApi::Offer(o) => problems.take(parse_offer(i, o)),
            RawApi::Id(_) => None,
        })
        .collect();
    let mut seen = HashSet::new();
    for (i, a) in apis.iter().enumerate() {
        if !seen.insert(a.api_id) {
            problems.push(invalid(
                format!("market.apis[{i}].api_id"),
                "an api_id not used by another offer",
                a.api_id.to_string(),
            ));
        }
    }
    problems.finish(|| ())?;
    let (maker, member, market_id, max_price, buy_from, max_channel_amount) = (
        maker.expect("validated"),
        member.expect("validated"),
        market_id.expect("validated"),
        max_price.expect("validated"),
        buy_from.expect("validated"),
        max_channel_amount.expect("validated"),
    );
    if role != Role::Marketmaker && maker.is_none() {
        return Err(missing(
            "market.maker",
            "the market maker's address, 0x + 40 hex digits (or XBR_MARKET_MAKER_ADR)",
        ));
    }
    match role {
        Role::Seller => {
            if apis.is_empty() {
                return Err(missing(
                    "market.apis",
                    "at least one [[market.apis]] offer (api_id, prefix, price, rotation_interval|rotation_count)",
                ));
            }
        }
        Role::Buyer => {
            match max_price {
                None => return Err(missing("market.max_price", AMOUNT_FORM)),
                Some(p) if p.is_zero() => {
                    return Err(invalid("market.max_price", "an amount > 0", "0"));
                }
                Some(_) => {}
            }
            if raw.topics.is_empty() {
                return Err(missing(
                    "market.topics",
                    "a list of topic URIs to subscribe to, e.g. [\"io.crossbar.example\"]",
                ));
            }
        }
        Role::Marketmaker => {}
    }
    let sample_feed = match &raw.sample_feed {
        Some(feed) if feed.enabled.unwrap_or(true) => {
            if role != Role::Seller {
                return Err(invalid(
                    "market.sample_feed",
                    "no sample feed unless role = \"seller\"",
                    role.to_string(),
                ));
            }
            let api_id = match feed.api_id.as_deref() {
                Some(s) => parse_id("market.sample_feed.api_id", s)?,
                None => apis[0].api_id,
            };
            if !apis.iter().any(|a| a.api_id == api_id) {
                return Err(invalid(
                    "market.sample_feed.api_id",
                    "the api_id of one of the [[market.apis]]",
                    api_id.to_string(),
                ));
            }
            let interval = match &feed.interval {
                Some(s) => parse_duration("market.sample_feed.interval", s)?,
                None => Duration::from_secs(1),
            };
            Some(SampleFeed { api_id, interval })
        }
        _ => None,
    };
    let (scan, close) = super::maker::parse_maker_chain(raw, role)?;
    Ok(Market {
        maker,
        member,
        market_id,
        max_price,
        topics: raw.topics.clone(),
        apis,
        sample_feed,
        buy_from,
        max_channel_amount,
        scan,
        close,
    })
}

/// The maker's `market.max_channel_amount`: an amount > 0, the default when unset; only the
/// market maker opens channels.
fn parse_max_channel_amount(raw: &RawMarket, role: Role) -> Result<Option<U256>, ConfigError> {
    const FIELD: &str = "market.max_channel_amount";
    let amount = raw
        .max_channel_amount
        .as_ref()
        .map(|s| parse_amount(FIELD, s))
        .transpose()?;
    if role != Role::Marketmaker {
        return match amount {
            Some(_) => Err(invalid(
                FIELD,
                "no max_channel_amount unless role = \"marketmaker\"",
                role.to_string(),
            )),
            None => Ok(None),
        };
    }
    match amount {
        Some(a) if a.is_zero() => Err(invalid(FIELD, "an amount > 0", "0")),
        Some(a) => Ok(Some(a)),
        None => Ok(Some(U256::from(DEFAULT_MAX_CHANNEL_AMOUNT))),
    }
}

/// The buyer's `market.sellers` (delegate addresses) and `market.apis` (API id strings); a
/// seller's `market.apis` are offer tables, and only a buyer has `market.sellers`.
fn parse_buy_from(raw: &RawMarket, role: Role) -> Result<AllowList, ConfigError> {
    let mut allow = AllowList::default();
    for (i, a) in raw.apis.iter().enumerate() {
        let field = format!("market.apis[{i}]");
        match (a, role) {
            (RawApi::Id(s), Role::Buyer) => allow.apis.push(parse_id(&field, s)?),
            (RawApi::Offer(_), Role::Buyer) => {
                return Err(invalid(
                    field,
                    "an API id string for a buyer (the APIs it buys from)",
                    "an offer table",
                ));
            }
            (RawApi::Id(s), _) => {
                return Err(invalid(
                    field,
                    "an offer table [[market.apis]] (api_id, prefix, price, rotation_interval|rotation_count)",
                    format!("{s:?}"),
                ));
            }
            (RawApi::Offer(_), _) => {}
        }
    }
    for (i, s) in raw.sellers.iter().enumerate() {
        let field = format!("market.sellers[{i}]");
        if role != Role::Buyer {
            return Err(invalid(
                field,
                "no market.sellers unless role = \"buyer\"",
                role.to_string(),
            ));
        }
        allow.sellers.push(parse_address(&field, s)?);
    }
    Ok(allow)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAKER: &str = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9";
    const SELLER: &str = "0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC";
    const API: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";

    fn market(role: Role, extra: &str) -> Result<Market, ConfigError> {
        let raw: RawMarket = toml::from_str(&format!(
            "maker = \"{MAKER}\"\nmax_price = \"1 XBR\"\ntopics = [\"io.crossbar.example\"]\n{extra}"
        ))
        .unwrap();
        parse_market(&raw, role)
    }

    #[test]
    fn a_buyer_lists_the_sellers_and_apis_it_buys_from() {
        let open = market(Role::Buyer, "").unwrap();
        assert!(open.buy_from.is_open());
        let m = market(
            Role::Buyer,
            &format!("sellers = [\"{SELLER}\"]\napis = [\"{API}\"]"),
        )
        .unwrap();
        assert_eq!(
            m.buy_from.sellers,
            vec![parse_address("s", SELLER).unwrap()]
        );
        assert_eq!(
            m.buy_from.apis,
            vec![parse_id::<xbr_core::ApiId>("a", API).unwrap()]
        );
        assert!(m.apis.is_empty());
        let e = market(Role::Buyer, "sellers = [\"0x12\"]").unwrap_err();
        assert_eq!(e.field(), Some("market.sellers[0]"));
        let e = market(Role::Buyer, "apis = [\"not-a-uuid\"]").unwrap_err();
        assert_eq!(e.field(), Some("market.apis[0]"));
        let e = market(
            Role::Buyer,
            &format!(
                "[[apis]]\napi_id = \"{API}\"\nprefix = \"a.b\"\nprice = 1\nrotation_count = 1"
            ),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("market.apis[0]"));
    }

    #[test]
    fn a_seller_has_offer_tables_and_no_sellers() {
        let offer = format!(
            "[[apis]]\napi_id = \"{API}\"\nprefix = \"a.b\"\nprice = 1\nrotation_count = 1"
        );
        let m = market(Role::Seller, &offer).unwrap();
        assert_eq!(m.apis.len(), 1);
        assert!(m.buy_from.is_open());
        let e = market(Role::Seller, &format!("apis = [\"{API}\"]")).unwrap_err();
        assert_eq!(e.field(), Some("market.apis[0]"));
        let e = market(Role::Seller, &format!("sellers = [\"{SELLER}\"]\n{offer}")).unwrap_err();
        assert_eq!(e.field(), Some("market.sellers[0]"));
        // A mistyped offer field is still named.
        let raw = toml::from_str::<RawMarket>(&format!("{offer}\nprise = 2"));
        assert!(raw.unwrap_err().to_string().contains("prise"));
    }

    #[test]
    fn the_maker_caps_channels_at_max_channel_amount() {
        let xbr = |n: u128| U256::from(n * 10u128.pow(18));
        let m = market(Role::Marketmaker, "").unwrap();
        assert_eq!(m.max_channel_amount, Some(xbr(1_000)), "the default");
        let m = market(Role::Marketmaker, "max_channel_amount = \"250 XBR\"").unwrap();
        assert_eq!(m.max_channel_amount, Some(xbr(250)));
        let m = market(Role::Marketmaker, "max_channel_amount = \"5000\"").unwrap();
        assert_eq!(
            m.max_channel_amount,
            Some(U256::from(5000u64)),
            "base units"
        );
        for bad in ["\"0\"", "\"0 XBR\"", "\"-1\"", "\"lots\""] {
            let e = market(Role::Marketmaker, &format!("max_channel_amount = {bad}")).unwrap_err();
            assert_eq!(e.field(), Some("market.max_channel_amount"), "{bad}");
        }
        // Only the maker opens channels.
        assert_eq!(market(Role::Buyer, "").unwrap().max_channel_amount, None);
        let e = market(Role::Buyer, "max_channel_amount = \"1 XBR\"").unwrap_err();
        assert_eq!(e.field(), Some("market.max_channel_amount"));
    }
}

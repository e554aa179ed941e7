//! `[market]`: the market maker's address, the seller's API offers and sample feed, the buyer's
//! topics and price limit; which of them a role needs.

use std::collections::HashSet;
use std::time::Duration;

use super::parse::{
    AMOUNT_FORM, UUID_FORM, invalid, missing, parse_address, parse_amount, parse_duration,
    parse_i64, parse_id, valid_uri,
};
use crate::config::raw::{RawApiOffer, RawMarket};
use crate::config::{ApiOffer, ConfigError, Market, Role, Rotation, SampleFeed};

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
    let maker = raw
        .maker
        .as_deref()
        .map(|s| parse_address("market.maker", s))
        .transpose()?;
    let member = raw
        .member
        .as_deref()
        .map(|s| parse_address("market.member", s))
        .transpose()?;
    let market_id = raw
        .market_id
        .as_deref()
        .map(|s| parse_id("market.market_id", s))
        .transpose()?;
    let max_price = raw
        .max_price
        .as_ref()
        .map(|s| parse_amount("market.max_price", s))
        .transpose()?;
    for (i, t) in raw.topics.iter().enumerate() {
        if !valid_uri(t) {
            return Err(invalid(
                format!("market.topics[{i}]"),
                "a WAMP URI (prefix)",
                format!("{t:?}"),
            ));
        }
    }
    let apis = raw
        .apis
        .iter()
        .enumerate()
        .map(|(i, o)| parse_offer(i, o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    for (i, a) in apis.iter().enumerate() {
        if !seen.insert(a.api_id) {
            return Err(invalid(
                format!("market.apis[{i}].api_id"),
                "an api_id not used by another offer",
                a.api_id.to_string(),
            ));
        }
    }
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
    Ok(Market {
        maker,
        member,
        market_id,
        max_price,
        topics: raw.topics.clone(),
        apis,
        sample_feed,
    })
}

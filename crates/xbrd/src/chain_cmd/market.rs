//! `xbrd chain market get|create|join` and `xbrd chain actor get`: data markets and the members
//! taking part in them.

use alloy_primitives::{Address, U256};
use anyhow::{Context, bail};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use xbr_chain::{ActorStatus, ActorType, CreateMarket, MarketStatus, SimpleBlockchain};
use xbr_core::MarketId;

use super::args::{ActorKind, GatewayArgs, KeyArgs};
use super::output::{Report, mined};
use super::target::Target;
use crate::config::raw::Scalar;
use crate::config::validate::{parse_address, parse_amount, parse_id};

/// Parses a market id given on the command line.
pub fn market_id(flag: &str, s: &str) -> anyhow::Result<MarketId> {
    Ok(parse_id(flag, s)?)
}

/// A random id in UUID v4 form.
pub fn random_id() -> [u8; 16] {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// An amount flag: base units or `"<n> XBR"`.
pub fn amount(flag: &str, s: &str) -> anyhow::Result<U256> {
    Ok(parse_amount(flag, &Scalar::Text(s.to_owned()))?)
}

/// An address flag.
pub fn address(flag: &str, s: &str) -> anyhow::Result<Address> {
    Ok(parse_address(flag, s)?)
}

fn market_json(m: &MarketStatus) -> Value {
    json!({
        "market_id": m.market_id.to_string(),
        "owner": m.owner.to_checksum(None),
        "maker": m.maker.to_checksum(None),
        "coin": m.coin.to_checksum(None),
        "created": m.created.to_string(),
        "seq": m.seq,
        "provider_security": m.provider_security.to_string(),
        "consumer_security": m.consumer_security.to_string(),
        "market_fee": m.market_fee.to_string(),
        "terms": m.terms,
        "meta": m.meta,
    })
}

/// `market get`: by id, or by its maker.
pub async fn get(
    id: Option<&str>,
    maker: Option<&str>,
    gateway: &GatewayArgs,
) -> anyhow::Result<Report> {
    let (chain, _) = Target::resolve(gateway)?.connect(&["market"]).await?;
    let id = match (id, maker) {
        (Some(id), _) => market_id("MARKET_ID", id)?,
        (None, Some(maker)) => {
            let maker = address("--maker", maker)?;
            chain
                .markets_by_maker(maker)
                .await?
                .with_context(|| format!("{maker} is the maker of no market"))?
        }
        (None, None) => bail!("give a market id or --maker"),
    };
    let m = chain
        .market_status(id)
        .await?
        .with_context(|| format!("no market {id} on this chain"))?;
    Ok(Report::new(format!("market {id}"), market_json(&m)))
}

/// The flags of `market create`.
pub struct CreateFlags<'a> {
    /// `--market-id`.
    pub market_id: Option<&'a str>,
    /// `--maker`.
    pub maker: &'a str,
    /// `--provider-security`.
    pub provider_security: &'a str,
    /// `--consumer-security`.
    pub consumer_security: &'a str,
    /// `--market-fee`.
    pub market_fee: &'a str,
    /// `--terms`.
    pub terms: &'a str,
    /// `--meta`.
    pub meta: &'a str,
}

/// `market create`: a market owned by the key's member.
pub async fn create(
    gateway: &GatewayArgs,
    key: &KeyArgs,
    f: &CreateFlags<'_>,
) -> anyhow::Result<Report> {
    let owner = key.load()?;
    let market = CreateMarket {
        market_id: match f.market_id {
            Some(id) => market_id("--market-id", id)?,
            None => MarketId(random_id()),
        },
        terms: f.terms.to_owned(),
        meta: f.meta.to_owned(),
        maker: address("--maker", f.maker)?,
        provider_security: amount("--provider-security", f.provider_security)?,
        consumer_security: amount("--consumer-security", f.consumer_security)?,
        market_fee: amount("--market-fee", f.market_fee)?,
    };
    let (chain, _) = Target::resolve(gateway)?
        .connect(&["network", "market", "token"])
        .await?;
    let id = market.market_id;
    tracing::info!(market = %id, owner = %owner.address(), maker = %market.maker, "creating the market");
    let receipt = chain.create_market(&owner, &market).await?;
    let m = chain
        .market_status(id)
        .await?
        .context("createMarket was mined but the market is not there")?;
    let mut value = market_json(&m);
    value["transaction"] = mined(receipt.transaction_hash, receipt.block_number);
    Ok(Report::new(format!("market {id} created"), value))
}

impl From<ActorKind> for ActorType {
    fn from(k: ActorKind) -> Self {
        match k {
            ActorKind::Provider => ActorType::Provider,
            ActorKind::Consumer => ActorType::Consumer,
            ActorKind::ProviderConsumer => ActorType::ProviderConsumer,
        }
    }
}

/// `market join`: joins as the actor types not joined yet, approving the security first.
pub async fn join(
    gateway: &GatewayArgs,
    key: &KeyArgs,
    id: &str,
    actor: ActorKind,
    meta: &str,
) -> anyhow::Result<Report> {
    let member = key.load()?;
    let id = market_id("--market-id", id)?;
    let (chain, _) = Target::resolve(gateway)?
        .connect(&["network", "market", "token"])
        .await?;
    let m = chain
        .market_status(id)
        .await?
        .with_context(|| format!("no market {id} on this chain: nothing sent"))?;
    let wanted = ActorType::from(actor);
    let a = member.address();
    let provider = wanted.provides() && !chain.is_actor(id, a, ActorType::Provider).await?;
    let consumer = wanted.consumes() && !chain.is_actor(id, a, ActorType::Consumer).await?;
    let join = match (provider, consumer) {
        (false, false) => None,
        (true, false) => Some(ActorType::Provider),
        (false, true) => Some(ActorType::Consumer),
        (true, true) => Some(ActorType::ProviderConsumer),
    };
    let mut value = actor_json(&chain, id, a).await?;
    let Some(join) = join else {
        return Ok(Report::new(
            format!("{a} has already joined market {id} as {actor:?}: nothing sent"),
            value,
        ));
    };
    let mut security = U256::ZERO;
    if join.provides() {
        security += m.provider_security;
    }
    if join.consumes() {
        security += m.consumer_security;
    }
    let spender = chain.addresses().market;
    if !security.is_zero() && chain.xbr_allowance(a, spender).await? < security {
        tracing::info!(%security, "approving the market's security to XBRMarket");
        chain.approve_xbr(&member, spender, security).await?;
    }
    tracing::info!(market = %id, member = %a, actor = ?join, "joining the market");
    let receipt = chain.join_market(&member, id, join, meta).await?;
    value = actor_json(&chain, id, a).await?;
    value["security_paid"] = json!(security.to_string());
    value["transaction"] = mined(receipt.transaction_hash, receipt.block_number);
    Ok(Report::new(format!("{a} joined market {id}"), value))
}

fn entry_json(s: &Option<ActorStatus>) -> Value {
    match s {
        Some(s) => json!({
            "joined": s.joined.to_string(),
            "security": s.security.to_string(),
            "meta": s.meta,
        }),
        None => Value::Null,
    }
}

async fn actor_json(
    chain: &SimpleBlockchain,
    id: MarketId,
    actor: Address,
) -> anyhow::Result<Value> {
    let provider = chain.market_actor(id, actor, ActorType::Provider).await?;
    let consumer = chain.market_actor(id, actor, ActorType::Consumer).await?;
    let kind = match (&provider, &consumer) {
        (Some(_), Some(_)) => Some("provider_consumer"),
        (Some(_), None) => Some("provider"),
        (None, Some(_)) => Some("consumer"),
        (None, None) => None,
    };
    Ok(json!({
        "market_id": id.to_string(),
        "address": actor.to_checksum(None),
        "actor": kind,
        "provider": entry_json(&provider),
        "consumer": entry_json(&consumer),
    }))
}

/// `actor get`: how `address` takes part in the market.
pub async fn actor_get(
    address_arg: &str,
    id: &str,
    gateway: &GatewayArgs,
) -> anyhow::Result<Report> {
    let a = address("ADDRESS", address_arg)?;
    let id = market_id("--market-id", id)?;
    let (chain, _) = Target::resolve(gateway)?.connect(&["market"]).await?;
    if chain.market_status(id).await?.is_none() {
        bail!("no market {id} on this chain");
    }
    let value = actor_json(&chain, id, a).await?;
    let headline = match value["actor"].as_str() {
        Some(kind) => format!("{a} is a {kind} in market {id}"),
        None => format!("{a} has not joined market {id}"),
    };
    Ok(Report::new(headline, value))
}

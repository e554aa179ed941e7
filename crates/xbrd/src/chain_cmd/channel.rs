//! `xbrd chain channel get|open`: a channel's on-chain state, and opening one signed by the
//! member with EIP-712 ChannelOpen (XBRChannel.sol's rules, as in `xbr_chain::bootstrap`):
//! a payment channel's recipient is the market owner and the member approves and sends
//! `openChannel` itself; a paying channel's recipient is the member and the market maker funds
//! and sends it, asked through `xbr.marketmaker.open_channel` ([`super::paying`]).

use alloy_primitives::Address;
use anyhow::{Context, bail};
use serde_json::{Value, json};
use xbr_chain::{ActorType, ChannelInfo, SimpleBlockchain};
use xbr_core::eip712::sign_typed;
use xbr_core::eth::EthPrivateKey;
use xbr_core::{ChannelId, MarketId, Signature};
use xbr_market::chain::XbrChain;
use xbr_market::maker::MakerChain;
use xbr_market::types::ChannelType;
use xbr_market::wire::OpenChannelRequest;

use super::args::{ChannelKindArg, GatewayArgs, KeyArgs};
use super::market::{address, amount, market_id, random_id};
use super::output::Report;
use super::target::Target;
use crate::config::Config;
use crate::config::validate::parse_id;

/// `payment` or `paying`.
fn kind_name(c: &ChannelInfo) -> String {
    format!("{:?}", c.ctype).to_lowercase()
}

/// The channel's on-chain state and closing state as JSON.
pub fn channel_json(c: &ChannelInfo) -> Value {
    let cl = &c.closing;
    json!({
        "channel_id": c.channel_id.to_string(),
        "type": kind_name(c),
        "state": format!("{:?}", c.state).to_lowercase(),
        "market_id": c.market_id.to_string(),
        "actor": c.actor.to_checksum(None),
        "delegate": c.delegate.to_checksum(None),
        "marketmaker": c.marketmaker.to_checksum(None),
        "recipient": c.recipient.to_checksum(None),
        "amount": c.amount.to_string(),
        "created": c.created.to_string(),
        "seq": c.seq,
        "closing": {
            "closing_at": cl.closing_at.to_string(),
            "closing_seq": cl.closing_seq,
            "closing_balance": cl.closing_balance.to_string(),
            "closed_at": cl.closed_at.to_string(),
            "closed_seq": cl.closed_seq,
            "closed_balance": cl.closed_balance.to_string(),
        },
    })
}

/// Parses a channel id given on the command line.
pub fn channel_id(flag: &str, s: &str) -> anyhow::Result<ChannelId> {
    Ok(parse_id(flag, s)?)
}

/// The channel `id`, or an error naming it.
pub async fn read(chain: &SimpleBlockchain, id: ChannelId) -> anyhow::Result<ChannelInfo> {
    chain
        .channel(id)
        .await?
        .with_context(|| format!("no channel {id} on this chain"))
}

/// `channel get`.
pub async fn get(id: &str, gateway: &GatewayArgs) -> anyhow::Result<Report> {
    let id = channel_id("CHANNEL_ID", id)?;
    let (chain, _) = Target::resolve(gateway)?.connect(&["channel"]).await?;
    let c = read(&chain, id).await?;
    Ok(Report::new(
        format!("{} channel {id}: {:?}", kind_name(&c), c.state),
        channel_json(&c),
    ))
}

/// The flags of `channel open`.
pub struct OpenFlags<'a> {
    /// `--type`.
    pub kind: ChannelKindArg,
    /// `--amount`.
    pub amount: &'a str,
    /// `--delegate`.
    pub delegate: Option<&'a str>,
    /// `--market-id`.
    pub market_id: Option<&'a str>,
    /// `--channel-id`.
    pub channel_id: Option<&'a str>,
}

/// The delegate: `--delegate`, else the configuration's delegate key's address.
fn delegate(flag: Option<&str>, cfg: Option<&Config>) -> anyhow::Result<Address> {
    match (flag, cfg) {
        (Some(d), _) => address("--delegate", d),
        (None, Some(cfg)) => {
            Ok(EthPrivateKey::from_bytes(cfg.ethereum.private_key.expose())?.address())
        }
        (None, None) => bail!("give --delegate ADDRESS (or -c with the delegate's configuration)"),
    }
}

/// The market: `--market-id`, else the configuration's `market.market_id`, else the market of its
/// `market.maker`.
async fn market(
    chain: &SimpleBlockchain,
    flag: Option<&str>,
    cfg: Option<&Config>,
) -> anyhow::Result<MarketId> {
    if let Some(id) = flag {
        return market_id("--market-id", id);
    }
    let Some(cfg) = cfg else {
        bail!("give --market-id ID (or -c with the delegate's configuration)");
    };
    if let Some(id) = cfg.market.market_id {
        return Ok(id);
    }
    let maker = cfg.market.maker.context(
        "give --market-id ID: the configuration has neither market.market_id nor market.maker",
    )?;
    chain
        .markets_by_maker(maker)
        .await?
        .with_context(|| format!("the configured maker {maker} works for no market"))
}

/// Resolves and checks what `channel open` asks for: the market exists, the member joined it as
/// the actor the channel needs, the channel id is new; and signs it (EIP-712 ChannelOpen).
async fn opening(
    chain: &SimpleBlockchain,
    target: &Target,
    member_key: &EthPrivateKey,
    f: &OpenFlags<'_>,
) -> anyhow::Result<OpenChannelRequest> {
    let cfg = target.config.as_ref();
    let market_id = market(chain, f.market_id, cfg).await?;
    let m = chain
        .market_status(market_id)
        .await?
        .with_context(|| format!("no market {market_id} on this chain: nothing sent"))?;
    let (channel_type, actor_type, recipient) = match f.kind {
        ChannelKindArg::Payment => (ChannelType::Payment, ActorType::Consumer, m.owner),
        ChannelKindArg::Paying => (
            ChannelType::Paying,
            ActorType::Provider,
            member_key.address(),
        ),
    };
    let member = member_key.address();
    if !chain.is_actor(market_id, member, actor_type).await? {
        bail!(
            "{member} has not joined market {market_id} as a {actor_type:?} (xbrd chain market join): nothing sent"
        );
    }
    let channel_id = match f.channel_id {
        Some(id) => channel_id("--channel-id", id)?,
        None => ChannelId(random_id()),
    };
    if chain.channel(channel_id).await?.is_some() {
        bail!("channel {channel_id} exists already: nothing sent");
    }
    let mut req = OpenChannelRequest {
        member,
        market_oid: market_id,
        channel_oid: channel_id,
        verifying_chain_id: chain.verifying_chain_id().await?,
        current_block_number: chain.gateway().block_number().await?,
        verifying_contract: chain.verifying_contract().await?,
        channel_type,
        delegate: delegate(f.delegate, cfg)?,
        marketmaker: m.maker,
        recipient,
        amount: amount("--amount", f.amount)?,
        // Replaced just below by the member's signature over the other fields.
        signature: Signature::from([0; 65]),
    };
    req.signature = sign_typed(member_key, &req.open_message());
    Ok(req)
}

/// `channel open`.
pub async fn open(
    gateway: &GatewayArgs,
    key: &KeyArgs,
    f: &OpenFlags<'_>,
) -> anyhow::Result<Report> {
    let target = Target::resolve(gateway)?;
    if f.kind == ChannelKindArg::Paying && target.config.is_none() {
        bail!(
            "a paying channel is asked of the market maker over the delegate's router: give -c with the delegate's configuration"
        );
    }
    let member = key.load()?;
    let (chain, _) = target
        .connect(&["token", "network", "market", "channel"])
        .await?;
    let req = opening(&chain, &target, &member, f).await?;
    let tx = match (req.channel_type, &target.config) {
        (ChannelType::Paying, Some(cfg)) => super::paying::ask_maker(cfg, &member, &req).await?,
        _ => open_payment(&chain, member, &req).await?,
    };
    let c = read(&chain, req.channel_oid).await?;
    let mut value = channel_json(&c);
    value["transaction"] = tx;
    Ok(Report::new(
        format!(
            "{} channel {} opened with {} base units",
            kind_name(&c),
            req.channel_oid,
            c.amount
        ),
        value,
    ))
}

/// A payment channel: the member approves XBRChannel for the amount, then sends `openChannel`
/// itself (xbr-market's chain access, as the maker sends a paying channel's).
async fn open_payment(
    chain: &SimpleBlockchain,
    member: EthPrivateKey,
    req: &OpenChannelRequest,
) -> anyhow::Result<Value> {
    let spender = chain.addresses().channel;
    if chain.xbr_allowance(req.member, spender).await? != req.amount {
        tracing::info!(amount = %req.amount, "approving the channel amount to XBRChannel");
        chain.approve_xbr(&member, spender, req.amount).await?;
    }
    tracing::info!(channel = %req.channel_oid, market = %req.market_oid, "opening the payment channel");
    let (tx, _) = XbrChain::new(chain.clone(), member)
        .open_channel(req.clone())
        .await?;
    Ok(json!({ "hash": format!("0x{}", hex::encode(tx)) }))
}

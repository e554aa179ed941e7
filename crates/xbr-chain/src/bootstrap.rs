//! Bootstrap a complete XBR data market on chain from a small declarative description:
//! fund members, register them, create the market with its maker, join the members as
//! providers/consumers (approving securities), and open payment and paying channels with
//! EIP-712 `EIP712ChannelOpen` signatures by the channel actors.
//!
//! Re-running a bootstrap is safe: members already registered, a market that already exists
//! with the same owner and maker, actors already joined and channels already open are left as
//! they are (funding transfers are repeated).
//!
//! Rules of `XBRChannel.openChannel` this follows (`xbr/contract/XBRChannel.sol`):
//! * both channel types are signed by the **actor** (the member), `openedAt ≤ block.number`;
//! * payment channel: actor is a consumer, recipient = the market **owner**, the actor approves
//!   `XBRChannel` and funds it; sent by the actor;
//! * paying channel: actor is a provider, recipient = the actor, the **market maker** approves
//!   `XBRChannel` and funds it; sent by the market maker.

use std::collections::HashSet;

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, U256};
use alloy_rpc_types_eth::TransactionRequest;
use serde::{Deserialize, Deserializer};
use xbr_core::eip712::{EIP712ChannelOpen, sign_typed};
use xbr_core::eth::EthPrivateKey;
use xbr_core::{ChannelId, MarketId};

use crate::blockchain::{CreateMarket, OpenChannel, SimpleBlockchain};
use crate::error::{ChainError, Result};
use crate::types::{ActorType, ChannelType};

/// A private key in a description: 64 hex digits (optional `0x`). `Debug` shows the address only.
#[derive(Clone, Debug)]
pub struct SecretKey(pub EthPrivateKey);

impl SecretKey {
    /// The key's Ethereum address.
    pub fn address(&self) -> Address {
        self.0.address()
    }
}

impl From<EthPrivateKey> for SecretKey {
    fn from(key: EthPrivateKey) -> Self {
        Self(key)
    }
}

impl<'de> Deserialize<'de> for SecretKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = zeroize::Zeroizing::new(String::deserialize(deserializer)?);
        EthPrivateKey::from_hex(&text)
            .map(SecretKey)
            .map_err(|e| serde::de::Error::custom(format!("invalid private key: {e}")))
    }
}

/// The market owner (operator): a member that creates the market.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerSpec {
    /// The owner's key.
    pub key: SecretKey,
    /// XBR base units to transfer to the owner from the funder.
    #[serde(default)]
    pub xbr: U256,
    /// Wei to send to the owner from the funder (for gas).
    #[serde(default)]
    pub eth: U256,
    /// Member profile multihash used when registering.
    #[serde(default)]
    pub profile: String,
}

/// The market maker: funds paying channels (it need not be a network member).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakerSpec {
    /// The market maker's key.
    pub key: SecretKey,
    /// XBR base units to transfer to the maker from the funder (it funds paying channels).
    #[serde(default)]
    pub xbr: U256,
    /// Wei to send to the maker from the funder (for gas).
    #[serde(default)]
    pub eth: U256,
}

/// A member joining the market as a provider and/or consumer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// The member's key (signs registration, join, approvals and ChannelOpen).
    pub key: SecretKey,
    /// Provider (seller), consumer (buyer) or both.
    pub actor: ActorType,
    /// XBR base units to transfer to the member from the funder.
    #[serde(default)]
    pub xbr: U256,
    /// Wei to send to the member from the funder (for gas).
    #[serde(default)]
    pub eth: U256,
    /// Member profile multihash used when registering.
    #[serde(default)]
    pub profile: String,
    /// Actor metadata multihash used when joining.
    #[serde(default)]
    pub meta: String,
}

/// A channel to open.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// The new channel's id (`0x` + 32 hex digits or a UUID).
    pub channel_id: ChannelId,
    /// `payment` (buyer → market maker) or `paying` (market maker → seller).
    pub kind: ChannelKind,
    /// The member (actor) address; must be one of the description's members.
    pub member: Address,
    /// The member's off-chain delegate (buyer or seller delegate).
    pub delegate: Address,
    /// Tokens to lock in the channel.
    pub amount: U256,
}

/// The two channel kinds a description can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Buyer → market maker, funded by the buyer member.
    Payment,
    /// Market maker → seller, funded by the market maker.
    Paying,
}

impl From<ChannelKind> for ChannelType {
    fn from(kind: ChannelKind) -> Self {
        match kind {
            ChannelKind::Payment => ChannelType::Payment,
            ChannelKind::Paying => ChannelType::Paying,
        }
    }
}

/// A market to bootstrap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketDescription {
    /// The market id (`0x` + 32 hex digits or a UUID).
    pub market_id: MarketId,
    /// Terms multihash.
    #[serde(default)]
    pub terms: String,
    /// Metadata multihash.
    #[serde(default)]
    pub meta: String,
    /// Provider security (base units; approved to `XBRMarket` before joining).
    #[serde(default)]
    pub provider_security: U256,
    /// Consumer security (base units).
    #[serde(default)]
    pub consumer_security: U256,
    /// Market fee as a fraction of the token's total supply (0 = no fee).
    #[serde(default)]
    pub market_fee: U256,
    /// The owner.
    pub owner: OwnerSpec,
    /// The market maker.
    pub maker: MakerSpec,
    /// Providers and consumers.
    #[serde(default)]
    pub members: Vec<MemberSpec>,
    /// Channels to open, in order.
    #[serde(default)]
    pub channels: Vec<ChannelSpec>,
}

/// An opened (or found open) channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrappedChannel {
    /// The channel id.
    pub channel_id: ChannelId,
    /// Payment or paying.
    pub ctype: ChannelType,
    /// The member.
    pub actor: Address,
    /// The delegate.
    pub delegate: Address,
    /// The payout recipient (owner for payment, actor for paying channels).
    pub recipient: Address,
    /// Tokens locked.
    pub amount: U256,
    /// The `openedAt` block number signed.
    pub opened_at: u64,
    /// Whether this run opened it (false: it already existed).
    pub opened_now: bool,
}

/// What [`bootstrap()`] set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrappedMarket {
    /// The market id.
    pub market_id: MarketId,
    /// The owner's address.
    pub owner: Address,
    /// The market maker's address.
    pub maker: Address,
    /// Members and how they joined.
    pub members: Vec<(Address, ActorType)>,
    /// The channels.
    pub channels: Vec<BootstrappedChannel>,
    /// EIP-712 chain id of channel signatures (`XBRNetwork.verifyingChain`).
    pub verifying_chain_id: u64,
    /// EIP-712 verifying contract of channel signatures (`XBRNetwork.verifyingContract`).
    pub verifying_contract: Address,
}

impl MarketDescription {
    /// Checks the description for mistakes the contracts would reject later with less context.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ChainError::InvalidDescription(m));
        if self.market_id == MarketId::default() {
            return bad("market_id must not be zero".into());
        }
        let owner = self.owner.key.address();
        let mut seen = HashSet::new();
        for m in &self.members {
            let a = m.key.address();
            if a == owner {
                return bad(format!(
                    "member {a} is the market owner; the owner cannot join as an actor"
                ));
            }
            if !seen.insert(a) {
                return bad(format!("member {a} is listed twice"));
            }
        }
        let mut ids = HashSet::new();
        for c in &self.channels {
            if c.channel_id == ChannelId::default() {
                return bad("a channel_id is zero".into());
            }
            if !ids.insert(c.channel_id) {
                return bad(format!("channel {} is listed twice", c.channel_id));
            }
            if c.amount.is_zero() {
                return bad(format!("channel {}: amount must be positive", c.channel_id));
            }
            if c.delegate.is_zero() {
                return bad(format!(
                    "channel {}: delegate must not be zero",
                    c.channel_id
                ));
            }
            let Some(member) = self.members.iter().find(|m| m.key.address() == c.member) else {
                return bad(format!(
                    "channel {}: {} is not a member of the description",
                    c.channel_id, c.member
                ));
            };
            match c.kind {
                ChannelKind::Payment if !member.actor.consumes() => {
                    return bad(format!(
                        "channel {}: payment channels need a consumer; {} joins as {:?}",
                        c.channel_id, c.member, member.actor
                    ));
                }
                ChannelKind::Paying if !member.actor.provides() => {
                    return bad(format!(
                        "channel {}: paying channels need a provider; {} joins as {:?}",
                        c.channel_id, c.member, member.actor
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Bootstraps `desc` on the chain, funding members from `funder` (e.g. the deployer, which holds
/// the XBR supply and ETH).
pub async fn bootstrap(
    chain: &SimpleBlockchain,
    funder: &EthPrivateKey,
    desc: &MarketDescription,
) -> Result<BootstrappedMarket> {
    desc.validate()?;
    let owner = &desc.owner.key.0;
    let maker = &desc.maker.key.0;

    // 1. Funding.
    fund(
        chain,
        funder,
        owner.address(),
        desc.owner.eth,
        desc.owner.xbr,
    )
    .await?;
    fund(
        chain,
        funder,
        maker.address(),
        desc.maker.eth,
        desc.maker.xbr,
    )
    .await?;
    for m in &desc.members {
        fund(chain, funder, m.key.address(), m.eth, m.xbr).await?;
    }

    // 2. Registration.
    register_if_needed(chain, owner, &desc.owner.profile).await?;
    for m in &desc.members {
        register_if_needed(chain, &m.key.0, &m.profile).await?;
    }

    // 3. The market.
    match chain.market_status(desc.market_id).await? {
        None => {
            chain
                .create_market(
                    owner,
                    &CreateMarket {
                        market_id: desc.market_id,
                        terms: desc.terms.clone(),
                        meta: desc.meta.clone(),
                        maker: maker.address(),
                        provider_security: desc.provider_security,
                        consumer_security: desc.consumer_security,
                        market_fee: desc.market_fee,
                    },
                )
                .await?;
        }
        Some(m) if m.owner == owner.address() && m.maker == maker.address() => {
            tracing::info!(market = %desc.market_id, "market exists with this owner and maker; not creating it");
        }
        Some(m) => {
            return Err(ChainError::InvalidDescription(format!(
                "market {} already exists with owner {} and maker {}",
                desc.market_id, m.owner, m.maker
            )));
        }
    }

    // 4. Joining.
    for m in &desc.members {
        join_if_needed(chain, desc, m).await?;
    }

    // 5. Channels.
    let verifying_chain_id = chain.verifying_chain_id().await?;
    let verifying_contract = chain.verifying_contract().await?;
    let mut channels = Vec::with_capacity(desc.channels.len());
    for spec in &desc.channels {
        let member = desc
            .members
            .iter()
            .find(|m| m.key.address() == spec.member)
            .ok_or_else(|| {
                ChainError::InvalidDescription(format!("{} is not a member", spec.member))
            })?;
        channels.push(
            open_channel(
                chain,
                desc,
                member,
                spec,
                verifying_chain_id,
                verifying_contract,
            )
            .await?,
        );
    }

    Ok(BootstrappedMarket {
        market_id: desc.market_id,
        owner: owner.address(),
        maker: maker.address(),
        members: desc
            .members
            .iter()
            .map(|m| (m.key.address(), m.actor))
            .collect(),
        channels,
        verifying_chain_id,
        verifying_contract,
    })
}

async fn fund(
    chain: &SimpleBlockchain,
    funder: &EthPrivateKey,
    to: Address,
    eth: U256,
    xbr: U256,
) -> Result<()> {
    if to == funder.address() {
        return Ok(());
    }
    if !eth.is_zero() {
        let tx = TransactionRequest::default().with_to(to).with_value(eth);
        chain
            .gateway()
            .send_transaction("send ETH", funder, tx)
            .await?;
    }
    if !xbr.is_zero() {
        chain.transfer_xbr(funder, to, xbr).await?;
    }
    Ok(())
}

async fn register_if_needed(
    chain: &SimpleBlockchain,
    member: &EthPrivateKey,
    profile: &str,
) -> Result<()> {
    if chain.member_status(member.address()).await?.is_none() {
        chain.register_member(member, profile).await?;
    }
    Ok(())
}

async fn join_if_needed(
    chain: &SimpleBlockchain,
    desc: &MarketDescription,
    m: &MemberSpec,
) -> Result<()> {
    let address = m.key.address();
    let mut needed = Vec::with_capacity(2);
    if m.actor.provides()
        && !chain
            .is_actor(desc.market_id, address, ActorType::Provider)
            .await?
    {
        needed.push(ActorType::Provider);
    }
    if m.actor.consumes()
        && !chain
            .is_actor(desc.market_id, address, ActorType::Consumer)
            .await?
    {
        needed.push(ActorType::Consumer);
    }
    let actor_type = match needed.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => ActorType::ProviderConsumer,
    };
    let mut security = U256::ZERO;
    if actor_type.provides() {
        security += desc.provider_security;
    }
    if actor_type.consumes() {
        security += desc.consumer_security;
    }
    if !security.is_zero() {
        // joinMarket moves the security with XBRToken.transferFrom(member, owner) from XBRMarket.
        chain
            .approve_xbr(&m.key.0, chain.addresses().market, security)
            .await?;
    }
    chain
        .join_market(&m.key.0, desc.market_id, actor_type, &m.meta)
        .await?;
    Ok(())
}

async fn open_channel(
    chain: &SimpleBlockchain,
    desc: &MarketDescription,
    member: &MemberSpec,
    spec: &ChannelSpec,
    verifying_chain_id: u64,
    verifying_contract: Address,
) -> Result<BootstrappedChannel> {
    let ctype = ChannelType::from(spec.kind);
    let owner = desc.owner.key.address();
    let maker = &desc.maker.key.0;
    let recipient = match spec.kind {
        ChannelKind::Payment => owner,
        ChannelKind::Paying => spec.member,
    };
    if let Some(existing) = chain.channel(spec.channel_id).await? {
        if existing.actor != spec.member
            || existing.ctype != ctype
            || existing.amount != spec.amount
        {
            return Err(ChainError::InvalidDescription(format!(
                "channel {} already exists with other parameters",
                spec.channel_id
            )));
        }
        return Ok(BootstrappedChannel {
            channel_id: spec.channel_id,
            ctype,
            actor: existing.actor,
            delegate: existing.delegate,
            recipient: existing.recipient,
            amount: existing.amount,
            opened_at: u64::try_from(existing.created).unwrap_or(u64::MAX),
            opened_now: false,
        });
    }

    // The funding party approves XBRChannel, which pulls the amount with transferFrom.
    let (funder, sender) = match spec.kind {
        ChannelKind::Payment => (&member.key.0, &member.key.0),
        ChannelKind::Paying => (maker, maker),
    };
    chain
        .approve_xbr(funder, chain.addresses().channel, spec.amount)
        .await?;

    let opened_at = chain.gateway().block_number().await?;
    let message = EIP712ChannelOpen::new(
        verifying_chain_id,
        verifying_contract,
        ctype.as_u8(),
        opened_at,
        desc.market_id,
        spec.channel_id,
        spec.member,
        spec.delegate,
        maker.address(),
        recipient,
        spec.amount,
    );
    let signature = sign_typed(&member.key.0, &message);
    chain
        .open_channel(
            sender,
            &OpenChannel {
                ctype,
                opened_at,
                market_id: desc.market_id,
                channel_id: spec.channel_id,
                actor: spec.member,
                delegate: spec.delegate,
                marketmaker: maker.address(),
                recipient,
                amount: spec.amount,
                signature,
            },
        )
        .await?;
    Ok(BootstrappedChannel {
        channel_id: spec.channel_id,
        ctype,
        actor: spec.member,
        delegate: spec.delegate,
        recipient,
        amount: spec.amount,
        opened_at,
        opened_now: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52";

    #[test]
    fn description_ids_read_in_the_bytes16_form_or_as_uuids() {
        let text = format!(
            r#"
market_id = "0x{market}"
owner = {{ key = "{KEY}" }}
maker = {{ key = "0x{KEY}" }}

[[channels]]
channel_id = "b1b1b1b1-b1b1-b1b1-b1b1-b1b1b1b1b1b1"
kind = "payment"
member = "0x22d491bde2303f2f43325b2108d26f1eaba1e32b"
delegate = "0x95ced938f7991cd0dfcb48f0a06a40fa1af46ebc"
amount = "1"
"#,
            market = "a1".repeat(16)
        );
        let desc: MarketDescription = toml::from_str(&text).unwrap();
        assert_eq!(desc.market_id, MarketId([0xa1; 16]));
        assert_eq!(desc.channels[0].channel_id, ChannelId([0xb1; 16]));

        let bad = text.replace(&"a1".repeat(16), &"a1".repeat(15));
        let err = toml::from_str::<MarketDescription>(&bad).unwrap_err();
        assert!(err.to_string().contains("expected 32 hex digits"), "{err}");
    }
}

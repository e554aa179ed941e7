//! Plain values read from the XBR contracts, and the enums of `XBRTypes.sol`.

use alloy_primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use xbr_core::{ChannelId, MarketId, Signature};

/// Chain identity as seen when connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainInfo {
    /// `eth_chainId`.
    pub chain_id: u64,
    /// `eth_blockNumber` at the time of the call.
    pub block_number: u64,
}

/// ETH and XBR balances of an account, exact base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    /// ETH in wei.
    pub eth: U256,
    /// XBR in token base units (18 decimals).
    pub xbr: U256,
}

impl Balances {
    /// ETH as a decimal string of whole ether, exact (e.g. `"1000"`, `"0.5"`).
    pub fn eth_decimal(&self) -> String {
        format_units(self.eth, 18)
    }

    /// XBR as a decimal string of whole tokens, exact (e.g. `"1000000000"`).
    pub fn xbr_decimal(&self) -> String {
        format_units(self.xbr, 18)
    }
}

/// Renders `value / 10^decimals` exactly, without trailing zeros in the fraction
/// (`format_units(1_500_000_000_000_000_000, 18) == "1.5"`).
pub fn format_units(value: U256, decimals: u8) -> String {
    let digits = value.to_string();
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let (int, frac) = if digits.len() > decimals {
        let split = digits.len() - decimals;
        (digits[..split].to_owned(), digits[split..].to_owned())
    } else {
        ("0".to_owned(), format!("{digits:0>decimals$}"))
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

/// Parses a decimal amount of whole tokens (`"35"`, `"0.5"`) into base units with `decimals`
/// decimals. `None` if it is not a non-negative decimal, has too many fraction digits, or overflows.
pub fn parse_units(text: &str, decimals: u8) -> Option<U256> {
    let text = text.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) || frac.len() > usize::from(decimals) {
        return None;
    }
    let scale = U256::from(10u8).checked_pow(U256::from(decimals))?;
    let int_value = if int.is_empty() {
        U256::ZERO
    } else {
        U256::from_str_radix(int, 10).ok()?
    };
    let frac_value = if frac.is_empty() {
        U256::ZERO
    } else {
        let padded = format!("{frac:0<width$}", width = usize::from(decimals));
        U256::from_str_radix(&padded, 10).ok()?
    };
    int_value.checked_mul(scale)?.checked_add(frac_value)
}

/// `XBRTypes.MemberLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MemberLevel {
    /// Not a member (0).
    Null,
    /// Registered (1).
    Active,
    /// Verified (2); the network contract's deployer starts here.
    Verified,
    /// Retired (3).
    Retired,
    /// Penalised (4).
    Penalty,
    /// Blocked (5).
    Blocked,
    /// Leaving (6).
    Retiring,
    /// A value this version does not know.
    Unknown(u8),
}

impl From<u8> for MemberLevel {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Null,
            1 => Self::Active,
            2 => Self::Verified,
            3 => Self::Retired,
            4 => Self::Penalty,
            5 => Self::Blocked,
            6 => Self::Retiring,
            other => Self::Unknown(other),
        }
    }
}

/// A registered member, from `XBRNetwork.members(address)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Block number of the registration (the deployer's entry holds a timestamp instead).
    pub registered: U256,
    /// The EULA multihash agreed to.
    pub eula: String,
    /// The profile multihash (may be empty).
    pub profile: String,
    /// The member level.
    pub level: MemberLevel,
}

/// A market, from `XBRMarket.markets(bytes16)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketStatus {
    /// The market id.
    pub market_id: MarketId,
    /// Block number of creation.
    pub created: U256,
    /// Market sequence number.
    pub seq: u32,
    /// The market owner (operator).
    pub owner: Address,
    /// The ERC20 coin of the market.
    pub coin: Address,
    /// Terms multihash.
    pub terms: String,
    /// Metadata multihash.
    pub meta: String,
    /// The market maker's address.
    pub maker: Address,
    /// Security a provider deposits when joining.
    pub provider_security: U256,
    /// Security a consumer deposits when joining.
    pub consumer_security: U256,
    /// Market fee as a fraction of the coin's total supply.
    pub market_fee: U256,
}

/// `XBRTypes.DomainStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DomainState {
    /// Active (1).
    Active,
    /// Closed (2).
    Closed,
    /// A value this version does not know.
    Unknown(u8),
}

/// A domain, from `XBRDomain.domains(bytes16)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStatus {
    /// Status.
    pub status: DomainState,
    /// Block number of creation.
    pub created: U256,
    /// Domain sequence number.
    pub seq: u32,
    /// The domain owner.
    pub owner: Address,
    /// The domain signing key (Ed25519 public key).
    pub key: [u8; 32],
    /// License multihash.
    pub license: String,
    /// Terms multihash.
    pub terms: String,
    /// Metadata multihash.
    pub meta: String,
}

/// `XBRTypes.ChannelType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelType {
    /// Payment channel (1): buyer → market maker.
    Payment,
    /// Paying channel (2): market maker → seller.
    Paying,
    /// A value this version does not know (including 0).
    Unknown(u8),
}

impl ChannelType {
    /// The on-chain / EIP-712 `ctype` value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Payment => 1,
            Self::Paying => 2,
            Self::Unknown(v) => v,
        }
    }
}

impl From<u8> for ChannelType {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Payment,
            2 => Self::Paying,
            other => Self::Unknown(other),
        }
    }
}

/// `XBRTypes.ChannelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelState {
    /// No such channel (0).
    Null,
    /// Open (1).
    Open,
    /// Closing (2): a close was submitted, the timeout runs.
    Closing,
    /// Closed (3).
    Closed,
    /// Failed (4).
    Failed,
    /// A value this version does not know.
    Unknown(u8),
}

impl From<u8> for ChannelState {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Null,
            1 => Self::Open,
            2 => Self::Closing,
            3 => Self::Closed,
            4 => Self::Failed,
            other => Self::Unknown(other),
        }
    }
}

/// `XBRTypes.ActorType` for joining a market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// Data provider (seller), 1.
    Provider,
    /// Data consumer (buyer), 2.
    Consumer,
    /// Both, 3.
    ProviderConsumer,
}

impl ActorType {
    /// The on-chain value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Provider => 1,
            Self::Consumer => 2,
            Self::ProviderConsumer => 3,
        }
    }

    /// Whether this actor may sell (open paying channels).
    pub const fn provides(self) -> bool {
        matches!(self, Self::Provider | Self::ProviderConsumer)
    }

    /// Whether this actor may buy (open payment channels).
    pub const fn consumes(self) -> bool {
        matches!(self, Self::Consumer | Self::ProviderConsumer)
    }
}

/// The closing state of a channel, from `XBRChannel.channelClosingStates(bytes16)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelClosing {
    /// Timestamp at which a non-cooperative close times out (0 while open).
    pub closing_at: U256,
    /// Sequence number of the latest submitted close.
    pub closing_seq: u32,
    /// Off-chain balance of the latest submitted close.
    pub closing_balance: U256,
    /// Timestamp of the final close (0 until closed).
    pub closed_at: U256,
    /// Sequence number at the final close.
    pub closed_seq: u32,
    /// Balance at the final close.
    pub closed_balance: U256,
}

/// A payment or paying channel, from `XBRChannel.channels` and `channelClosingStates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel id.
    pub channel_id: ChannelId,
    /// Payment or paying.
    pub ctype: ChannelType,
    /// Open, closing, closed, …
    pub state: ChannelState,
    /// `openedAt` block number given when opening.
    pub created: U256,
    /// Channel sequence number at opening (1).
    pub seq: u32,
    /// The market.
    pub market_id: MarketId,
    /// The buyer (payment) or seller (paying) member.
    pub actor: Address,
    /// The off-chain delegate that may spend/earn on this channel.
    pub delegate: Address,
    /// The market maker.
    pub marketmaker: Address,
    /// The on-chain payout recipient.
    pub recipient: Address,
    /// Tokens locked in the channel.
    pub amount: U256,
    /// The member's EIP-712 ChannelOpen signature.
    pub signature: Signature,
    /// Closing data.
    pub closing: ChannelClosing,
}

/// A channel as announced by the `XBRChannel.Opened` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOpened {
    /// The channel id.
    pub channel_id: ChannelId,
    /// The market.
    pub market_id: MarketId,
    /// Payment or paying.
    pub ctype: ChannelType,
    /// The buyer (payment) or seller (paying) member.
    pub actor: Address,
    /// The off-chain delegate that may spend/earn on this channel.
    pub delegate: Address,
    /// The market maker.
    pub marketmaker: Address,
    /// The on-chain payout recipient.
    pub recipient: Address,
    /// Tokens locked in the channel.
    pub amount: U256,
    /// The block the event was mined in (`None` for a pending log).
    pub block_number: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_units_is_exact() {
        let e18 = U256::from(10u64).pow(U256::from(18));
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(e18, 18), "1");
        assert_eq!(format_units(e18 * U256::from(1000u64), 18), "1000");
        assert_eq!(format_units(e18 / U256::from(2u64), 18), "0.5");
        assert_eq!(format_units(U256::from(1u64), 18), "0.000000000000000001");
        assert_eq!(
            format_units(U256::from(10u64).pow(U256::from(27)), 18),
            "1000000000"
        );
        assert_eq!(format_units(U256::from(1234u64), 0), "1234");
        assert_eq!(format_units(U256::MAX, 18).len(), 79);
    }

    #[test]
    fn parse_units_inverts_format_units() {
        for s in [
            "0",
            "1",
            "0.5",
            "35",
            "1000000000",
            "0.000000000000000001",
            "12.345",
        ] {
            let v = parse_units(s, 18).unwrap();
            assert_eq!(format_units(v, 18), s);
        }
        assert_eq!(parse_units(".5", 18), parse_units("0.5", 18));
        for bad in [
            "",
            ".",
            "-1",
            "1e18",
            "0.0000000000000000001",
            "abc",
            "1.2.3",
        ] {
            assert_eq!(parse_units(bad, 18), None, "{bad:?}");
        }
        assert_eq!(parse_units(&"9".repeat(80), 18), None);
    }

    #[test]
    fn enums_map_contract_values() {
        assert_eq!(MemberLevel::from(1), MemberLevel::Active);
        assert_eq!(MemberLevel::from(9), MemberLevel::Unknown(9));
        assert_eq!(ChannelType::from(2), ChannelType::Paying);
        assert_eq!(ChannelType::Payment.as_u8(), 1);
        assert_eq!(ChannelState::from(3), ChannelState::Closed);
        assert_eq!(ActorType::ProviderConsumer.as_u8(), 3);
        assert!(ActorType::ProviderConsumer.provides() && ActorType::ProviderConsumer.consumes());
        assert!(!ActorType::Consumer.provides());
    }
}

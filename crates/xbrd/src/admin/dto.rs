//! Response and request bodies of the admin API. Amounts are decimal strings; byte strings are 0x-hex;
//! ids are UUID strings.

use serde::{Deserialize, Serialize};

pub use crate::ports::views::{
    ApiKeysView, ChainView, ChannelClosed, ChannelView, DecryptedEvent, KeysView, PublishReceipt,
    PublishRequest, SessionView, TransactionPage, TransactionQuery, TransactionView,
};

pub use crate::health::invariants::{InvariantsView, ViolationView};

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    /// `seller`, `buyer` or `marketmaker`.
    pub role: String,
    /// Daemon version.
    pub version: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Realm from configuration.
    pub realm: String,
    /// The WAMP session, when joined.
    pub session: Option<SessionView>,
    /// Chain id and block, or why the chain is unreachable.
    pub chain: ChainView,
    /// Store state.
    pub store: StoreView,
    /// Is the daemon ready (store open, session joined, chain reachable, role declared)?
    pub ready: bool,
    /// The role's registrations/subscriptions that failed on this session (e.g. a procedure
    /// another session holds); empty when all are in place.
    #[serde(default)]
    pub attach_errors: Vec<crate::health::AttachError>,
}

/// Store state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreView {
    /// Database path.
    pub path: String,
    /// Open and migrated.
    pub open: bool,
}

/// On-chain balances of one address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AddressBalance {
    /// What the address is to this daemon (`delegate`, `member`, `marketmaker`), absent for ad-hoc lookups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// 0x address.
    pub address: String,
    /// ETH in wei, decimal.
    pub eth: String,
    /// XBR in token base units, decimal.
    pub xbr: String,
}

/// `GET /v1/balances`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BalancesView {
    /// On-chain balances of the daemon's own addresses.
    pub addresses: Vec<AddressBalance>,
    /// Off-chain channel balances.
    pub channels: Vec<ChannelView>,
}

/// `GET /v1/members/{address}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    /// 0x address asked for.
    pub address: String,
    /// Whether the address is a registered XBR network member.
    pub is_member: bool,
    /// Block number of registration.
    pub registered: Option<String>,
    /// EULA hash/URL recorded at registration.
    pub eula: Option<String>,
    /// Profile recorded at registration.
    pub profile: Option<String>,
    /// Member level, e.g. `ACTIVE`, `VERIFIED`.
    pub level: Option<String>,
}

//! Response and request bodies of the admin API. Amounts are decimal strings; byte strings are 0x-hex;
//! ids are UUID strings.

use serde::{Deserialize, Serialize};

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
    /// Is the daemon ready (store open, session joined, chain reachable)?
    pub ready: bool,
}

/// The joined WAMP session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionView {
    /// WAMP session id.
    pub session_id: u64,
    /// Router URL of the transport in use.
    pub router_url: String,
    /// Realm joined.
    pub realm: String,
    /// authid assigned by the router.
    pub authid: Option<String>,
    /// authrole assigned by the router.
    pub authrole: Option<String>,
}

/// Chain reachability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainView {
    /// Gateway reachable at the last probe.
    pub reachable: bool,
    /// Chain id.
    pub chain_id: Option<u64>,
    /// Latest block number.
    pub block: Option<u64>,
    /// Error of the last probe.
    pub error: Option<String>,
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

/// A payment (buyer → maker) or paying (maker → seller) channel with its off-chain state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelView {
    /// Channel id (UUID).
    pub channel_oid: String,
    /// `payment` or `paying`.
    pub channel_type: String,
    /// On-chain state, e.g. `open`, `closing`, `closed`.
    pub state: String,
    /// Member (actor) address.
    pub actor: String,
    /// Delegate address.
    pub delegate: String,
    /// Recipient address.
    pub recipient: String,
    /// Amount deposited on chain (base units).
    pub amount: String,
    /// Off-chain remaining balance (base units).
    pub remaining: String,
    /// Off-chain amount in flight (base units).
    pub inflight: String,
    /// Off-chain sequence number.
    pub seq: u64,
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

/// Seller: one API's keys (`GET /v1/keys`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeysView {
    /// API id (UUID).
    pub api_id: String,
    /// Topic (prefix) the data goes to.
    pub prefix: String,
    /// Price per key (base units).
    pub price: String,
    /// Current key id (UUID), if started.
    pub current_key_id: Option<String>,
    /// Rotations so far.
    pub rotations: u64,
    /// Next rotation time (Unix ms) for interval schedules.
    pub next_rotation_ms: Option<u64>,
    /// Offers placed (key ids, UUID), newest last.
    pub offers: Vec<String>,
}

/// `GET /v1/transactions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionPage {
    /// The transactions, oldest first.
    pub items: Vec<TransactionView>,
    /// Cursor for `after=` to get the next page; absent at the end.
    pub next: Option<u64>,
}

/// A sale (seller, maker) or purchase (buyer).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TransactionView {
    /// Monotonic local id (the cursor).
    pub id: u64,
    /// `sale` or `purchase`.
    pub kind: String,
    /// Key id (UUID).
    pub key_id: String,
    /// Amount (base units).
    pub amount: String,
    /// Channel id (UUID).
    pub channel_oid: String,
    /// Channel sequence number after this transaction.
    pub channel_seq: u64,
    /// Remaining channel balance after this transaction (base units).
    pub balance: String,
    /// Counterparty address.
    pub counterparty: Option<String>,
    /// Market maker sales: `completed`, `inflight` or `failed` (absent for sellers and buyers, whose
    /// records are all completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Time (Unix ms).
    pub time_ms: u64,
}

/// `GET /v1/transactions` query.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct TransactionQuery {
    /// Page size (1–1000, default 100).
    pub limit: Option<u32>,
    /// Return transactions with id greater than this.
    pub after: Option<u64>,
}

/// `POST /v1/publish` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishRequest {
    /// API id (UUID); default the first configured API.
    pub api_id: Option<String>,
    /// Topic; default the API's prefix.
    pub topic: Option<String>,
    /// Any JSON value; it is CBOR-encoded, encrypted and published.
    pub payload: serde_json::Value,
}

/// `POST /v1/publish` result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PublishReceipt {
    /// Topic published to.
    pub topic: String,
    /// Key id (UUID) the payload was encrypted with.
    pub key_id: String,
    /// Router publication id, when acknowledged.
    pub publication: Option<u64>,
}

/// A decrypted event (buyer; `GET /v1/events` data).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecryptedEvent {
    /// Topic.
    pub topic: String,
    /// Key id (UUID).
    pub key_id: String,
    /// The decrypted payload.
    pub payload: serde_json::Value,
    /// Router publication id.
    pub publication: Option<u64>,
}

/// `GET /v1/keys` response (own keys; see [`ApiKeysView`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeysView {
    /// Per API.
    pub apis: Vec<ApiKeysView>,
}

//! What the role and the daemon report about themselves, in the shapes the admin API serves
//! (amounts are decimal strings, byte strings 0x-hex, ids UUID strings). Owned by the ports, not
//! by the admin layer: the roles and the health state produce them, the admin API only serves them.

use serde::{Deserialize, Serialize};
use xbr_core::{ApiId, ChannelId, KeyId};

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

/// A payment (buyer → maker) or paying (maker → seller) channel with its off-chain state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelView {
    /// Channel id (UUID).
    pub channel_oid: ChannelId,
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

/// Seller: one API's keys (`GET /v1/keys`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiKeysView {
    /// API id (UUID).
    pub api_id: ApiId,
    /// Topic (prefix) the data goes to.
    pub prefix: String,
    /// Price per key (base units).
    pub price: String,
    /// Current key id (UUID), if started.
    pub current_key_id: Option<KeyId>,
    /// Rotations so far.
    pub rotations: u64,
    /// Next rotation time (Unix ms) for interval schedules.
    pub next_rotation_ms: Option<u64>,
    /// Offers placed (key ids, UUID), newest last.
    pub offers: Vec<KeyId>,
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
    pub key_id: KeyId,
    /// Amount (base units).
    pub amount: String,
    /// Channel id (UUID).
    pub channel_oid: ChannelId,
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
    /// Market maker sales: whether recovery (after a crash, a lost reply or an unanswered
    /// seller), not the buyer's request, resolved the sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// Seller sales: present and true when the maker rolled the sale back after the seller
    /// recorded it (kept for audit; it did not move the channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided: Option<bool>,
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
    pub key_id: KeyId,
    /// Router publication id, when acknowledged.
    pub publication: Option<u64>,
}

/// A decrypted event (buyer; `GET /v1/events` data).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DecryptedEvent {
    /// Topic.
    pub topic: String,
    /// Key id (UUID).
    pub key_id: KeyId,
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

/// `POST /v1/channel/close`: the own channel a seller or buyer closed, at the state signed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelClosed {
    /// Channel id (UUID).
    pub channel_oid: ChannelId,
    /// `payment` or `paying`.
    pub channel_type: String,
    /// Off-chain sequence number closed at.
    pub seq: u64,
    /// Off-chain balance closed at (base units).
    pub balance: String,
}

impl ChannelClosed {
    /// The view of `channel`, of type `channel_type`, closed at its current state.
    pub fn of(channel: &xbr_market::types::LocalChannel, channel_type: &str) -> Self {
        Self {
            channel_oid: channel.channel_oid,
            channel_type: channel_type.to_owned(),
            seq: channel.seq,
            balance: channel.balance.to_string(),
        }
    }
}

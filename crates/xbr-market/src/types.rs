//! Domain records shared by the roles and the store: channels, offers, sales, purchases.

use std::collections::BTreeMap;

pub use alloy_primitives::{Address, U256};

pub use xbr_core::{ApiId, ChannelId, KeyId, MarketId, MemberId, OfferId, Signature, TxId};

/// Channel type (`EIP712ChannelOpen.ctype`, channel dict `channel_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelType {
    /// Buyer → market maker (type 1).
    Payment = 1,
    /// Market maker → seller (type 2).
    Paying = 2,
}

impl ChannelType {
    /// The wire integer.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// From the wire integer.
    pub fn from_u64(v: u64) -> Option<Self> {
        match v {
            1 => Some(ChannelType::Payment),
            2 => Some(ChannelType::Paying),
            _ => None,
        }
    }
}

/// Channel state (channel dict `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelState {
    /// 0
    None = 0,
    /// 1: usable for off-chain transactions.
    Open = 1,
    /// 2: a close was submitted.
    Closing = 2,
    /// 3
    Closed = 3,
    /// 4
    Failed = 4,
}

impl ChannelState {
    /// From the stored/wire integer (unknown values map to `Failed`).
    pub fn from_u64(v: u64) -> Self {
        match v {
            0 => ChannelState::None,
            1 => ChannelState::Open,
            2 => ChannelState::Closing,
            3 => ChannelState::Closed,
            _ => ChannelState::Failed,
        }
    }
}

/// Close information recorded when a channel is being closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelClose {
    /// The seq of the closing state.
    pub seq: u64,
    /// The balance (remaining) of the closing state.
    pub balance: U256,
    /// Whether this was a final close.
    pub is_final: bool,
    /// Delegate's ChannelClose signature.
    pub delegate_signature: Signature,
    /// Market maker's counter-signature (present for final closes).
    pub marketmaker_signature: Option<Signature>,
    /// When the close was recorded (ns).
    pub closing_at: u64,
    /// The on-chain closeChannel transaction hash, once submitted.
    pub closed_tx: Option<[u8; 32]>,
}

/// A payment or paying channel as the market maker mirrors it from the chain, with its
/// off-chain state (`seq`, `remaining`, `inflight`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Channel id.
    pub channel_oid: ChannelId,
    /// Payment or paying.
    pub channel_type: ChannelType,
    /// Market id.
    pub market_oid: MarketId,
    /// Member id (unused by the chain-mirrored channels).
    pub member_oid: Option<MemberId>,
    /// When the channel was recorded (ns).
    pub timestamp: u64,
    /// Block number at which it was opened.
    pub open_at: U256,
    /// Market maker address.
    pub marketmaker: Address,
    /// The member who opened (payment) or receives (paying) the channel.
    pub actor: Address,
    /// The delegate allowed to spend (payment) or earn on (paying) the channel.
    pub delegate: Address,
    /// Recipient of the channel's funds on close.
    pub recipient: Address,
    /// Amount deposited on chain.
    pub amount: U256,
    /// Channel timeout (blocks), as on chain.
    pub timeout: u64,
    /// State.
    pub state: ChannelState,
    /// Off-chain sequence number; starts at 1 when the channel is first recorded.
    pub seq: u64,
    /// Off-chain remaining balance.
    pub remaining: U256,
    /// Amount in flight (reserved by a sale not yet completed).
    pub inflight: U256,
    /// Close information, once closing.
    pub close: Option<ChannelClose>,
}

/// An offer of a data-encryption key (maker side, cfxdb offer dict).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Offer id (random).
    pub offer_id: OfferId,
    /// When placed (ns).
    pub timestamp: u64,
    /// Seller delegate address.
    pub seller: Address,
    /// WAMP session id of the seller that placed it (0 when unknown).
    pub seller_session_id: u64,
    /// The seller's provider id: its procedures live under `xbr.provider.<seller_authid>.`.
    pub seller_authid: String,
    /// The key offered.
    pub key_id: KeyId,
    /// The API the key belongs to.
    pub api_id: ApiId,
    /// URI (prefix) of the data.
    pub uri: String,
    /// Valid from (ns).
    pub valid_from: u64,
    /// Delegate signature (the reference sends random bytes; kept, not verified).
    pub signature: Signature,
    /// Price in token base units (0 = free).
    pub price: U256,
    /// Free-form categories.
    pub categories: Option<BTreeMap<String, String>>,
    /// Expiry (ns), if any.
    pub expires: Option<u64>,
    /// Number of copies allowed, if limited.
    pub copies: Option<u64>,
    /// Copies remaining, if limited.
    pub remaining: Option<u64>,
}

/// Filter for `query_offers` (every given field must match).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OfferQuery {
    /// Only offers of this API.
    pub api_id: Option<ApiId>,
    /// Only offers placed at or after this time (ns).
    pub from_ts: Option<u64>,
    /// Only offers placed before this time (ns).
    pub until_ts: Option<u64>,
    /// Only offers whose URI equals this or starts with it (when it ends in `.`).
    pub uri: Option<String>,
    /// Only offers whose categories contain all these pairs.
    pub categories: Option<BTreeMap<String, String>>,
    /// Only offers of this seller delegate.
    pub seller: Option<Address>,
    /// At most this many (oldest first).
    pub limit: Option<usize>,
}

impl OfferQuery {
    /// True if `offer` passes every filter except `limit`.
    pub fn matches(&self, offer: &Offer) -> bool {
        if self.api_id.is_some_and(|a| a != offer.api_id) {
            return false;
        }
        if self.from_ts.is_some_and(|t| offer.timestamp < t) {
            return false;
        }
        if self.until_ts.is_some_and(|t| offer.timestamp >= t) {
            return false;
        }
        if let Some(uri) = &self.uri {
            let hit = if uri.ends_with('.') {
                offer.uri.starts_with(uri.as_str())
            } else {
                &offer.uri == uri
            };
            if !hit {
                return false;
            }
        }
        if self.seller.is_some_and(|s| s != offer.seller) {
            return false;
        }
        if let Some(want) = &self.categories {
            let have = offer.categories.as_ref();
            if !want
                .iter()
                .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
            {
                return false;
            }
        }
        true
    }
}

/// Status of a maker-side sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaleStatus {
    /// Balances reserved, the seller is being asked.
    Inflight = 1,
    /// The seller sold and the receipt was signed.
    Completed = 2,
    /// Rolled back.
    Failed = 3,
    /// The seller's receipt (signature and sealed key) is stored; completing needs no network.
    SellerSigned = 4,
}

impl SaleStatus {
    /// From the stored integer.
    pub fn from_u64(v: u64) -> Self {
        match v {
            1 => SaleStatus::Inflight,
            2 => SaleStatus::Completed,
            4 => SaleStatus::SellerSigned,
            _ => SaleStatus::Failed,
        }
    }

    /// In flight or seller-signed: the price is still in flight on both channels.
    pub fn is_unresolved(self) -> bool {
        matches!(self, SaleStatus::Inflight | SaleStatus::SellerSigned)
    }
}

/// One `buy_key` transaction at the market maker: both channels' state after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sale {
    /// Transaction id (random).
    pub tx_id: TxId,
    /// Created (ns).
    pub created: u64,
    /// Status.
    pub status: SaleStatus,
    /// Key sold.
    pub key_id: KeyId,
    /// Offer it was sold under.
    pub offer_id: OfferId,
    /// Buyer delegate.
    pub buyer_delegate: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// Amount the buyer offered.
    pub amount_offered: U256,
    /// Amount charged (the offer price).
    pub amount_paid: U256,
    /// Payment channel.
    pub payment_channel: ChannelId,
    /// Payment channel seq after this transaction.
    pub payment_seq: u64,
    /// Payment channel remaining after this transaction.
    pub payment_remaining: U256,
    /// Buyer's ChannelClose signature over the payment state (XBRSIG1).
    pub buyer_signature: Signature,
    /// Paying channel.
    pub paying_channel: ChannelId,
    /// Paying channel seq after this transaction.
    pub paying_seq: u64,
    /// Paying channel remaining after this transaction.
    pub paying_remaining: U256,
    /// Maker's ChannelClose signature over the paying state (XBRSIG3).
    pub maker_sell_signature: Signature,
    /// Seller's ChannelClose signature (XBRSIG5), once sold.
    pub seller_signature: Option<Signature>,
    /// Maker's receipt signature over the payment state (XBRSIG7), once completed.
    pub maker_receipt_signature: Option<Signature>,
    /// Why it failed.
    pub failure: Option<String>,
    /// The seller's 80-byte sealed key, once the seller signed (kept so a retried `buy_key` gets
    /// its key again).
    pub sealed_key: Option<Vec<u8>>,
    /// True when recovery (not the original request) resolved the sale, either way.
    pub recovered: bool,
}

/// A seller- or buyer-side mirror of the one channel it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalChannel {
    /// Channel id.
    pub channel_oid: ChannelId,
    /// Market id.
    pub market_oid: MarketId,
    /// Off-chain seq.
    pub seq: u64,
    /// Off-chain remaining balance.
    pub balance: U256,
}

/// A data-encryption key the seller minted (the key itself wrapped at rest).
#[derive(Clone, PartialEq, Eq)]
pub struct SellerKey {
    /// Key id.
    pub key_id: KeyId,
    /// API it belongs to.
    pub api_id: ApiId,
    /// Created (ns).
    pub created: u64,
    /// The 32-byte key, encrypted at rest.
    pub wrapped_key: Vec<u8>,
    /// Whether the maker accepted the offer for it.
    pub offered: bool,
}

impl std::fmt::Debug for SellerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SellerKey")
            .field("key_id", &self.key_id)
            .field("api_id", &self.api_id)
            .field("created", &self.created)
            .field("offered", &self.offered)
            .finish_non_exhaustive()
    }
}

/// One sale as the seller recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellerSale {
    /// Paying channel.
    pub channel_oid: ChannelId,
    /// Paying-channel seq after the sale.
    pub seq: u64,
    /// Recorded (ns).
    pub created: u64,
    /// Key sold.
    pub key_id: KeyId,
    /// Buyer's X25519 public key the key was sealed to.
    pub buyer_pubkey: [u8; 32],
    /// Amount earned.
    pub amount: U256,
    /// Paying-channel remaining after the sale.
    pub balance: U256,
    /// Maker's signature (XBRSIG3).
    pub maker_signature: Signature,
    /// Seller's signature (XBRSIG5).
    pub seller_signature: Signature,
    /// The seller gave this sale up when it adopted a lower seq from the maker (the maker rolled
    /// the sale back); kept for audit. At most one live (not voided) sale per (channel, seq).
    pub voided: bool,
}

/// One key bought by the buyer (the key wrapped at rest) with its payment-channel state.
#[derive(Clone, PartialEq, Eq)]
pub struct Purchase {
    /// Key id.
    pub key_id: KeyId,
    /// Recorded (ns).
    pub created: u64,
    /// The 32-byte key, encrypted at rest; empty when the maker's receipt proved the payment
    /// but its sealed key did not open (paid, not delivered).
    pub wrapped_key: Vec<u8>,
    /// Payment channel.
    pub channel_oid: ChannelId,
    /// Payment-channel seq after the purchase.
    pub seq: u64,
    /// Amount paid.
    pub amount: U256,
    /// Payment-channel remaining after the purchase.
    pub balance: U256,
    /// Buyer's signature (XBRSIG1).
    pub buyer_signature: Signature,
    /// Maker's receipt signature (XBRSIG7).
    pub maker_signature: Signature,
    /// Whether the key opened a ciphertext published under its key id. A key that did not open
    /// the ciphertext it was bought for is kept (it was paid for) but unverified until a later
    /// ciphertext opens with it.
    pub verified: bool,
}

impl std::fmt::Debug for Purchase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Purchase")
            .field("key_id", &self.key_id)
            .field("seq", &self.seq)
            .field("amount", &self.amount)
            .field("balance", &self.balance)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

// ------------------------------------------------------------------ buyer: purchase intents

/// Largest ciphertext kept with a [`PurchaseIntent`] (to check the bought key against it).
pub const INTENT_CIPHERTEXT_MAX: usize = 64 * 1024;

/// A purchase the buyer signed and is about to send (or has sent) to the maker, persisted
/// before `buy_key` is called and kept until the maker answers for good: the identical request
/// is sent again after a lost reply or a restart. At most one per payment channel.
#[derive(Clone, PartialEq, Eq)]
pub struct PurchaseIntent {
    /// Payment channel.
    pub channel_oid: ChannelId,
    /// Key to buy.
    pub key_id: KeyId,
    /// Payment-channel seq after the purchase.
    pub seq: u64,
    /// Amount offered.
    pub amount: U256,
    /// Payment-channel remaining after the purchase.
    pub balance: U256,
    /// Buyer's signature (XBRSIG1) over `(seq, balance)`.
    pub buyer_signature: Signature,
    /// The X25519 public key the key is to be sealed to.
    pub buyer_pubkey: [u8; 32],
    /// Created (ns).
    pub created: u64,
    /// A ciphertext published under `key_id` (at most [`INTENT_CIPHERTEXT_MAX`] bytes), to check
    /// the bought key against.
    pub ciphertext: Option<Vec<u8>>,
}

impl std::fmt::Debug for PurchaseIntent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurchaseIntent")
            .field("channel_oid", &self.channel_oid)
            .field("key_id", &self.key_id)
            .field("seq", &self.seq)
            .field("amount", &self.amount)
            .field("balance", &self.balance)
            .finish_non_exhaustive()
    }
}

// ------------------------------------------------------------------ close intents (maker)

/// Where a maker's close of a channel stands (`mm_close_intent.state`). Signed → Submitted →
/// Mined → Final, or Failed; a Mined close whose transaction a reorg dropped goes back to
/// Submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseState {
    /// Signed by the channel's delegate and the maker, persisted, not submitted yet.
    Signed = 1,
    /// `closeChannel` sent; its transaction is tracked by hash.
    Submitted = 2,
    /// The transaction is mined (status 1).
    Mined = 3,
    /// The chain's scan saw the channel's `Closing`/`Closed` log at the confirmation depth.
    Final = 4,
    /// The close reverted and never will succeed; not retried.
    Failed = 5,
}

impl CloseState {
    /// From the stored integer (`None` for an unknown one).
    pub fn from_u64(v: u64) -> Option<Self> {
        match v {
            1 => Some(CloseState::Signed),
            2 => Some(CloseState::Submitted),
            3 => Some(CloseState::Mined),
            4 => Some(CloseState::Final),
            5 => Some(CloseState::Failed),
            _ => None,
        }
    }

    /// Whether the close worker still has something to do (Signed, Submitted or Mined).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CloseState::Signed | CloseState::Submitted | CloseState::Mined
        )
    }
}

/// A close of a channel the maker carries to the chain: what both parties signed and how far
/// its submission got. One per channel, written with the channel's move to Closing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseIntent {
    /// The channel.
    pub channel_oid: ChannelId,
    /// `closeAt` both signatures were made with.
    pub close_at: u64,
    /// The closing seq.
    pub seq: u64,
    /// The closing balance.
    pub balance: U256,
    /// A final close (settles at once) or not (starts the channel's timeout).
    pub is_final: bool,
    /// The delegate's signature.
    pub delegate_signature: Signature,
    /// The maker's signature.
    pub marketmaker_signature: Signature,
    /// When the intent was written (ns).
    pub created: u64,
    /// Where it stands.
    pub state: CloseState,
    /// The `closeChannel` transaction: the version found mined, else the latest signed.
    pub tx_hash: Option<[u8; 32]>,
    /// When the node last took the latest version (ns); `None` while it is persisted but its
    /// broadcast is not known to have happened (the worker broadcasts it, again if need be).
    pub submitted_at: Option<u64>,
    /// How many versions were signed (or refused because the call reverts).
    pub attempts: u32,
    /// The block the transaction was mined in.
    pub mined_block: Option<u64>,
    /// Why it failed (Failed only).
    pub failure: Option<String>,
    /// Every version of the transaction signed, oldest first, each persisted before its
    /// broadcast; any of them may be the one mined. Append-only.
    pub versions: Vec<CloseTx>,
}

/// One signed version of a close's `closeChannel` transaction (`mm_close_tx`), kept so that it
/// can be broadcast again byte for byte. A replacement has the same nonce and higher fees.
#[derive(Clone, PartialEq, Eq)]
pub struct CloseTx {
    /// The transaction hash.
    pub hash: [u8; 32],
    /// The maker key's nonce it uses.
    pub nonce: u64,
    /// `maxFeePerGas` (wei).
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas` (wei).
    pub max_priority_fee_per_gas: u128,
    /// The signed transaction (EIP-2718 bytes).
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for CloseTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloseTx")
            .field("hash", &alloy_primitives::B256::from(self.hash))
            .field("nonce", &self.nonce)
            .field("max_fee_per_gas", &self.max_fee_per_gas)
            .field("max_priority_fee_per_gas", &self.max_priority_fee_per_gas)
            .field("raw_len", &self.raw.len())
            .finish()
    }
}

impl CloseIntent {
    /// Every transaction hash of this close that may be mined: each version's, and a
    /// transaction sent before versions were kept.
    pub fn hashes(&self) -> Vec<[u8; 32]> {
        let mut hashes: Vec<[u8; 32]> = self.versions.iter().map(|v| v.hash).collect();
        if let Some(h) = self.tx_hash
            && !hashes.contains(&h)
        {
            hashes.push(h);
        }
        hashes
    }

    /// The state the channel moves to with this progress: a final close found mined is Closed
    /// (its receipt shows the contract settled it); otherwise the channel stays as it is.
    pub fn channel_state(&self) -> Option<ChannelState> {
        (self.state == CloseState::Mined && self.is_final).then_some(ChannelState::Closed)
    }

    /// Whether a channel lifecycle log that moves the channel to `log_state` (Closing or Closed)
    /// makes this close final: a final close ends with `Closed`, a non-final one with `Closing`.
    pub fn finalized_by(&self, log_state: ChannelState) -> bool {
        self.state != CloseState::Final
            && (log_state == ChannelState::Closed
                || (log_state == ChannelState::Closing && !self.is_final))
    }
}

// ---------------------------------------------------------------- user keys (market-realm auth)

/// A member's role in a market (`XBRTypes.ActorType`: provider 1, consumer 2, both 3).
pub use xbr_chain::ActorType;

/// A delegate's WAMP-cryptosign public key registered on behalf of a market member at its first
/// login (spec §8.5): sessions presenting this key later are that member's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKey {
    /// The Ed25519 public key.
    pub pubkey: [u8; 32],
    /// The member (wallet) address that signed the login.
    pub member: Address,
    /// When it was registered (ns).
    pub created: u64,
}

/// What registering a [`UserKey`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRegistration {
    /// Stored.
    Added,
    /// The key was registered for the same member already (nothing changed).
    Known,
    /// The key is registered for another member (nothing changed).
    OtherMember(Address),
    /// The member has the maximum number of keys already (nothing changed).
    TooMany,
}

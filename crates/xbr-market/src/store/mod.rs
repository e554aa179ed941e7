//! Durable state of the three roles behind storage traits (the ldk-node way).
//!
//! Every method that changes more than one row is one atomic transaction at the domain level
//! (`begin_sale`, `complete_sale`, `rollback_sale`, `record_sale`, `record_purchase`), and
//! re-checks its preconditions inside that transaction (compare-and-set on seq and balance), so a
//! race can never leave a channel half-updated.
//!
//! The methods are synchronous. Async role code calls them through [`blocking`], which runs the
//! call on tokio's blocking pool so no SQLite I/O happens on an async worker.
//!
//! Implementations: [`MemoryStore`] (tests, ephemeral roles) and [`SqliteStore`] (WAL, busy
//! timeout, schema migrations from the repository's `migrations/` directory). The state rules
//! both apply (what a sale does to its channels, what a local transaction does to the active
//! channel) live once, in `rules`.

mod memory;
mod rules;
mod sqlite;
mod user_keys;

use std::sync::Arc;

pub use memory::MemoryStore;
pub use sqlite::{Durability, SqliteStore};

use crate::types::PurchaseIntent;
use crate::types::{
    Address, Channel, ChannelClose, ChannelId, ChannelState, ChannelType, KeyId, LocalChannel,
    Offer, OfferId, OfferQuery, Purchase, Sale, SellerKey, SellerSale, Signature, TxId,
};
use crate::types::{CloseIntent, CloseState};
use crate::types::{KeyRegistration, UserKey};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Applying the schema migrations failed.
    #[error("schema migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The record does not exist.
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The record exists already.
    #[error("duplicate {0}")]
    Duplicate(&'static str),
    /// A compare-and-set precondition did not hold (the state moved underneath the caller).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored row could not be decoded.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The blocking task running the store call failed.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// The market maker's durable state: channels mirrored from the chain, offers, sales.
pub trait MakerStore: Send + Sync + 'static {
    /// Records a channel first seen on chain. Returns `false` (and changes nothing) if it is known.
    fn insert_channel(&self, channel: &Channel) -> StoreResult<bool>;
    /// A channel by id.
    fn channel(&self, channel_oid: &ChannelId) -> StoreResult<Option<Channel>>;
    /// All channels of a type whose delegate is `delegate`, oldest first.
    fn channels_by_delegate(
        &self,
        delegate: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>>;
    /// All channels of a type whose actor (payment) or recipient (paying) is `member`, oldest first.
    fn channels_by_member(
        &self,
        member: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>>;
    /// Moves a channel's state forward to `state` as the chain's logs report it (Open → Closing
    /// → Closed, never back; the off-chain close information is kept). `false` if the channel
    /// is unknown or already there or beyond.
    fn advance_channel_state(
        &self,
        channel_oid: &ChannelId,
        state: ChannelState,
    ) -> StoreResult<bool>;
    /// Marks a channel closing (or closed) with its close information; fails with
    /// [`StoreError::Conflict`] if it is not in `expect_state`.
    fn close_channel(
        &self,
        channel_oid: &ChannelId,
        expect_state: ChannelState,
        new_state: ChannelState,
        close: &ChannelClose,
    ) -> StoreResult<()>;

    /// Stores a new offer; [`StoreError::Duplicate`] if its key id is offered already.
    fn insert_offer(&self, offer: &Offer) -> StoreResult<()>;
    /// An offer by offer id.
    fn offer(&self, offer_id: &OfferId) -> StoreResult<Option<Offer>>;
    /// The offer of a key.
    fn offer_by_key(&self, key_id: &KeyId) -> StoreResult<Option<Offer>>;
    /// Sets an offer's expiry (revocation) and returns the updated offer.
    fn set_offer_expires(&self, key_id: &KeyId, expires: u64) -> StoreResult<Offer>;
    /// Offers matching a query, oldest first, at most `query.limit`.
    fn query_offers(&self, query: &OfferQuery) -> StoreResult<Vec<Offer>>;

    /// Transaction 1 of `buy_key`, atomically: checks that both channels are open, that
    /// `sale.payment_seq == payment.seq + 1`, `sale.payment_remaining == payment.remaining -
    /// amount_paid`, and the same for the paying side; then moves `amount_paid` from remaining to
    /// inflight and advances seq on both channels, and stores the sale as INFLIGHT.
    fn begin_sale(&self, sale: &Sale) -> StoreResult<()>;
    /// Transaction 2 (success): releases the inflight amount on both channels and marks the sale
    /// COMPLETED with the seller's and the receipt signatures. Returns both channels after it.
    fn complete_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        receipt_signature: &Signature,
    ) -> StoreResult<(Channel, Channel)>;
    /// Undoes transaction 1: gives `amount_paid` back to remaining, releases inflight and restores
    /// seq on the sale's payment and paying channels, and marks the sale FAILED.
    fn rollback_sale(&self, tx_id: &TxId, reason: &str) -> StoreResult<()> {
        self.rollback_sale_with(tx_id, reason, false)
    }
    /// A sale by transaction id.
    fn sale(&self, tx_id: &TxId) -> StoreResult<Option<Sale>>;
    /// All sales, oldest first.
    fn sales(&self) -> StoreResult<Vec<Sale>>;
    /// Every mirrored channel, oldest first.
    fn all_channels(&self) -> StoreResult<Vec<Channel>>;
    /// A page of sales in the order they were recorded: at most `limit` with a cursor greater
    /// than `after`, each with its cursor. The cursor numbers the sales 1, 2, … as they are
    /// recorded and never changes, so paging neither repeats nor skips a sale recorded meanwhile.
    fn sales_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Sale)>> {
        Ok(page(self.sales()?, after, limit))
    }
    /// The next block the chain log scan starts from (`None` before the first scan).
    fn scan_cursor(&self) -> StoreResult<Option<u64>>;
    /// Saves the next block the chain log scan starts from.
    fn set_scan_cursor(&self, next_block: u64) -> StoreResult<()>;

    // ---- close intents (the maker's close worker, `maker::closer`)

    /// Atomically: marks the channel Closing with `close` ([`StoreError::Conflict`] unless it is
    /// Open) and stores `intent` ([`StoreError::Duplicate`] if the channel has one already).
    fn begin_close(&self, close: &ChannelClose, intent: &CloseIntent) -> StoreResult<()>;
    /// A channel's close intent.
    fn close_intent(&self, channel_oid: &ChannelId) -> StoreResult<Option<CloseIntent>>;
    /// Every close intent, oldest first.
    fn close_intents(&self) -> StoreResult<Vec<CloseIntent>>;
    /// Saves the close worker's progress on `intent` (state, transaction, attempts, mined block,
    /// failure) if the stored one is still in `expect` ([`StoreError::Conflict`] otherwise).
    /// Atomically with it, the channel's `closed_tx` follows the intent's transaction and a
    /// final close found mined moves the channel to Closed ([`CloseIntent::channel_state`]).
    fn save_close_progress(&self, intent: &CloseIntent, expect: CloseState) -> StoreResult<()>;
    /// The chain's scan saw the channel move to `log_state`: makes its close intent Final when
    /// that log ends it ([`CloseIntent::finalized_by`]). `false` if nothing changed.
    fn finalize_close(&self, channel_oid: &ChannelId, log_state: ChannelState)
    -> StoreResult<bool>;

    // ---------------------------------------------------------------- sale states (issue 11)

    /// INFLIGHT → SELLER_SIGNED: stores the seller's signature (XBRSIG 5) and sealed key; the
    /// channels do not change (the price stays in flight). [`StoreError::Conflict`] unless the
    /// sale is in flight. Returns the sale after the step.
    fn seller_signed_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        sealed_key: &[u8],
    ) -> StoreResult<Sale>;
    /// INFLIGHT or SELLER_SIGNED → COMPLETED: releases the in-flight amount on both channels and
    /// stores the receipt signature (XBRSIG 7), keeping the seller's signature if one is stored;
    /// `recovered` marks a sale finished by recovery. Returns both channels after it.
    fn finish_sale(
        &self,
        tx_id: &TxId,
        receipt_signature: &Signature,
        recovered: bool,
    ) -> StoreResult<(Channel, Channel)>;
    /// [`Self::rollback_sale`] that also records whether recovery (not the original request)
    /// rolled the sale back. Only an INFLIGHT sale can be rolled back (the seller signed a
    /// SELLER_SIGNED one).
    fn rollback_sale_with(&self, tx_id: &TxId, reason: &str, recovered: bool) -> StoreResult<()>;
    /// The live (not rolled back) sale at `(payment channel, payment seq)`, if any.
    fn sale_at_payment(&self, channel_oid: &ChannelId, seq: u64) -> StoreResult<Option<Sale>> {
        Ok(self.sales()?.into_iter().find(|s| {
            s.payment_channel == *channel_oid
                && s.payment_seq == seq
                && s.status != crate::types::SaleStatus::Failed
        }))
    }
    /// Every unresolved sale (in flight or seller-signed), oldest first.
    fn unresolved_sales(&self) -> StoreResult<Vec<Sale>> {
        let mut v: Vec<Sale> = self
            .sales()?
            .into_iter()
            .filter(|s| s.status.is_unresolved())
            .collect();
        v.sort_by_key(|s| s.created);
        Ok(v)
    }
    /// The unresolved sale on a channel, as its payment or its paying channel (at most one: the
    /// maker resolves a channel's unresolved sale before it starts another on it).
    fn unresolved_sale_on(&self, channel_oid: &ChannelId) -> StoreResult<Option<Sale>> {
        Ok(self
            .unresolved_sales()?
            .into_iter()
            .find(|s| s.payment_channel == *channel_oid || s.paying_channel == *channel_oid))
    }

    // ---------------------------------------------------------------- user keys (issue 12)

    /// The registration of a delegate's WAMP-cryptosign public key, if any.
    fn user_key(&self, pubkey: &[u8; 32]) -> StoreResult<Option<UserKey>>;
    /// Atomically: stores `key` unless its pubkey is registered already (for its member or
    /// another) or its member holds `max_per_member` keys; says which.
    fn add_user_key(&self, key: &UserKey, max_per_member: usize) -> StoreResult<KeyRegistration>;
    /// A member's keys, oldest first.
    fn user_keys_of(&self, member: &Address) -> StoreResult<Vec<UserKey>>;
    /// Forgets a key; `false` if it was not registered.
    fn remove_user_key(&self, pubkey: &[u8; 32]) -> StoreResult<bool>;
    /// What [`add_user_key`](Self::add_user_key) would answer now, without storing anything
    /// (`None`: it would add the key). The authenticator asks at a first login, before the
    /// session proved it holds the key.
    fn user_key_refusal(
        &self,
        key: &UserKey,
        max_per_member: usize,
    ) -> StoreResult<Option<KeyRegistration>> {
        let existing = self.user_key(&key.pubkey)?;
        let member_keys = self.user_keys_of(&key.member)?.len();
        Ok(user_keys::refusal(
            key,
            existing.as_ref(),
            member_keys,
            max_per_member,
        ))
    }
}

/// The seller's durable state: keys (wrapped), its paying channel mirror, its sales.
pub trait SellerStore: Send + Sync + 'static {
    /// Stores a newly minted key.
    fn put_seller_key(&self, key: &SellerKey) -> StoreResult<()>;
    /// Marks a key as offered at the maker.
    fn mark_key_offered(&self, key_id: &KeyId) -> StoreResult<()>;
    /// All keys, oldest first.
    fn seller_keys(&self) -> StoreResult<Vec<SellerKey>>;
    /// The active paying channel mirror.
    fn seller_channel(&self) -> StoreResult<Option<LocalChannel>>;
    /// Makes `channel` the active paying channel (replacing seq/balance if it is known).
    /// Atomically with it, the live sales of that channel above `channel.seq` are voided (the
    /// maker rolled them back and the seller adopts its lower seq); they stay listed, flagged.
    fn set_seller_channel(&self, channel: &LocalChannel) -> StoreResult<()>;
    /// Atomically: checks that the active channel is `sale.channel_oid` with seq `sale.seq - 1`
    /// and balance `sale.balance + sale.amount`, advances it and stores the sale (live, whatever
    /// `sale.voided` says). [`StoreError::Duplicate`] if a live sale holds that seq already: a
    /// sale is never dropped silently.
    fn record_sale(&self, sale: &SellerSale) -> StoreResult<()>;
    /// All sales, oldest first.
    fn seller_sales(&self) -> StoreResult<Vec<SellerSale>>;
    /// A page of sales, oldest first, with cursors (see [`MakerStore::sales_page`]).
    fn seller_sales_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, SellerSale)>> {
        Ok(page(self.seller_sales()?, after, limit))
    }
    /// The live (not voided) sale the seller recorded at `(channel_oid, seq)`, if any: what a
    /// repeated `sell` for that seq is answered from.
    fn live_seller_sale(
        &self,
        channel_oid: &ChannelId,
        seq: u64,
    ) -> StoreResult<Option<SellerSale>> {
        Ok(self
            .seller_sales()?
            .into_iter()
            .find(|s| rules::is_live_sale_at(s, channel_oid, seq)))
    }
}

/// The buyer's durable state: its payment channel mirror and bought keys (wrapped).
pub trait BuyerStore: Send + Sync + 'static {
    /// The active payment channel mirror.
    fn buyer_channel(&self) -> StoreResult<Option<LocalChannel>>;
    /// Makes `channel` the active payment channel (replacing seq/balance if it is known).
    fn set_buyer_channel(&self, channel: &LocalChannel) -> StoreResult<()>;
    /// Atomically: checks that the active channel is `purchase.channel_oid` with seq
    /// `purchase.seq - 1` and balance `purchase.balance + purchase.amount`, advances it and
    /// stores the bought key. [`StoreError::Duplicate`] if the key was bought already.
    fn record_purchase(&self, purchase: &Purchase) -> StoreResult<()>;
    /// A bought key.
    fn purchase(&self, key_id: &KeyId) -> StoreResult<Option<Purchase>>;
    /// All bought keys, oldest first.
    fn purchases(&self) -> StoreResult<Vec<Purchase>>;
    /// A page of purchases, oldest first, with cursors (see [`MakerStore::sales_page`]).
    fn purchases_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Purchase)>> {
        Ok(page(self.purchases()?, after, limit))
    }

    // Purchase intents and the receive key (the buyer's side of the money path).

    /// Stores `wrapped` (the receive key wrapped under the KEK) unless a receive key is stored
    /// already, and returns the stored one: the first call's key is kept for good.
    fn init_buyer_receive_key(&self, wrapped: &[u8]) -> StoreResult<Vec<u8>>;
    /// Atomically: checks that no intent is pending on the intent's channel
    /// ([`StoreError::Duplicate`]), that its key was not bought ([`StoreError::Duplicate`]) and
    /// that it is one step past the active channel (as [`BuyerStore::record_purchase`] checks);
    /// stores it.
    fn put_purchase_intent(&self, intent: &PurchaseIntent) -> StoreResult<()>;
    /// The pending intents (at most one per channel).
    fn purchase_intents(&self) -> StoreResult<Vec<PurchaseIntent>>;
    /// Atomically: deletes the intent the purchase resolves (same channel, key, seq, amount,
    /// balance and signature; else [`StoreError::NotFound`] or [`StoreError::Conflict`]) and
    /// records the purchase as [`BuyerStore::record_purchase`] does.
    fn complete_purchase_intent(&self, purchase: &Purchase) -> StoreResult<()>;
    /// Atomically: deletes the intent at `seq` on `channel_oid` (the maker refused it; nothing
    /// if there is none) and, with `adopt`, makes `adopt` the active channel's state.
    fn drop_purchase_intent(
        &self,
        channel_oid: &ChannelId,
        seq: u64,
        adopt: Option<&LocalChannel>,
    ) -> StoreResult<()>;
    /// Marks a bought key verified (a ciphertext opened with it).
    fn mark_purchase_verified(&self, key_id: &KeyId) -> StoreResult<()>;
}

/// Numbers `items` 1, 2, … (in recording order) and keeps at most `limit` of those numbered above
/// `after`: the paging of a store that holds its records in a list (SQLite pages in SQL).
fn page<T>(items: Vec<T>, after: u64, limit: usize) -> Vec<(u64, T)> {
    items
        .into_iter()
        .zip(1u64..)
        .filter(|(_, n)| *n > after)
        .take(limit)
        .map(|(t, n)| (n, t))
        .collect()
}

/// Runs a synchronous store call on tokio's blocking pool.
pub async fn blocking<S, T, F>(store: &Arc<S>, f: F) -> StoreResult<T>
where
    S: ?Sized + Send + Sync + 'static,
    T: Send + 'static,
    F: FnOnce(&S) -> StoreResult<T> + Send + 'static,
{
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

#[cfg(test)]
mod seller_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod intent_tests;

#[cfg(test)]
mod user_key_tests;

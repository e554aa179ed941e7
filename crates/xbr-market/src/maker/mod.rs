//! The market maker (spec §3A), by concern:
//!
//! | module | what |
//! |---|---|
//! | [`procedure`] | [`Procedure`]: every `xbr.marketmaker.*` procedure, its name and URI |
//! | [`dispatch`] | [`MarketMaker::dispatch`]: WAMP payloads onto the typed methods |
//! | [`status`] | `status`, `get_status`, `get_config` |
//! | [`offers`] | `place_offer`, `get_offer`, `revoke_offer`, `query_offers`, `get_quote` |
//! | [`buy`] | `buy_key` as a persisted sale state machine run in a task of its own; recovery of unresolved sales |
//! | [`channels`] | channels mirrored from the chain, `open_channel`, the channel queries |
//! | [`scan`] | the chain's channel logs scanned in bounded ranges from a saved cursor |
//! | [`close`] | `close_channel`, the auto-close of an exhausted paying channel, settling a close |
//! | [`closer`] | the close worker: persisted close intents carried to the chain until final |
//! | [`authenticator`] | the market realm's dynamic cryptosign authenticator (spec §8.5) over the store's user keys |
//! | [`caller`] | who calls: [`CallerId`] (as disclosed), [`Principal`], [`CallerPolicy`] |
//! | [`guard`] | the caller checks of the changing procedures |
//! | [`authorizer`] | the router's dynamic authorizer of the `user` role |
//! | [`pending_logins`] | first logins waiting for their session to join (proof of possession) |
//!
//! Fixes over the reference (spec §10): `buy_key` checks that the delegate owns the payment
//! channel and that `channel_seq`/`balance` continue the stored state; a failed sale rolls back
//! seq and balances of both channels in one transaction; free keys can be quoted and bought;
//! revocation is persisted; `query_offers` is implemented; a seller without a paying channel gets
//! `xbr.error.insufficient_paying_balance`, not a crash; close always counter-signs; an exhausted
//! paying channel is closed with the seller's counter-signature and settled on chain; closes are
//! signed at the current block (the reference's `closeAt = 1` expires at block 1441); a close is
//! a persisted intent that the close worker submits, tracks by transaction hash and retries
//! until the chain's log makes it final, across crashes and a chain that is down.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tracing::warn;
use wamp_proto::{Dict, Value};
use xbr_core::eth::EthPrivateKey;

use crate::error::MarketResult;
use crate::peer::{BoxFuture, Caller, Publisher};
use crate::sig::Domain;
use crate::store::{MakerStore, StoreResult, blocking};
use crate::types::{ActorType, CloseTx};
use crate::types::{Address, ChannelId, ChannelType, MarketId, Signature, TxId, U256};
use crate::wire::OpenChannelRequest;

pub mod authenticator;
pub mod buy;
pub mod channels;
pub mod close;
pub mod closer;
pub mod dispatch;
pub mod offers;
pub mod pending_logins;
pub mod procedure;
pub mod scan;
pub mod status;
#[cfg(any(test, feature = "fuzzing"))]
pub mod testing;
// Authorization (issue 12).
pub mod authorizer;
pub mod caller;
pub mod guard;

pub use closer::{CloseBroadcast, CloseConfig, CloseRound, CloseSigning, Replacement, TxStatus};
pub use procedure::Procedure;
pub use scan::{ChannelScan, ScanConfig};
// Authorization (issue 12).
pub use authorizer::{AUTHORIZER_URI, Authorization, AuthorizeRequest};
pub use caller::{CallerId, CallerPolicy, Principal};
pub use guard::DEFAULT_MAX_CHANNEL_AMOUNT;

/// Static configuration of a market maker.
pub struct MakerConfig {
    /// The maker's Ethereum key (signs receipts and paying-channel states).
    pub key: EthPrivateKey,
    /// The market this maker runs (`XBRMarket.marketsByMaker`).
    pub market_oid: MarketId,
    /// The market owner (`XBRMarket.getMarketOwner`).
    pub market_owner: Address,
    /// `XBRNetwork.verifyingChain()` / `verifyingContract()`.
    pub domain: Domain,
    /// `net_version` of the chain.
    pub chain: u64,
    /// Contract addresses by reference name (`xbrtoken`, `xbrnetwork`, …).
    pub contracts: BTreeMap<String, Address>,
    /// EULA url.
    pub eula_url: String,
    /// EULA hash (`XBRNetwork.eula()`).
    pub eula_hash: String,
    // Authorization (issue 12).
    /// Whether the changing procedures check their disclosed caller ([`guard`]).
    pub callers: CallerPolicy,
    /// The largest channel `open_channel` opens (base units; default
    /// [`DEFAULT_MAX_CHANNEL_AMOUNT`]).
    pub max_channel_amount: U256,
    // Authentication (issue 12).
    /// The market realm: the authenticator refuses a session joining any other realm
    /// (`None`: any realm; library tests).
    pub realm: Option<String>,
}

/// A channel as read from the chain (`XBRChannel.Opened`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainChannel {
    /// Channel id.
    pub channel_oid: ChannelId,
    /// Payment or paying.
    pub channel_type: ChannelType,
    /// Market.
    pub market_oid: MarketId,
    /// Block it was opened at.
    pub open_at: u64,
    /// Actor.
    pub actor: Address,
    /// Delegate.
    pub delegate: Address,
    /// Market maker.
    pub marketmaker: Address,
    /// Recipient.
    pub recipient: Address,
    /// Amount.
    pub amount: U256,
    /// Timeout.
    pub timeout: u64,
}

/// A close to submit on chain (`XBRChannel.closeChannel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainClose {
    /// Channel id.
    pub channel_oid: ChannelId,
    /// `closeAt` the signatures were made with.
    pub close_at: u64,
    /// Seq.
    pub seq: u64,
    /// Balance.
    pub balance: U256,
    /// Final.
    pub is_final: bool,
    /// Delegate signature.
    pub delegate_signature: Signature,
    /// Maker signature.
    pub marketmaker_signature: Signature,
}

/// What the maker needs from the chain (implemented over xbr-chain by the daemon and tests).
pub trait MakerChain: Send + Sync + 'static {
    /// Current block number.
    fn block_number(&self) -> BoxFuture<'_, MarketResult<u64>>;
    /// A channel as recorded on chain (`None` if it does not exist).
    fn channel(&self, channel_oid: ChannelId) -> BoxFuture<'_, MarketResult<Option<ChainChannel>>>;
    /// Submits `openChannel` (approving the amount first for a paying channel); the opened
    /// channel and the transaction hash.
    fn open_channel(
        &self,
        req: OpenChannelRequest,
    ) -> BoxFuture<'_, MarketResult<([u8; 32], ChainChannel)>>;
    /// Signs `closeChannel` with the maker key's next nonce and capped fees and sends nothing
    /// (the close worker persists it, then broadcasts it): the signed transaction, or the
    /// node's refusal when the call reverts (it never will succeed). Any error is transient.
    fn sign_close(&self, close: ChainClose) -> BoxFuture<'_, MarketResult<CloseSigning>>;
    /// A replacement of `previous`: the same transaction and nonce with fees bumped per the
    /// transaction policy, capped; `None` when the cap leaves no room.
    fn sign_close_replacement(
        &self,
        previous: CloseTx,
    ) -> BoxFuture<'_, MarketResult<Option<CloseTx>>>;
    /// Broadcasts `tx` exactly as signed (again, if need be). Transport failures are errors.
    fn broadcast_close(&self, tx: CloseTx) -> BoxFuture<'_, MarketResult<CloseBroadcast>>;
    /// How many of the maker key's transactions are mined: a nonce below it is used for good.
    fn mined_nonce(&self) -> BoxFuture<'_, MarketResult<u64>>;
    /// When a pending close is replaced and how often (the chain's transaction policy).
    fn replacement(&self) -> Replacement;
    /// What the chain knows of the transaction `tx_hash` (receipt or pending transaction).
    fn transaction(&self, tx_hash: [u8; 32]) -> BoxFuture<'_, MarketResult<TxStatus>>;
    /// The channel lifecycle logs of `market_oid` in blocks `from_block..=to_block`
    /// (`XBRChannel.Opened`/`Closing`/`Closed`, one `eth_getLogs` call), in chain order.
    fn channel_events(
        &self,
        market_oid: MarketId,
        from_block: u64,
        to_block: u64,
    ) -> BoxFuture<'_, MarketResult<Vec<ChainChannelEvent>>>;

    // ---- market membership (issue 12: the authenticator)

    /// `member`'s actor type in `market_oid` (`XBRMarket.isActor` as provider and as consumer;
    /// both make a provider-consumer), `None` if it is no actor there.
    fn market_actor(
        &self,
        market_oid: MarketId,
        member: Address,
    ) -> BoxFuture<'_, MarketResult<Option<ActorType>>>;
}

/// A channel lifecycle log as the maker reads it from the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainChannelEvent {
    /// `Opened`: a channel to mirror if it is this maker's.
    Opened(ChainChannel),
    /// `Closing`: a non-final close started the channel's timeout.
    Closing(ChannelId),
    /// `Closed`: the channel is settled.
    Closed(ChannelId),
}

/// The market maker role: a cheap handle on the shared state, so a purchase can run in a task
/// of its own that outlives the request ([`buy`]).
pub struct MarketMaker {
    inner: Arc<MakerState>,
}

/// The market maker's state, shared by the handle and the sale tasks it spawns.
pub struct MakerState {
    cfg: MakerConfig,
    address: Address,
    store: Arc<dyn MakerStore>,
    providers: Arc<dyn Caller>,
    events: Arc<dyn Publisher>,
    chain: Option<Arc<dyn MakerChain>>,
    locks: Mutex<HashMap<ChannelId, Arc<tokio::sync::Mutex<()>>>>,
    /// How the chain's logs are scanned.
    scan: ScanConfig,
    /// One log scan at a time (the start and the periodic sync).
    scan_lock: tokio::sync::Mutex<()>,
    /// The sale tasks running now (at most [`buy::SALES_IN_FLIGHT`]).
    sale_slots: Arc<tokio::sync::Semaphore>,
    /// When recovery may try again each unresolved sale whose seller did not answer.
    sale_retries: Mutex<HashMap<TxId, buy::Backoff>>,
    /// The close worker.
    closer: closer::Closer,
    /// The registered key each member session logged in with (for `logout`).
    session_keys: authenticator::SessionKeys,
    /// First logins whose session has not joined yet.
    pending_logins: pending_logins::PendingLogins,
}

impl std::ops::Deref for MarketMaker {
    type Target = MakerState;

    fn deref(&self) -> &MakerState {
        &self.inner
    }
}

/// How many channel locks the maker keeps before it drops the ones nobody holds.
const IDLE_LOCKS_KEPT: usize = 1024;

fn channel_kind(ty: ChannelType) -> &'static str {
    match ty {
        ChannelType::Payment => "payment",
        ChannelType::Paying => "paying",
    }
}

impl MarketMaker {
    /// A maker over a store; `providers` calls sellers' `xbr.provider.*` procedures, `events`
    /// publishes the maker's events, `chain` (optional) opens/closes channels on chain.
    pub fn new(
        cfg: MakerConfig,
        store: Arc<dyn MakerStore>,
        providers: Arc<dyn Caller>,
        events: Arc<dyn Publisher>,
        chain: Option<Arc<dyn MakerChain>>,
    ) -> Self {
        let address = cfg.key.address();
        let closer = closer::Closer::new(store.clone(), chain.clone(), CloseConfig::default());
        let inner = MakerState {
            cfg,
            address,
            store,
            providers,
            events,
            chain,
            closer,
            locks: Mutex::new(HashMap::new()),
            scan: ScanConfig::default(),
            scan_lock: tokio::sync::Mutex::new(()),
            sale_slots: Arc::new(tokio::sync::Semaphore::new(buy::SALES_IN_FLIGHT)),
            sale_retries: Mutex::new(HashMap::new()),
            session_keys: authenticator::SessionKeys::default(),
            pending_logins: pending_logins::PendingLogins::default(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same maker scanning the chain's logs as `scan` says (default: [`ScanConfig::default`]).
    pub fn with_scan_config(mut self, scan: ScanConfig) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(state) => state.scan = scan,
            // Only a maker that already ran a sale task shares its state; it keeps its config.
            None => warn!("scan config not applied: the maker is in use"),
        }
        self
    }

    /// The same maker closing channels as `close` says (default: [`CloseConfig::default`]).
    pub fn with_close_config(mut self, close: CloseConfig) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(state) => {
                state.closer = closer::Closer::new(state.store.clone(), state.chain.clone(), close);
            }
            None => warn!("close config not applied: the maker is in use"),
        }
        self
    }

    /// Another handle on the same maker (for the tasks it spawns).
    fn handle(&self) -> MarketMaker {
        MarketMaker {
            inner: Arc::clone(&self.inner),
        }
    }

    /// The maker's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The signing domain.
    pub fn domain(&self) -> Domain {
        self.cfg.domain
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MakerStore> {
        &self.store
    }

    /// A store call for the sale path, run off the async workers by [`blocking`]. It yields to
    /// the scheduler first, so every store call is a point where the sale's future can be
    /// dropped (as with a slow disk), whether or not the call itself completes at once: the
    /// fault tests drop the work at each of them.
    async fn db<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn MakerStore) -> StoreResult<T> + Send + 'static,
    {
        tokio::task::yield_now().await;
        blocking(&self.store, f).await
    }

    /// The sale lock of a channel (payment before paying whenever both are taken).
    ///
    /// Channel ids come from callers, so the map is bounded: past [`IDLE_LOCKS_KEPT`] entries, a
    /// new id first drops every lock nobody holds (only the map has it). A held lock is never
    /// dropped, so everyone asking for a channel's lock while it is held gets that same lock.
    fn lock_for(&self, oid: &ChannelId) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() >= IDLE_LOCKS_KEPT && !g.contains_key(oid) {
            g.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        Arc::clone(g.entry(*oid).or_default())
    }

    async fn publish(&self, topic: &str, args: Vec<Value>) {
        if let Err(e) = self.events.publish(topic, args, Dict::new()).await {
            warn!(topic, error = %e, "event not published");
        }
    }
}

#[cfg(test)]
mod lock_tests {
    use super::testing::Fixture;
    use super::*;

    fn id(n: u32) -> ChannelId {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&n.to_be_bytes());
        ChannelId(b)
    }

    #[tokio::test]
    async fn channel_locks_stay_bounded_and_a_held_lock_is_kept() {
        let f = Fixture::new(100, 100, 1).await;
        let held = f.maker.lock_for(&id(0));
        let _guard = held.lock().await;
        for n in 1..5_000 {
            drop(f.maker.lock_for(&id(n)));
        }
        let len = f.maker.locks.lock().unwrap().len();
        assert!(len <= IDLE_LOCKS_KEPT + 1, "{len} locks kept");
        // The held lock survived every pruning: asking again gives the same, still locked, mutex.
        let again = f.maker.lock_for(&id(0));
        assert!(Arc::ptr_eq(&held, &again));
        assert!(again.try_lock().is_err());
    }
}

//! The seller delegate (the reference's `SimpleSeller`, spec §2): rotating key series per API,
//! offers placed on every rotation, `sell` and `close_channel` for the market maker.
//!
//! Persistence: every minted key is stored (wrapped under the key-encryption key) before any
//! ciphertext made with it leaves [`Seller::wrap`]; every sale is stored (with the paying
//! channel's new seq/balance, atomically) before the sealed key leaves [`Seller::sell`]. A
//! restarted seller restores its keys and resumes from the maker's view of the paying channel.
//!
//! Money path: `sell` is idempotent per (paying channel, seq), so the maker can re-send a sale
//! whose reply it lost; a refusal tells the maker the seller's (seq, balance). The paying channel
//! is re-synced with the maker ([`Seller::resync_channel`]) under the same lock as `sell`; when
//! the maker rolled back a sale the seller had recorded, adopting the maker's lower seq voids
//! that sale (it stays listed, flagged) and the seq sells again.
//!
//! Rotation event: after a new key is persisted and offered, the seller publishes
//! `xbr.provider.<provider_id>.on_key_rotated` with one dict argument
//! `{"key_id": b16, "api_id": b16, "uri": str, "price": b32, "previous": b16|null, "created": int ns,
//! "offered": bool}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::rngs::OsRng;
use tokio::task::JoinHandle;
use tracing::info;
use xbr_core::DataKey;
use xbr_core::at_rest::{Kek, unwrap_data_key};
use xbr_core::eth::EthPrivateKey;
use xbr_core::keyseries::{ArchivedKey, KeySeries, RotationPolicy};

mod clock;
mod close;
mod rotation;
mod sale;

pub use clock::{Clock, SystemClock, TokioClock};

use crate::error::{MarketError, MarketResult};
use crate::own_channel::{self, ChannelRecord};
use crate::peer::{MakerClient, ProviderProcedure, Publisher};
use crate::sig::Domain;
use crate::store::{SellerStore, blocking};
use crate::types::{Address, ApiId, KeyId, LocalChannel, SellerSale, Signature, U256};

/// Seller configuration.
pub struct SellerConfig {
    /// The market maker's address (`sell` requests must come from it).
    pub market_maker: Address,
    /// The seller delegate's key.
    pub key: EthPrivateKey,
    /// Provider id (URI component of the seller's procedures); defaults to the reference's
    /// `0x` + 128 hex public key.
    pub provider_id: Option<String>,
    /// Key-encryption key for data keys at rest.
    pub kek: Kek,
    /// Attempts to place an offer (the reference: 5).
    pub offer_attempts: u32,
    /// Pause between offer attempts (the reference: 1 s).
    pub offer_retry_delay: Duration,
    /// The wall clock rotations are timed by.
    pub clock: Arc<dyn Clock>,
}

impl SellerConfig {
    /// A configuration with the reference's retry policy.
    pub fn new(market_maker: Address, key: EthPrivateKey, kek: Kek) -> Self {
        Self {
            market_maker,
            key,
            provider_id: None,
            kek,
            offer_attempts: 5,
            offer_retry_delay: Duration::from_secs(1),
            clock: Arc::new(SystemClock),
        }
    }
}

/// One API the seller publishes (the reference's `add()` arguments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSpec {
    /// API id.
    pub api_id: ApiId,
    /// URI (prefix) the data is published under; sent as the offer URI.
    pub prefix: String,
    /// Price per key in base units (0 = free).
    pub price: U256,
    /// Rotation by interval or count.
    pub policy: RotationPolicy,
    /// Offer categories.
    pub categories: Option<BTreeMap<String, String>>,
}

struct ApiEntry {
    spec: ApiSpec,
    series: KeySeries,
}

#[derive(Default)]
struct SellerState {
    apis: HashMap<ApiId, ApiEntry>,
    /// Keys of APIs not configured in this run (still sellable).
    other_keys: HashMap<KeyId, DataKey>,
    channel: Option<LocalChannel>,
    domain: Option<Domain>,
    started: bool,
}

/// Called after a new key is persisted and its offer attempted: `(api_id, key_id, offered)`.
pub type RotationHook = Arc<dyn Fn(&ApiId, &KeyId, bool) + Send + Sync>;

/// Called after a sale is persisted.
pub type SaleHook = Arc<dyn Fn(&SellerSale) + Send + Sync>;

/// One API's key series as [`Seller::api_keys`] reports it.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    /// The API.
    pub spec: ApiSpec,
    /// The key new payloads are encrypted with, once started.
    pub current_key_id: Option<KeyId>,
    /// When the next interval rotation is due.
    pub next_rotation_at: Option<SystemTime>,
    /// Every key of the series held in memory (id, created), oldest first.
    pub keys: Vec<(KeyId, SystemTime)>,
}

struct SellerInner {
    cfg: SellerConfig,
    address: Address,
    provider_id: String,
    store: Arc<dyn SellerStore>,
    maker: MakerClient,
    events: Arc<dyn Publisher>,
    state: Mutex<SellerState>,
    sale_lock: tokio::sync::Mutex<()>,
    /// Slots for the detached sale and re-sync tasks (at most [`SELLER_TASKS`]).
    task_slots: Arc<tokio::sync::Semaphore>,
    timer: Mutex<Option<JoinHandle<()>>>,
    rotation_hook: Mutex<Option<RotationHook>>,
    sale_hook: Mutex<Option<SaleHook>>,
}

/// The seller role (cheap to clone).
#[derive(Clone)]
pub struct Seller {
    inner: Arc<SellerInner>,
}

/// The reference sends 65 random bytes as the offer signature; the maker does not verify it.
fn random_signature() -> Signature {
    use rand::RngCore;
    let mut sig = [0u8; 65];
    OsRng.fill_bytes(&mut sig);
    Signature(sig)
}

/// At most this many sale and re-sync tasks run (or wait for the sale lock) at once; past it
/// `sell` answers `xbr.error.busy`. A caller that cancels its calls cannot pile up tasks: each
/// holds its slot until it ends, whoever waits for it.
pub const SELLER_TASKS: usize = 64;

/// Runs `work` in a task of its own (holding one of `slots`) and waits for it: dropping the wait
/// leaves the work running to its end (holding the sale lock until then), so a cancelled caller
/// cannot cut a change of the paying channel between the store and the seller's view of it.
async fn detached<T: Send + 'static>(
    slots: &Arc<tokio::sync::Semaphore>,
    work: impl Future<Output = MarketResult<T>> + Send + 'static,
) -> MarketResult<T> {
    let slot = Arc::clone(slots)
        .try_acquire_owned()
        .map_err(|_| MarketError::new(crate::error::uri::BUSY, "too many seller tasks running"))?;
    tokio::spawn(async move {
        let _slot = slot;
        work.await
    })
    .await
    .map_err(|e| MarketError::runtime(format!("seller task failed: {e}")))?
}

fn system_time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

fn ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Seller {
    /// A seller calling the maker through `maker` and publishing through `events`.
    pub fn new(
        cfg: SellerConfig,
        store: Arc<dyn SellerStore>,
        maker: MakerClient,
        events: Arc<dyn Publisher>,
    ) -> Self {
        let address = cfg.key.address();
        let provider_id = cfg
            .provider_id
            .clone()
            .unwrap_or_else(|| cfg.key.provider_id());
        Self {
            inner: Arc::new(SellerInner {
                cfg,
                address,
                provider_id,
                store,
                maker,
                events,
                state: Mutex::new(SellerState::default()),
                sale_lock: tokio::sync::Mutex::new(()),
                task_slots: Arc::new(tokio::sync::Semaphore::new(SELLER_TASKS)),
                timer: Mutex::new(None),
                rotation_hook: Mutex::new(None),
                sale_hook: Mutex::new(None),
            }),
        }
    }

    /// Installs a hook called after every key rotation (metrics, logs).
    pub fn set_rotation_hook(&self, hook: RotationHook) {
        *self
            .inner
            .rotation_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Installs a hook called after every persisted sale (metrics, logs).
    pub fn set_sale_hook(&self, hook: SaleHook) {
        *self
            .inner
            .sale_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// Whether [`Seller::start`] succeeded and [`Seller::stop`] was not called since.
    pub fn is_started(&self) -> bool {
        self.state().started
    }

    /// The APIs added, in api-id order, with their key series.
    pub fn api_keys(&self) -> Vec<ApiKeys> {
        let st = self.state();
        let mut v: Vec<ApiKeys> = st
            .apis
            .values()
            .map(|e| {
                let mut keys: Vec<(KeyId, SystemTime)> =
                    e.series.keys().map(|k| (k.key_id, k.created_at)).collect();
                keys.sort_by_key(|k| k.1);
                ApiKeys {
                    spec: e.spec.clone(),
                    current_key_id: e.series.current_key_id(),
                    next_rotation_at: e.series.next_rotation_at(),
                    keys,
                }
            })
            .collect();
        v.sort_by_key(|a| a.spec.api_id);
        v
    }

    /// Now, by the configured clock.
    fn now(&self) -> SystemTime {
        self.inner.cfg.clock.now()
    }

    /// How many stored keys of the APIs added in this run the maker has not accepted an offer
    /// for yet.
    pub async fn unoffered_keys(&self) -> MarketResult<usize> {
        let keys = blocking(&self.inner.store, |s| s.seller_keys()).await?;
        let st = self.state();
        Ok(keys
            .iter()
            .filter(|k| !k.offered && st.apis.contains_key(&k.api_id))
            .count())
    }

    fn state(&self) -> MutexGuard<'_, SellerState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The seller delegate address.
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// The provider id its procedures are registered under.
    pub fn provider_id(&self) -> &str {
        &self.inner.provider_id
    }

    /// `xbr.provider.<provider_id>.<procedure>`.
    pub fn procedure_uri(&self, procedure: ProviderProcedure) -> String {
        procedure.uri(&self.inner.provider_id)
    }

    /// `xbr.provider.<provider_id>.sell`.
    pub fn sell_uri(&self) -> String {
        self.procedure_uri(ProviderProcedure::Sell)
    }

    /// `xbr.provider.<provider_id>.on_key_rotated`.
    pub fn rotation_topic(&self) -> String {
        format!("xbr.provider.{}.on_key_rotated", self.inner.provider_id)
    }

    /// The paying channel mirror (seq, balance), once started.
    pub fn channel(&self) -> Option<LocalChannel> {
        self.state().channel.clone()
    }

    /// Adds an API (before [`Seller::start`]).
    pub fn add(&self, spec: ApiSpec) -> MarketResult<()> {
        let mut st = self.state();
        if st.started {
            return Err(MarketError::invalid_argument("add: seller already started"));
        }
        if st.apis.contains_key(&spec.api_id) {
            return Err(MarketError::invalid_argument(format!(
                "add: api {} already added",
                spec.api_id
            )));
        }
        let series = KeySeries::new(spec.api_id, spec.price, spec.policy)
            .map_err(|e| MarketError::invalid_argument(format!("add: {e}")))?;
        st.apis.insert(spec.api_id, ApiEntry { spec, series });
        Ok(())
    }

    /// Starts selling: finds the active paying channel, reads the maker's config and the
    /// channel balance (settling the stored seq/balance with the maker's under the sale lock,
    /// see [`Seller::resync_channel`]), restores stored keys, mints the first key of each new
    /// series, (re-)places pending offers, and starts the rotation timer. Returns the remaining
    /// paying-channel balance. May be called again after a failure, and while selling.
    pub async fn start(&self) -> MarketResult<U256> {
        let inner = &self.inner;
        let channel = self.resync_channel().await?;

        let keys = blocking(&inner.store, |s| s.seller_keys()).await?;
        let mut unoffered = Vec::new();
        let mut rotations = Vec::new();
        {
            let mut st = self.state();
            let mut by_api: HashMap<ApiId, Vec<ArchivedKey>> = HashMap::new();
            for k in &keys {
                let key = unwrap_data_key(&inner.cfg.kek, k.key_id.as_ref(), &k.wrapped_key)
                    .map_err(|e| {
                        MarketError::runtime(format!(
                            "stored key {} cannot be unwrapped: {e}",
                            k.key_id
                        ))
                    })?;
                if st.apis.contains_key(&k.api_id) {
                    by_api.entry(k.api_id).or_default().push(ArchivedKey {
                        key_id: k.key_id,
                        key,
                        created_at: system_time(k.created),
                    });
                } else {
                    st.other_keys.insert(k.key_id, key);
                }
                if !k.offered {
                    unoffered.push(k.key_id);
                }
            }
            let now = self.now();
            for entry in st.apis.values_mut() {
                if let Some(archived) = by_api.remove(&entry.spec.api_id) {
                    entry.series = KeySeries::restore(
                        entry.spec.api_id,
                        entry.spec.price,
                        entry.spec.policy,
                        archived,
                        0,
                    )
                    .map_err(|e| MarketError::runtime(format!("restore: {e}")))?;
                    rotations.extend(entry.series.maybe_rotate(now, &mut OsRng));
                } else if entry.series.current_key_id().is_none() {
                    rotations.extend(entry.series.start(now, &mut OsRng));
                }
            }
            st.started = true;
        }
        for r in rotations {
            self.on_rotation(r).await?;
        }
        for key_id in unoffered {
            let api = self.api_of(&key_id);
            if let Some(spec) = api
                && self.place_offer(&spec, key_id).await
            {
                blocking(&inner.store, move |s| s.mark_key_offered(&key_id)).await?;
            }
        }
        self.start_timer();
        info!(provider_id = %inner.provider_id, remaining = %channel.balance, seq = channel.seq, "seller started");
        Ok(channel.balance)
    }

    /// Settles the paying channel with the maker's view (`get_paying_channel_balance`) and makes
    /// it the channel `sell` works on; returns it. Runs under the sale lock, from reading the
    /// stored state to the update, so no sale moves the channel meanwhile. Adopting a seq lower
    /// than the stored one (the maker rolled a sale back) voids the seller's sales above it.
    /// [`Seller::start`] begins with it; the runtime also runs it periodically.
    /// Runs in a task of its own, like `sell`: a dropped caller never leaves the store adopted
    /// and the seller's view not.
    pub async fn resync_channel(&self) -> MarketResult<LocalChannel> {
        let seller = self.clone();
        detached(&self.inner.task_slots, async move {
            let inner = &seller.inner;
            let _sale = inner.sale_lock.lock().await;
            let record = ChannelRecord::paying();
            let (channel, domain) =
                own_channel::adopt(&inner.maker, &inner.address, &inner.store, record).await?;
            let mut st = seller.state();
            st.channel = Some(channel.clone());
            st.domain = Some(domain);
            Ok(channel)
        })
        .await
    }

    /// Stops the rotation timer; `sell` keeps answering for stored keys.
    pub fn stop(&self) {
        if let Some(t) = self
            .inner
            .timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
        self.state().started = false;
    }

    fn api_of(&self, key_id: &KeyId) -> Option<ApiSpec> {
        let st = self.state();
        st.apis
            .values()
            .find(|e| e.series.contains(key_id))
            .map(|e| e.spec.clone())
    }

    fn key(&self, key_id: &KeyId) -> Option<DataKey> {
        let st = self.state();
        st.apis
            .values()
            .find_map(|e| e.series.key(key_id).cloned())
            .or_else(|| st.other_keys.get(key_id).cloned())
    }
}

#[cfg(test)]
mod task_tests {
    use super::*;

    #[tokio::test]
    async fn detached_work_holds_its_slot_until_it_ends_and_is_busy_past_the_bound() {
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = gate.clone();
        // The caller stops waiting at once; the work goes on holding the only slot.
        let wait = detached(&slots, async move {
            g.notified().await;
            Ok(7)
        });
        assert!(tokio::time::timeout(Duration::ZERO, wait).await.is_err());
        let e = detached(&slots, async { Ok(1) }).await.unwrap_err();
        assert_eq!(e.uri, crate::error::uri::BUSY);
        gate.notify_one();
        let _ = slots.acquire().await.unwrap();
        assert_eq!(detached(&slots, async { Ok(2) }).await.unwrap(), 2);
    }
}

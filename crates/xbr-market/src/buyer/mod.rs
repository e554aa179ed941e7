//! The buyer delegate (the reference's `SimpleBuyer`, spec §3): decrypts payloads, buying
//! unknown keys on demand over its payment channel.
//!
//! Fixes over the reference: concurrent unwraps of one new key share ONE purchase (waiting on a
//! notification, not polling); purchases on the channel are serialized so every purchase signs
//! the right seq; a failed purchase is reported to every waiter; free keys can be bought; bought
//! keys (wrapped under the key-encryption key) and the channel's seq/balance are persisted before
//! the key is used, so a restarted buyer decrypts old data without buying again.
//!
//! The money path survives crashes and lost replies: the X25519 receive key is persisted, and
//! every purchase is a persisted intent sent again, identically, until the maker answers for
//! good. A bought key that does not open the ciphertext it was bought for is kept (it was paid
//! for) but unverified, and never bought again.
//!
//! | Module | Owns |
//! |---|---|
//! | this one | [`Buyer`]: start, unwrap, the shared per-key purchase slots, the receive key |
//! | `purchase` | one purchase: quote, allow-list, price and balance checks, the signed intent |
//! | `intent` | sending an intent and settling its outcome (bought, refused, unknown) |
//! | `failed` | key ids whose purchase failed, remembered for a while |
//! | `allow` | [`AllowList`]: the sellers and APIs the buyer buys from |
//! | `close` | closing the payment channel |

mod allow;
mod close;
mod failed;
mod intent;
mod purchase;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rand::rngs::OsRng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tracing::{Instrument, info, info_span};
use wamp_proto::{Serializer, Value};
use xbr_core::DataKey;
use xbr_core::at_rest::{self, Kek, unwrap_data_key};
use xbr_core::eth::EthPrivateKey;
use xbr_core::payload;
use xbr_core::sealedbox::BuyerReceiveKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::own_channel::{self, ChannelRecord};
use crate::peer::MakerClient;
use crate::sig::Domain;
use crate::store::{BuyerStore, blocking};
use crate::types::{Address, INTENT_CIPHERTEXT_MAX, KeyId, LocalChannel, Purchase, U256};

pub use allow::AllowList;
use failed::FailedKeys;

/// Distinct keys bought at once. An event under yet another unknown key is not decrypted (its
/// unwrap fails with `xbr.error.busy`, nothing is bought, [`Buyer::purchases_shed`] counts it):
/// whoever publishes on the realm cannot make the buyer start purchases without bound.
pub const PURCHASES_IN_FLIGHT: usize = 8;

/// Buyer configuration.
pub struct BuyerConfig {
    /// The market maker's address (receipts must be signed by it).
    pub market_maker: Address,
    /// The buyer delegate's key.
    pub key: EthPrivateKey,
    /// Highest price paid for one key, in base units.
    pub max_price: U256,
    /// Key-encryption key for bought keys and the receive key at rest.
    pub kek: Kek,
    /// Close the payment channel when it cannot pay for the next key (after at least one
    /// purchase), as the reference does.
    pub auto_close: bool,
    /// The sellers and APIs bought from, checked against the quote before any intent is
    /// written ([`AllowList::default`]: any).
    pub allow: AllowList,
}

/// A key the buyer paid for, and whether a ciphertext opened with it. `key` is `None` when the
/// maker's receipt carried a sealed key that does not open (paid, not delivered).
#[derive(Clone)]
struct Held {
    key: Option<DataKey>,
    verified: bool,
}

type Outcome = Option<Result<Held, MarketError>>;

enum Slot {
    Ready(Held),
    Pending(watch::Receiver<Outcome>),
}

/// The payment channel as the buyer trades on it.
struct Active {
    channel: LocalChannel,
    domain: Domain,
    closed: bool,
}

/// Called after a purchase is persisted.
pub type PurchaseHook = Arc<dyn Fn(&Purchase) + Send + Sync>;

/// Called when a purchase started for a data event ends with the key in hand, with how long it
/// took from the first event under the key (metrics).
pub type PurchaseTimer = Arc<dyn Fn(std::time::Duration) + Send + Sync>;

/// The associated data binding the wrapped receive key to its use.
const RECEIVE_KEY_AAD: &[u8] = b"xbr.buyer.receive_key";

struct BuyerInner {
    cfg: BuyerConfig,
    address: Address,
    /// Loaded (or created) from the store by [`Buyer::start`].
    receive_key: OnceLock<BuyerReceiveKey>,
    store: Arc<dyn BuyerStore>,
    maker: MakerClient,
    keys: Mutex<HashMap<KeyId, Slot>>,
    /// The payment channel; held for the whole of a purchase (one purchase in flight): the
    /// buyer's sale lock.
    active: tokio::sync::Mutex<Option<Active>>,
    purchase_hook: Mutex<Option<PurchaseHook>>,
    failed: Mutex<FailedKeys>,
    /// [`PURCHASES_IN_FLIGHT`] slots; a purchase task holds one until it ends.
    purchase_slots: Arc<Semaphore>,
    /// Purchases not started because every slot was taken.
    purchases_shed: Arc<AtomicU64>,
    purchase_timer: Mutex<Option<PurchaseTimer>>,
}

/// The buyer role (cheap to clone).
#[derive(Clone)]
pub struct Buyer {
    inner: Arc<BuyerInner>,
}

/// Removes a pending slot if the purchase task ends without reporting (e.g. it panicked).
struct PendingGuard {
    inner: Arc<BuyerInner>,
    key_id: KeyId,
    tx: watch::Sender<Outcome>,
    /// The purchase's slot, released when the task ends.
    _slot: OwnedSemaphorePermit,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.tx.borrow().is_none() {
            clear_pending(&self.inner, &self.key_id);
            let _ = self
                .tx
                .send(Some(Err(MarketError::runtime("purchase aborted"))));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock_keys(inner: &BuyerInner) -> MutexGuard<'_, HashMap<KeyId, Slot>> {
    lock(&inner.keys)
}

/// Forgets a key's pending purchase (a key restored meanwhile stays).
fn clear_pending(inner: &BuyerInner, key_id: &KeyId) {
    let mut keys = lock_keys(inner);
    if matches!(keys.get(key_id), Some(Slot::Pending(_))) {
        keys.remove(key_id);
    }
}

impl Buyer {
    /// A buyer calling the maker through `maker`. Its X25519 receive key is read from the store
    /// (created there on the first start) by [`Buyer::start`].
    pub fn new(cfg: BuyerConfig, store: Arc<dyn BuyerStore>, maker: MakerClient) -> Self {
        let address = cfg.key.address();
        Self {
            inner: Arc::new(BuyerInner {
                cfg,
                address,
                receive_key: OnceLock::new(),
                store,
                maker,
                keys: Mutex::new(HashMap::new()),
                active: tokio::sync::Mutex::new(None),
                purchase_hook: Mutex::new(None),
                failed: Mutex::new(FailedKeys::default()),
                purchase_slots: Arc::new(Semaphore::new(PURCHASES_IN_FLIGHT)),
                purchases_shed: Arc::default(),
                purchase_timer: Mutex::new(None),
            }),
        }
    }

    /// Installs a hook called after every persisted purchase (metrics, logs).
    pub fn set_purchase_hook(&self, hook: PurchaseHook) {
        *lock(&self.inner.purchase_hook) = Some(hook);
    }

    /// Installs a hook called with the duration of every purchase that ends with the key in
    /// hand (metrics).
    pub fn set_purchase_timer(&self, timer: PurchaseTimer) {
        *lock(&self.inner.purchase_timer) = Some(timer);
    }

    /// The buyer delegate address.
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// Purchases not started because [`PURCHASES_IN_FLIGHT`] were running (since creation).
    pub fn purchases_shed(&self) -> u64 {
        self.inner.purchases_shed.load(Ordering::Relaxed)
    }

    /// The count behind [`Buyer::purchases_shed`], for readers (metrics) that must not keep the
    /// buyer, and so its store, alive.
    pub fn purchases_shed_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.inner.purchases_shed)
    }

    /// The X25519 public key keys are sealed to (`None` before the first [`Buyer::start`]).
    pub fn buyer_pubkey(&self) -> Option<[u8; 32]> {
        self.inner.receive_key.get().map(BuyerReceiveKey::public)
    }

    /// The payment channel mirror, once started.
    pub async fn channel(&self) -> Option<LocalChannel> {
        self.inner
            .active
            .lock()
            .await
            .as_ref()
            .map(|a| a.channel.clone())
    }

    /// Number of keys held (bought now or restored; a key paid for and not delivered is not).
    pub fn key_count(&self) -> usize {
        lock_keys(&self.inner)
            .values()
            .filter(|s| matches!(s, Slot::Ready(h) if h.key.is_some()))
            .count()
    }

    /// Starts buying: loads the receive key and the bought keys, sends a pending purchase intent
    /// again (an answer still unknown fails the start), then reads the maker's config, the
    /// active payment channel and its balance (settling the stored seq/balance with the
    /// maker's). Returns the remaining balance. May be called again after a failure.
    pub async fn start(&self) -> MarketResult<U256> {
        let inner = &self.inner;
        // The sale lock: no purchase runs while the channel is settled.
        let mut active = inner.active.lock().await;
        self.load_receive_key().await?;
        let restored = self.restore_keys().await?;
        self.resume_intent().await?;
        let record = ChannelRecord::payment();
        let (channel, domain) =
            own_channel::adopt(&inner.maker, &inner.address, &inner.store, record).await?;
        *active = Some(Active {
            channel: channel.clone(),
            domain,
            closed: false,
        });
        info!(remaining = %channel.balance, seq = channel.seq, keys = restored, "buyer started");
        Ok(channel.balance)
    }

    /// The receive key from the store, wrapped under the KEK; a new one stored on first use.
    async fn load_receive_key(&self) -> MarketResult<()> {
        let inner = &self.inner;
        if inner.receive_key.get().is_some() {
            return Ok(());
        }
        let fresh = BuyerReceiveKey::generate(&mut OsRng);
        let wrapped = at_rest::encrypt(
            &inner.cfg.kek,
            RECEIVE_KEY_AAD,
            fresh.to_bytes().as_ref(),
            &mut OsRng,
        );
        let stored = blocking(&inner.store, move |s| s.init_buyer_receive_key(&wrapped)).await?;
        let bytes = at_rest::decrypt(&inner.cfg.kek, RECEIVE_KEY_AAD, &stored)
            .map_err(|e| MarketError::runtime(format!("stored receive key: {e}")))?;
        let secret: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MarketError::runtime("stored receive key is not 32 bytes"))?;
        let _ = inner.receive_key.set(BuyerReceiveKey::from_bytes(secret));
        Ok(())
    }

    fn receive_key(&self) -> MarketResult<&BuyerReceiveKey> {
        self.inner
            .receive_key
            .get()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "buyer not started"))
    }

    /// Puts every bought key in memory; returns how many.
    async fn restore_keys(&self) -> MarketResult<usize> {
        let inner = &self.inner;
        let purchases = blocking(&inner.store, |s| s.purchases()).await?;
        let mut keys = lock_keys(inner);
        for p in &purchases {
            keys.insert(p.key_id, Slot::Ready(self.held(p)?));
        }
        Ok(purchases.len())
    }

    /// A stored purchase's key, unwrapped (an empty wrapped key: paid, not delivered).
    fn held(&self, p: &Purchase) -> MarketResult<Held> {
        let key = (!p.wrapped_key.is_empty())
            .then(|| unwrap_data_key(&self.inner.cfg.kek, p.key_id.as_ref(), &p.wrapped_key))
            .transpose()
            .map_err(|e| {
                MarketError::runtime(format!("stored key {} cannot be unwrapped: {e}", p.key_id))
            })?;
        Ok(Held {
            key,
            verified: p.verified,
        })
    }

    /// Decrypts `(key_id, enc_ser, ciphertext)` to the application payload, buying the key if it
    /// is not held yet.
    pub async fn unwrap(
        &self,
        key_id: &KeyId,
        enc_ser: &str,
        ciphertext: &[u8],
    ) -> MarketResult<Value> {
        let plain = self.unwrap_cbor(key_id, enc_ser, ciphertext).await?;
        Serializer::Cbor.decode_value(&plain).map_err(|e| {
            MarketError::new(
                uri::DESERIALIZATION_FAILED,
                format!("payload is not CBOR: {e}"),
            )
        })
    }

    /// Like [`Buyer::unwrap`] returning the CBOR plaintext. A key bought unverified (it did not
    /// open the ciphertext it was bought for) is marked verified by the first ciphertext it
    /// opens.
    pub async fn unwrap_cbor(
        &self,
        key_id: &KeyId,
        enc_ser: &str,
        ciphertext: &[u8],
    ) -> MarketResult<Vec<u8>> {
        if enc_ser != "cbor" {
            return Err(MarketError::invalid_argument(format!(
                "unwrap: unsupported serializer '{enc_ser}'"
            )));
        }
        let held = self.key_for(key_id, ciphertext).await?;
        let key = held.key.as_ref().ok_or_else(|| {
            MarketError::new(
                uri::DECRYPTION_FAILED,
                "key paid for but not delivered (its sealed key does not open)",
            )
        })?;
        let plain = payload::open(key, ciphertext)
            .map_err(|e| MarketError::new(uri::DECRYPTION_FAILED, format!("payload: {e}")))?;
        if !held.verified {
            self.mark_verified(*key_id).await?;
        }
        Ok(plain)
    }

    async fn mark_verified(&self, key_id: KeyId) -> MarketResult<()> {
        blocking(&self.inner.store, move |s| {
            s.mark_purchase_verified(&key_id)
        })
        .await?;
        if let Some(Slot::Ready(h)) = lock_keys(&self.inner).get_mut(&key_id) {
            h.verified = true;
        }
        info!(key_id = %key_id, "bought key opened a ciphertext: verified");
        Ok(())
    }

    /// The key, from memory or bought (one purchase shared by all concurrent callers; the first
    /// caller's ciphertext is the one the bought key is checked against).
    async fn key_for(&self, key_id: &KeyId, ciphertext: &[u8]) -> MarketResult<Held> {
        let mut rx = {
            let mut keys = lock_keys(&self.inner);
            match keys.get(key_id) {
                Some(Slot::Ready(k)) => return Ok(k.clone()),
                Some(Slot::Pending(rx)) => rx.clone(),
                None => {
                    if let Some(e) = lock(&self.inner.failed).get(key_id, Instant::now()) {
                        return Err(e);
                    }
                    let slot = self.purchase_slot()?;
                    let (tx, rx) = watch::channel(None);
                    keys.insert(*key_id, Slot::Pending(rx.clone()));
                    let guard = PendingGuard {
                        inner: Arc::clone(&self.inner),
                        key_id: *key_id,
                        tx,
                        _slot: slot,
                    };
                    let in_hand =
                        (ciphertext.len() <= INTENT_CIPHERTEXT_MAX).then(|| ciphertext.to_vec());
                    self.spawn_purchase(*key_id, in_hand, guard);
                    rx
                }
            }
        };
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| MarketError::runtime("purchase aborted"))?
            .clone();
        outcome.unwrap_or_else(|| Err(MarketError::runtime("purchase aborted")))
    }

    /// A free purchase slot, or `xbr.error.busy` (counted) when [`PURCHASES_IN_FLIGHT`] are
    /// running.
    fn purchase_slot(&self) -> MarketResult<OwnedSemaphorePermit> {
        Arc::clone(&self.inner.purchase_slots)
            .try_acquire_owned()
            .map_err(|_| {
                self.inner.purchases_shed.fetch_add(1, Ordering::Relaxed);
                MarketError::new(
                    uri::BUSY,
                    format!(
                        "{PURCHASES_IN_FLIGHT} purchases in flight; this key is not bought now"
                    ),
                )
            })
    }

    /// Buys `key_id` in a task of its own: the purchase completes (and is persisted) even if the
    /// caller that started it goes away. Reports to every waiter through `guard`.
    fn spawn_purchase(&self, key_id: KeyId, in_hand: Option<Vec<u8>>, guard: PendingGuard) {
        let buyer = self.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let span = info_span!("purchase", key_id = %key_id);
            let result = buyer.purchase(key_id, in_hand).instrument(span).await;
            match &result {
                Ok(held) => {
                    lock_keys(&buyer.inner).insert(key_id, Slot::Ready(held.clone()));
                    let timer = lock(&buyer.inner.purchase_timer).clone();
                    if let Some(timer) = timer {
                        timer(started.elapsed());
                    }
                }
                Err(e) => {
                    if failed::remembered(e) {
                        lock(&buyer.inner.failed).insert(key_id, e.clone(), Instant::now());
                    }
                    clear_pending(&buyer.inner, &key_id);
                }
            }
            let _ = guard.tx.send(Some(result));
        });
    }
}

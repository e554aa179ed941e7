//! The seller delegate (the reference's `SimpleSeller`, spec §2): rotating key series per API,
//! offers placed on every rotation, `sell` and `close_channel` for the market maker.
//!
//! Persistence: every minted key is stored (wrapped under the key-encryption key) before any
//! ciphertext made with it leaves [`Seller::wrap`]; every sale is stored (with the paying
//! channel's new seq/balance, atomically) before the sealed key leaves [`Seller::sell`]. A
//! restarted seller restores its keys and resumes from the maker's view of the paying channel.
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
use tracing::{Instrument, debug, info, info_span, warn};
use wamp_proto::{Dict, Serializer, Value};
use xbr_core::at_rest::{Kek, unwrap_data_key, wrap_data_key};
use xbr_core::eth::EthPrivateKey;
use xbr_core::keyseries::{ArchivedKey, KeySeries, Rotation, RotationPolicy};
use xbr_core::{DataKey, KeyId};

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{MakerClient, Publisher, now_ns};
use crate::sig::{self, ChannelState as SignedState, Domain};
use crate::store::{SellerStore, blocking};
use crate::types::{Address, ChannelType, Hex, LocalChannel, Oid, SellerKey, SellerSale, U256};
use crate::wire::{
    self, PlaceOfferRequest, ProviderCloseReceipt, ProviderCloseRequest, SellReceipt, SellRequest,
};

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
        }
    }
}

/// One API the seller publishes (the reference's `add()` arguments).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiSpec {
    /// API id.
    pub api_id: Oid,
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
    apis: HashMap<Oid, ApiEntry>,
    /// Keys of APIs not configured in this run (still sellable).
    other_keys: HashMap<Oid, DataKey>,
    channel: Option<LocalChannel>,
    domain: Option<Domain>,
    started: bool,
}

/// Called after a new key is persisted and its offer attempted: `(api_id, key_id, offered)`.
pub type RotationHook = Arc<dyn Fn(&Oid, &Oid, bool) + Send + Sync>;

/// Called after a sale is persisted.
pub type SaleHook = Arc<dyn Fn(&SellerSale) + Send + Sync>;

/// One API's key series as [`Seller::api_keys`] reports it.
#[derive(Clone, Debug)]
pub struct ApiKeys {
    /// The API.
    pub spec: ApiSpec,
    /// The key new payloads are encrypted with, once started.
    pub current_key_id: Option<Oid>,
    /// When the next interval rotation is due.
    pub next_rotation_at: Option<SystemTime>,
    /// Every key of the series held in memory (id, created), oldest first.
    pub keys: Vec<(Oid, SystemTime)>,
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
fn random_signature() -> Vec<u8> {
    use rand::RngCore;
    let mut sig = vec![0u8; 65];
    OsRng.fill_bytes(&mut sig);
    sig
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
                let mut keys: Vec<(Oid, SystemTime)> = e
                    .series
                    .keys()
                    .map(|k| (k.key_id.0, k.created_at))
                    .collect();
                keys.sort_by_key(|k| k.1);
                ApiKeys {
                    spec: e.spec.clone(),
                    current_key_id: e.series.current_key_id().map(|k| k.0),
                    next_rotation_at: e.series.next_rotation_at(),
                    keys,
                }
            })
            .collect();
        v.sort_by_key(|a| a.spec.api_id);
        v
    }

    /// Rotates the key of `api_id` now: the new key is persisted, offered and announced like a
    /// scheduled rotation. Returns the new key id.
    pub async fn rotate_now(&self, api_id: &Oid) -> MarketResult<Oid> {
        let r = {
            let mut st = self.state();
            if !st.started {
                return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
            }
            let entry = st.apis.get_mut(api_id).ok_or_else(|| {
                MarketError::no_such_object(format!("no such api {}", Hex(api_id)))
            })?;
            entry.series.rotate(SystemTime::now(), &mut OsRng)
        };
        let key_id = r.key_id.0;
        self.on_rotation(r).await?;
        Ok(key_id)
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

    /// `xbr.provider.<provider_id>.sell`.
    pub fn sell_uri(&self) -> String {
        format!("xbr.provider.{}.sell", self.inner.provider_id)
    }

    /// `xbr.provider.<provider_id>.close_channel`.
    pub fn close_channel_uri(&self) -> String {
        format!("xbr.provider.{}.close_channel", self.inner.provider_id)
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
                Hex(&spec.api_id)
            )));
        }
        let series = KeySeries::new(spec.api_id, spec.price, spec.policy)
            .map_err(|e| MarketError::invalid_argument(format!("add: {e}")))?;
        st.apis.insert(spec.api_id, ApiEntry { spec, series });
        Ok(())
    }

    /// Starts selling: finds the active paying channel, reads the maker's config and the
    /// channel balance (adopting the maker's seq/balance into the store), restores stored keys,
    /// mints the first key of each new series, (re-)places pending offers, and starts the
    /// rotation timer. Returns the remaining paying-channel balance. May be called again after
    /// a failure.
    pub async fn start(&self) -> MarketResult<U256> {
        let inner = &self.inner;
        let ch = inner
            .maker
            .get_active_channel(ChannelType::Paying, &inner.address)
            .await?
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "no active paying channel found"))?;
        let config = inner.maker.get_config().await?;
        let domain = Domain {
            chain_id: config.verifying_chain_id,
            verifying_contract: config.verifying_contract,
        };
        let bal = inner
            .maker
            .get_balance(ChannelType::Paying, &ch.channel_oid)
            .await?;
        if bal.remaining.is_zero() {
            return Err(MarketError::new(
                uri::NOT_STARTED,
                "no off-chain balance remaining on paying channel",
            ));
        }
        let channel = LocalChannel {
            channel_oid: ch.channel_oid,
            market_oid: ch.market_oid,
            seq: bal.seq,
            balance: bal.remaining,
        };
        let stored = blocking(&inner.store, |s| s.seller_channel()).await?;
        if let Some(st) = stored
            .as_ref()
            .filter(|s| s.channel_oid == channel.channel_oid)
            && (st.seq != channel.seq || st.balance != channel.balance)
        {
            warn!(
                stored_seq = st.seq,
                maker_seq = channel.seq,
                "paying channel state differs from the maker's; adopting the maker's"
            );
        }
        let c2 = channel.clone();
        blocking(&inner.store, move |s| s.set_seller_channel(&c2)).await?;

        let keys = blocking(&inner.store, |s| s.seller_keys()).await?;
        let mut unoffered = Vec::new();
        let mut rotations = Vec::new();
        {
            let mut st = self.state();
            let mut by_api: HashMap<Oid, Vec<ArchivedKey>> = HashMap::new();
            for k in &keys {
                let key =
                    unwrap_data_key(&inner.cfg.kek, &k.key_id, &k.wrapped_key).map_err(|e| {
                        MarketError::runtime(format!(
                            "stored key {} cannot be unwrapped: {e}",
                            Hex(&k.key_id)
                        ))
                    })?;
                if st.apis.contains_key(&k.api_id) {
                    by_api.entry(k.api_id).or_default().push(ArchivedKey {
                        key_id: KeyId(k.key_id),
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
            let now = SystemTime::now();
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
            st.channel = Some(channel.clone());
            st.domain = Some(domain);
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

    fn api_of(&self, key_id: &Oid) -> Option<ApiSpec> {
        let st = self.state();
        st.apis
            .values()
            .find(|e| e.series.contains(&KeyId(*key_id)))
            .map(|e| e.spec.clone())
    }

    fn start_timer(&self) {
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            loop {
                let next = {
                    let Some(inner) = weak.upgrade() else { return };
                    let st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.apis
                        .values()
                        .filter_map(|e| e.series.next_rotation_at())
                        .min()
                };
                let Some(next) = next else { return };
                let wait = next.duration_since(SystemTime::now()).unwrap_or_default();
                tokio::time::sleep(wait).await;
                let Some(inner) = weak.upgrade() else { return };
                let seller = Seller { inner };
                let rotations: Vec<Rotation> = {
                    let mut st = seller.state();
                    let now = SystemTime::now();
                    st.apis
                        .values_mut()
                        .filter_map(|e| e.series.maybe_rotate(now, &mut OsRng))
                        .collect()
                };
                for r in rotations {
                    if let Err(e) = seller.on_rotation(r).await {
                        warn!(error = %e, "rotation handling failed");
                    }
                }
            }
        });
        if let Some(old) = self
            .inner
            .timer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task)
        {
            old.abort();
        }
    }

    /// Persists a new key, places its offer (with retries) and publishes the rotation event.
    async fn on_rotation(&self, r: Rotation) -> MarketResult<()> {
        let inner = &self.inner;
        let key_id = r.key_id.0;
        let (spec, wrapped) = {
            let st = self.state();
            let entry = st
                .apis
                .get(&r.api_id)
                .ok_or_else(|| MarketError::runtime("rotation of an unknown api"))?;
            let key = entry
                .series
                .key(&r.key_id)
                .ok_or_else(|| MarketError::runtime("rotated key not archived"))?;
            (
                entry.spec.clone(),
                wrap_data_key(&inner.cfg.kek, &key_id, key, &mut OsRng),
            )
        };
        let record = SellerKey {
            key_id,
            api_id: r.api_id,
            created: ns(r.created_at),
            wrapped_key: wrapped,
            offered: false,
        };
        blocking(&inner.store, move |s| s.put_seller_key(&record)).await?;
        let offered = self.place_offer(&spec, key_id).await;
        if offered {
            blocking(&inner.store, move |s| s.mark_key_offered(&key_id)).await?;
        }
        let mut d = Dict::new();
        d.insert("key_id".into(), wire::v_bytes(&key_id));
        d.insert("api_id".into(), wire::v_bytes(&r.api_id));
        d.insert("uri".into(), Value::from(spec.prefix.as_str()));
        d.insert("price".into(), wire::v_u256_bytes(&spec.price));
        d.insert(
            "previous".into(),
            r.previous
                .map(|p| wire::v_bytes(&p.0))
                .unwrap_or(Value::Null),
        );
        d.insert("created".into(), Value::from(ns(r.created_at)));
        d.insert("offered".into(), Value::Bool(offered));
        if let Err(e) = inner
            .events
            .publish(&self.rotation_topic(), vec![Value::Dict(d)], Dict::new())
            .await
        {
            warn!(error = %e, "rotation event not published");
        }
        debug!(key_id = %Hex(&key_id), offered, "key rotated");
        let hook = inner
            .rotation_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(&r.api_id, &key_id, offered);
        }
        Ok(())
    }

    /// Places the offer of a key; `true` if the maker accepted it. Retries like the reference:
    /// on `wamp.error.no_such_procedure` and on transport failures, up to `offer_attempts`.
    async fn place_offer(&self, spec: &ApiSpec, key_id: Oid) -> bool {
        let inner = &self.inner;
        let req = PlaceOfferRequest {
            key_id,
            api_id: spec.api_id,
            uri: spec.prefix.clone(),
            valid_from: now_ns().saturating_sub(10_000_000_000),
            delegate: inner.address,
            signature: random_signature(),
            price: Some(spec.price),
            categories: spec.categories.clone(),
            expires: None,
            copies: None,
            provider_id: Some(inner.provider_id.clone()),
        };
        for attempt in 1..=inner.cfg.offer_attempts.max(1) {
            match inner.maker.place_offer(&req).await {
                Ok(_) => return true,
                Err(e)
                    if e.is(uri::NO_SUCH_PROCEDURE) || e.uri.starts_with("xbr.error.transport") =>
                {
                    warn!(attempt, error = %e, "place_offer failed, retrying");
                    tokio::time::sleep(inner.cfg.offer_retry_delay).await;
                }
                Err(e) => {
                    warn!(error = %e, "place_offer rejected");
                    return false;
                }
            }
        }
        false
    }

    /// Encrypts a payload for `api_id`: CBOR, then XSalsa20-Poly1305 under the current key.
    /// Returns `(key_id, "cbor", ciphertext)`. A rotation caused by this call is persisted and
    /// offered before the ciphertext is returned.
    pub async fn wrap(
        &self,
        api_id: &Oid,
        uri: &str,
        payload: &Value,
    ) -> MarketResult<(Oid, &'static str, Vec<u8>)> {
        let cbor = Serializer::Cbor.encode_value(payload).map_err(|e| {
            MarketError::invalid_argument(format!("wrap: payload cannot be CBOR-encoded: {e}"))
        })?;
        self.wrap_cbor(api_id, uri, &cbor).await
    }

    /// Like [`Seller::wrap`] with an already CBOR-encoded payload.
    pub async fn wrap_cbor(
        &self,
        api_id: &Oid,
        _uri: &str,
        cbor: &[u8],
    ) -> MarketResult<(Oid, &'static str, Vec<u8>)> {
        let wrapped = {
            let mut st = self.state();
            if !st.started {
                return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
            }
            let entry = st.apis.get_mut(api_id).ok_or_else(|| {
                MarketError::invalid_argument(format!("wrap: unknown api {}", Hex(api_id)))
            })?;
            // Nonces from the thread-local CSPRNG (seeded from the OS): no system call per event.
            entry
                .series
                .encrypt_cbor(cbor, SystemTime::now(), &mut rand::thread_rng())
                .map_err(|e| MarketError::runtime(format!("wrap: {e}")))?
        };
        if let Some(r) = wrapped.rotation {
            self.on_rotation(r).await?;
        }
        Ok((wrapped.key_id.0, wrapped.enc_ser, wrapped.ciphertext))
    }

    fn key(&self, key_id: &Oid) -> Option<DataKey> {
        let st = self.state();
        st.apis
            .values()
            .find_map(|e| e.series.key(&KeyId(*key_id)).cloned())
            .or_else(|| st.other_keys.get(key_id).cloned())
    }

    /// `xbr.provider.<id>.sell` (spec §2.4): checks, in the reference's order, the maker address,
    /// the key, the channel, seq, balance and the maker's signature; then seals the key to the
    /// buyer, signs the new paying-channel state and persists the sale before returning.
    pub async fn sell(&self, req: SellRequest) -> MarketResult<SellReceipt> {
        let span = info_span!("sell", key_id = %Hex(&req.key_id), seq = req.channel_seq);
        self.sell_inner(req).instrument(span).await
    }

    async fn sell_inner(&self, req: SellRequest) -> MarketResult<SellReceipt> {
        let inner = &self.inner;
        if req.market_maker_adr != inner.cfg.market_maker {
            return Err(MarketError::new(
                uri::UNEXPECTED_MARKETMAKER_ADR,
                "unexpected market maker address",
            ));
        }
        let key = self.key(&req.key_id).ok_or_else(|| {
            MarketError::no_such_object(format!("no such key {}", Hex(&req.key_id)))
        })?;
        let _sale = inner.sale_lock.lock().await;
        let (channel, domain) = {
            let st = self.state();
            (st.channel.clone(), st.domain)
        };
        let (Some(channel), Some(domain)) = (channel, domain) else {
            return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
        };
        if req.channel_oid != channel.channel_oid {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_OID,
                "not the seller's active paying channel",
            ));
        }
        if req.channel_seq != channel.seq + 1 {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                format!(
                    "channel seq {} does not follow {}",
                    req.channel_seq, channel.seq
                ),
            ));
        }
        if channel.balance.checked_sub(req.amount) != Some(req.balance) {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "balance is not remaining minus amount",
            ));
        }
        // XBRSIG 4.
        let state = sig::off_chain(
            channel.market_oid,
            channel.channel_oid,
            req.channel_seq,
            req.balance,
        );
        domain.verify(
            &state,
            &req.signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        // XBRSIG 5.
        let signature = domain.sign(&inner.cfg.key, &state)?;
        let sealed_key =
            xbr_core::sealedbox::seal(key.as_bytes(), &req.buyer_pubkey, &mut OsRng).to_vec();
        let sale = SellerSale {
            channel_oid: channel.channel_oid,
            seq: req.channel_seq,
            created: now_ns(),
            key_id: req.key_id,
            buyer_pubkey: req.buyer_pubkey,
            amount: req.amount,
            balance: req.balance,
            maker_signature: req.signature.clone(),
            seller_signature: signature.clone(),
        };
        let recorded = sale.clone();
        blocking(&inner.store, move |s| s.record_sale(&sale)).await?;
        let hook = inner
            .sale_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(&recorded);
        }
        {
            let mut st = self.state();
            if let Some(c) = st.channel.as_mut() {
                c.seq = req.channel_seq;
                c.balance = req.balance;
            }
        }
        Ok(SellReceipt {
            key_id: req.key_id,
            delegate: inner.address,
            buyer_pubkey: req.buyer_pubkey,
            sealed_key,
            channel_seq: req.channel_seq,
            amount: req.amount,
            balance: req.balance,
            signature,
        })
    }

    /// `xbr.provider.<id>.close_channel` (spec §2.5, working): checks the maker, channel, current
    /// seq and balance, verifies the maker's close signature and counter-signs it.
    pub async fn close_channel(
        &self,
        req: ProviderCloseRequest,
    ) -> MarketResult<ProviderCloseReceipt> {
        let inner = &self.inner;
        if req.market_maker_adr != inner.cfg.market_maker {
            return Err(MarketError::new(
                uri::UNEXPECTED_DELEGATE_ADR,
                "unexpected market maker address",
            ));
        }
        let _sale = inner.sale_lock.lock().await;
        let (channel, domain) = {
            let st = self.state();
            (st.channel.clone(), st.domain)
        };
        let (Some(channel), Some(domain)) = (channel, domain) else {
            return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
        };
        if req.channel_oid != channel.channel_oid {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_OID,
                "not the seller's active paying channel",
            ));
        }
        if req.channel_seq != channel.seq {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                "close seq is not the current seq",
            ));
        }
        if req.channel_balance != channel.balance {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "close balance is not the current balance",
            ));
        }
        let state = SignedState {
            close_at: req.close_at,
            market_oid: channel.market_oid,
            channel_oid: channel.channel_oid,
            seq: req.channel_seq,
            balance: req.channel_balance,
            is_final: req.channel_is_final,
        };
        domain.verify(
            &state,
            &req.marketmaker_signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        let signature = domain.sign(&inner.cfg.key, &state)?;
        Ok(ProviderCloseReceipt {
            delegate: inner.address,
            seq: req.channel_seq,
            balance: req.channel_balance,
            is_final: req.channel_is_final,
            signature,
        })
    }

    /// Handles `xbr.provider.<id>.<name>` with WAMP payloads (`sell` or `close_channel`).
    pub async fn dispatch(&self, name: &str, args: &[Value]) -> MarketResult<wire::Payload> {
        match name {
            "sell" => Ok(wire::result1(
                self.sell(SellRequest::from_args(args)?).await?.to_value(),
            )),
            "close_channel" => Ok(wire::result1(
                self.close_channel(ProviderCloseRequest::from_args(args)?)
                    .await?
                    .to_value(),
            )),
            other => Err(MarketError::new(
                uri::NO_SUCH_PROCEDURE,
                format!("xbr.provider.*.{other}"),
            )),
        }
    }
}

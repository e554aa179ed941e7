//! The buyer delegate (the reference's `SimpleBuyer`, spec §3): decrypts payloads, buying
//! unknown keys on demand over its payment channel.
//!
//! Fixes over the reference: concurrent unwraps of one new key share ONE purchase (waiting on a
//! notification, not polling); purchases on the channel are serialized so every purchase signs
//! the right seq; a failed purchase is reported to every waiter and is not cached, so a later
//! unwrap retries; free keys can be bought; bought keys (wrapped under the key-encryption key)
//! and the channel's seq/balance are persisted before the key is used, so a restarted buyer
//! decrypts old data without buying again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::OsRng;
use tokio::sync::watch;
use tracing::{Instrument, debug, info, info_span};
use wamp_proto::{Serializer, Value};
use xbr_core::DataKey;
use xbr_core::at_rest::{Kek, unwrap_data_key, wrap_data_key};
use xbr_core::eth::EthPrivateKey;
use xbr_core::payload;
use xbr_core::sealedbox::BuyerReceiveKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::own_channel::{self, ChannelRecord};
use crate::peer::{MakerClient, now_ns};
use crate::sig::{self, ChannelState as SignedState, Domain, OFF_CHAIN_CLOSE_AT};
use crate::store::{BuyerStore, blocking};
use crate::types::{Address, KeyId, LocalChannel, Purchase, U256};
use crate::wire::{BuyKeyRequest, CloseChannelRequest};

/// Buyer configuration.
pub struct BuyerConfig {
    /// The market maker's address (receipts must be signed by it).
    pub market_maker: Address,
    /// The buyer delegate's key.
    pub key: EthPrivateKey,
    /// Highest price paid for one key, in base units.
    pub max_price: U256,
    /// Key-encryption key for bought keys at rest.
    pub kek: Kek,
    /// Close the payment channel when it cannot pay for the next key (after at least one
    /// purchase), as the reference does.
    pub auto_close: bool,
}

type Outcome = Option<Result<DataKey, MarketError>>;

enum Slot {
    Ready(DataKey),
    Pending(watch::Receiver<Outcome>),
}

struct Active {
    channel: LocalChannel,
    domain: Domain,
    closed: bool,
}

/// Called after a purchase is persisted.
pub type PurchaseHook = Arc<dyn Fn(&Purchase) + Send + Sync>;

struct BuyerInner {
    cfg: BuyerConfig,
    address: Address,
    receive_key: BuyerReceiveKey,
    store: Arc<dyn BuyerStore>,
    maker: MakerClient,
    keys: Mutex<HashMap<KeyId, Slot>>,
    /// The payment channel; held for the whole of a purchase (one purchase in flight).
    active: tokio::sync::Mutex<Option<Active>>,
    purchase_hook: Mutex<Option<PurchaseHook>>,
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
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.tx.borrow().is_none() {
            lock_keys(&self.inner).remove(&self.key_id);
            let _ = self
                .tx
                .send(Some(Err(MarketError::runtime("purchase aborted"))));
        }
    }
}

fn lock_keys(inner: &BuyerInner) -> MutexGuard<'_, HashMap<KeyId, Slot>> {
    inner.keys.lock().unwrap_or_else(|p| p.into_inner())
}

impl Buyer {
    /// A buyer calling the maker through `maker`. Its X25519 receive key is fresh per instance,
    /// like the reference's.
    pub fn new(cfg: BuyerConfig, store: Arc<dyn BuyerStore>, maker: MakerClient) -> Self {
        let address = cfg.key.address();
        Self {
            inner: Arc::new(BuyerInner {
                cfg,
                address,
                receive_key: BuyerReceiveKey::generate(&mut OsRng),
                store,
                maker,
                keys: Mutex::new(HashMap::new()),
                active: tokio::sync::Mutex::new(None),
                purchase_hook: Mutex::new(None),
            }),
        }
    }

    /// Installs a hook called after every persisted purchase (metrics, logs).
    pub fn set_purchase_hook(&self, hook: PurchaseHook) {
        *self
            .inner
            .purchase_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(hook);
    }

    /// The buyer delegate address.
    pub fn address(&self) -> Address {
        self.inner.address
    }

    /// The X25519 public key keys are sealed to.
    pub fn buyer_pubkey(&self) -> [u8; 32] {
        self.inner.receive_key.public()
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

    /// Number of keys held (bought now or restored).
    pub fn key_count(&self) -> usize {
        lock_keys(&self.inner)
            .values()
            .filter(|s| matches!(s, Slot::Ready(_)))
            .count()
    }

    /// Starts buying: reads the maker's config, the active payment channel and its balance
    /// (adopting the maker's seq/balance into the store), and restores bought keys. Returns the
    /// remaining balance. May be called again after a failure.
    pub async fn start(&self) -> MarketResult<U256> {
        let inner = &self.inner;
        let record = ChannelRecord::payment();
        let (channel, domain) =
            own_channel::adopt(&inner.maker, &inner.address, &inner.store, record).await?;
        let purchases = blocking(&inner.store, |s| s.purchases()).await?;
        {
            let mut keys = lock_keys(inner);
            for p in &purchases {
                let key = unwrap_data_key(&inner.cfg.kek, p.key_id.as_ref(), &p.wrapped_key)
                    .map_err(|e| {
                        MarketError::runtime(format!(
                            "stored key {} cannot be unwrapped: {e}",
                            p.key_id
                        ))
                    })?;
                keys.insert(p.key_id, Slot::Ready(key));
            }
        }
        *inner.active.lock().await = Some(Active {
            channel: channel.clone(),
            domain,
            closed: false,
        });
        info!(remaining = %channel.balance, seq = channel.seq, keys = purchases.len(), "buyer started");
        Ok(channel.balance)
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

    /// Like [`Buyer::unwrap`] returning the CBOR plaintext.
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
        let key = self.key_for(key_id).await?;
        payload::open(&key, ciphertext)
            .map_err(|e| MarketError::new(uri::DECRYPTION_FAILED, format!("payload: {e}")))
    }

    /// The key, from memory or bought (one purchase shared by all concurrent callers).
    async fn key_for(&self, key_id: &KeyId) -> MarketResult<DataKey> {
        let mut rx = {
            let mut keys = lock_keys(&self.inner);
            match keys.get(key_id) {
                Some(Slot::Ready(k)) => return Ok(k.clone()),
                Some(Slot::Pending(rx)) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    keys.insert(*key_id, Slot::Pending(rx.clone()));
                    let guard = PendingGuard {
                        inner: Arc::clone(&self.inner),
                        key_id: *key_id,
                        tx,
                    };
                    let buyer = self.clone();
                    let key_id = *key_id;
                    // A task of its own: the purchase completes (and is persisted) even if the
                    // caller that started it goes away.
                    tokio::spawn(async move {
                        let span = info_span!("purchase", key_id = %key_id);
                        let result = buyer.purchase(key_id).instrument(span).await;
                        {
                            let mut keys = lock_keys(&buyer.inner);
                            match &result {
                                Ok(k) => {
                                    keys.insert(key_id, Slot::Ready(k.clone()));
                                }
                                Err(_) => {
                                    keys.remove(&key_id);
                                }
                            }
                        }
                        let _ = guard.tx.send(Some(result));
                    });
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

    async fn purchase(&self, key_id: KeyId) -> MarketResult<DataKey> {
        let inner = &self.inner;
        let mut guard = inner.active.lock().await;
        let active = guard
            .as_mut()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "buyer not started"))?;
        if active.closed {
            return Err(MarketError::new(
                uri::CHANNEL_CLOSED,
                "payment channel closed",
            ));
        }
        let quote = inner.maker.get_quote(&key_id).await?;
        let amount = quote.price;
        if amount > inner.cfg.max_price {
            return Err(MarketError::new(
                uri::MAX_PRICE_EXCEEDED,
                format!("price {amount} exceeds the maximum {}", inner.cfg.max_price),
            ));
        }
        let ch = active.channel.clone();
        let domain = active.domain;
        let Some(balance) = ch.balance.checked_sub(amount) else {
            if inner.cfg.auto_close && ch.seq > 1 {
                self.close_locked(active).await?;
                return Err(MarketError::new(
                    uri::CHANNEL_CLOSED,
                    "payment channel exhausted and closed",
                ));
            }
            return Err(MarketError::new(
                uri::INSUFFICIENT_BALANCE,
                "payment channel cannot pay the price",
            ));
        };
        let seq = ch.seq + 1;
        // XBRSIG 1.
        let signature = domain.sign(
            &inner.cfg.key,
            &sig::off_chain(ch.market_oid, ch.channel_oid, seq, balance),
        )?;
        let req = BuyKeyRequest {
            delegate: inner.address,
            buyer_pubkey: self.buyer_pubkey(),
            key_id,
            channel_oid: ch.channel_oid,
            channel_seq: seq,
            amount,
            balance,
            signature,
        };
        let receipt = match inner.maker.buy_key(&req).await {
            Ok(r) => r,
            Err(e) => {
                if e.is(uri::CHANNEL_CLOSED) {
                    active.closed = true;
                }
                return Err(e);
            }
        };
        // XBRSIG 8.
        domain.verify(
            &sig::off_chain(
                ch.market_oid,
                ch.channel_oid,
                receipt.channel_seq,
                receipt.remaining,
            ),
            &receipt.signature,
            &inner.cfg.market_maker,
            "market maker",
        )?;
        if receipt.channel_seq != seq || receipt.remaining != balance {
            return Err(MarketError::new(
                uri::INVALID_TRANSACTION,
                "receipt seq/remaining do not match the purchase",
            ));
        }
        let key = inner
            .receive_key
            .open(&receipt.sealed_key)
            .map_err(|e| MarketError::new(uri::DECRYPTION_FAILED, format!("sealed key: {e}")))?;
        let purchase = Purchase {
            key_id,
            created: now_ns(),
            wrapped_key: wrap_data_key(&inner.cfg.kek, key_id.as_ref(), &key, &mut OsRng),
            channel_oid: ch.channel_oid,
            seq,
            amount,
            balance,
            buyer_signature: signature,
            maker_signature: receipt.signature,
        };
        let recorded = purchase.clone();
        blocking(&inner.store, move |s| s.record_purchase(&purchase)).await?;
        let hook = inner
            .purchase_hook
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(&recorded);
        }
        active.channel.seq = seq;
        active.channel.balance = balance;
        debug!(seq, remaining = %balance, "key bought");
        Ok(key)
    }

    async fn close_locked(&self, active: &mut Active) -> MarketResult<()> {
        let inner = &self.inner;
        let ch = &active.channel;
        // Sign the close at a recent block: the contract accepts `closeAt` only within
        // PRESIGNED_TXN_MAX_AGE blocks of the head (the reference's fixed 1 expires at block 1441).
        let close_at = match inner.maker.get_block_number().await? {
            0 => OFF_CHAIN_CLOSE_AT,
            block => block,
        };
        let state = SignedState {
            close_at,
            market_oid: ch.market_oid,
            channel_oid: ch.channel_oid,
            seq: ch.seq,
            balance: ch.balance,
            is_final: true,
        };
        let signature = active.domain.sign(&inner.cfg.key, &state)?;
        let req = CloseChannelRequest {
            channel_oid: ch.channel_oid,
            verifying_chain_id: active.domain.chain_id,
            current_block_number: close_at,
            verifying_contract: active.domain.verifying_contract,
            closing_balance: ch.balance,
            closing_seq: ch.seq,
            closing_is_final: true,
            delegate_signature: signature,
        };
        inner.maker.close_channel(&req).await?;
        active.closed = true;
        info!(seq = ch.seq, "payment channel closed");
        Ok(())
    }

    /// Closes the payment channel now (final close at the current state).
    pub async fn close_channel(&self) -> MarketResult<()> {
        let mut guard = self.inner.active.lock().await;
        let active = guard
            .as_mut()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "buyer not started"))?;
        self.close_locked(active).await
    }
}

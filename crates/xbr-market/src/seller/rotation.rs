//! Key rotation: the timer, a rotation's persistence, offer and announcement, and encryption
//! under the current key (which may rotate).

use std::sync::Arc;

use rand::rngs::OsRng;
use tracing::{debug, warn};
use wamp_proto::{Dict, Serializer, Value};
use xbr_core::at_rest::wrap_data_key;
use xbr_core::keyseries::Rotation;

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::store::blocking;
use crate::types::{ApiId, KeyId, SellerKey};
use crate::wire::{self, PlaceOfferRequest};

use super::{ApiSpec, Seller, ns, random_signature};

impl Seller {
    /// Rotates the key of `api_id` now: the new key is persisted, offered and announced like a
    /// scheduled rotation. Returns the new key id.
    pub async fn rotate_now(&self, api_id: &ApiId) -> MarketResult<KeyId> {
        let r = {
            let mut st = self.state();
            if !st.started {
                return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
            }
            let entry = st
                .apis
                .get_mut(api_id)
                .ok_or_else(|| MarketError::no_such_object(format!("no such api {}", api_id)))?;
            entry.series.rotate(self.now(), &mut OsRng)
        };
        let key_id = r.key_id;
        self.on_rotation(r).await?;
        Ok(key_id)
    }

    pub(super) fn start_timer(&self) {
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            loop {
                let (next, now) = {
                    let Some(inner) = weak.upgrade() else { return };
                    let st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
                    let next = st
                        .apis
                        .values()
                        .filter_map(|e| e.series.next_rotation_at())
                        .min();
                    (next, inner.cfg.clock.now())
                };
                let Some(next) = next else { return };
                let wait = next.duration_since(now).unwrap_or_default();
                tokio::time::sleep(wait).await;
                let Some(inner) = weak.upgrade() else { return };
                let seller = Seller { inner };
                let rotations: Vec<Rotation> = {
                    let mut st = seller.state();
                    let now = seller.now();
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
    pub(super) async fn on_rotation(&self, r: Rotation) -> MarketResult<()> {
        let inner = &self.inner;
        let key_id = r.key_id;
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
                wrap_data_key(&inner.cfg.kek, key_id.as_ref(), key, &mut OsRng),
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
        d.insert("key_id".into(), wire::v_bytes(key_id));
        d.insert("api_id".into(), wire::v_bytes(r.api_id));
        d.insert("uri".into(), Value::from(spec.prefix.as_str()));
        d.insert("price".into(), wire::v_u256_bytes(&spec.price));
        d.insert(
            "previous".into(),
            r.previous.map(wire::v_bytes).unwrap_or(Value::Null),
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
        debug!(key_id = %key_id, offered, "key rotated");
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
    pub(super) async fn place_offer(&self, spec: &ApiSpec, key_id: KeyId) -> bool {
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
                Err(e) if e.is(uri::NO_SUCH_PROCEDURE) || e.is_transport() => {
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
        api_id: &ApiId,
        uri: &str,
        payload: &Value,
    ) -> MarketResult<(KeyId, &'static str, Vec<u8>)> {
        let cbor = Serializer::Cbor.encode_value(payload).map_err(|e| {
            MarketError::invalid_argument(format!("wrap: payload cannot be CBOR-encoded: {e}"))
        })?;
        self.wrap_cbor(api_id, uri, &cbor).await
    }

    /// Like [`Seller::wrap`] with an already CBOR-encoded payload.
    pub async fn wrap_cbor(
        &self,
        api_id: &ApiId,
        _uri: &str,
        cbor: &[u8],
    ) -> MarketResult<(KeyId, &'static str, Vec<u8>)> {
        let wrapped = {
            let mut st = self.state();
            if !st.started {
                return Err(MarketError::new(uri::NOT_STARTED, "seller not started"));
            }
            let entry = st.apis.get_mut(api_id).ok_or_else(|| {
                MarketError::invalid_argument(format!("wrap: unknown api {}", api_id))
            })?;
            // Nonces from the thread-local CSPRNG (seeded from the OS): no system call per event.
            entry
                .series
                .encrypt_cbor(cbor, self.now(), &mut rand::thread_rng())
                .map_err(|e| MarketError::runtime(format!("wrap: {e}")))?
        };
        if let Some(r) = wrapped.rotation {
            self.on_rotation(r).await?;
        }
        Ok((wrapped.key_id, wrapped.enc_ser, wrapped.ciphertext))
    }
}

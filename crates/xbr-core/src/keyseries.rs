//! A series of rotating data-encryption keys for one API (the reference's `KeySeries`, §1).
//!
//! The series is a plain state machine: it never reads the clock and never sleeps. The caller
//! passes `now`, asks [`KeySeries::next_rotation_at`] when to wake up, and acts on each
//! [`Rotation`] it gets back (place an offer, publish a rotation event, persist the key).
//!
//! * Interval series: the first key is minted by [`KeySeries::start`], then one per interval
//!   ([`KeySeries::maybe_rotate`]; missed periods are skipped, not replayed). Encrypting with a
//!   key whose interval is over rotates first, so a late scheduler never leaks a stale key.
//! * Count series: each key encrypts exactly `count` payloads; the next encryption rotates.
//!   (The reference rotates on the `count`-th call, so its first key covers `count - 1` payloads;
//!   this is not visible on the wire.)
//! * Every key ever minted stays in the archive and can still be sold ([`KeySeries::seal_key`]).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use alloy_primitives::U256;
use rand_core::CryptoRngCore;
use serde::Serialize;
use thiserror::Error;

use crate::ids::ApiId;
use crate::keys::{DataKey, KeyId};
use crate::payload::{self, ENC_SER_CBOR, NONCE_LEN, PayloadError};
use crate::sealedbox::{self, SEALED_KEY_LEN};

/// When a series mints its next key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationPolicy {
    /// A new key every interval, starting at [`KeySeries::start`].
    Interval(Duration),
    /// A new key after this many encryptions.
    Count(u64),
}

/// Errors of a key series.
#[derive(Debug, Error)]
pub enum KeySeriesError {
    /// An interval of zero.
    #[error("rotation interval must be positive")]
    ZeroInterval,
    /// A count of zero.
    #[error("rotation count must be positive")]
    ZeroCount,
    /// Encrypting before [`KeySeries::start`].
    #[error("key series not started: no current key")]
    NotStarted,
    /// A key id that is not in the archive.
    #[error("unknown key id {0}")]
    UnknownKey(KeyId),
    /// The same key id twice when restoring.
    #[error("duplicate key id {0} in restored archive")]
    DuplicateKey(KeyId),
    /// Payload encryption/decryption failed.
    #[error(transparent)]
    Payload(#[from] PayloadError),
}

/// A key of the archive with the time it was minted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedKey {
    /// The key id (offered and sold under this id).
    pub key_id: KeyId,
    /// The key.
    pub key: DataKey,
    /// When the key was minted (drives interval rotation after a restore).
    pub created_at: SystemTime,
}

/// A new key became current; the caller places its offer and persists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The API the series belongs to.
    pub api_id: ApiId,
    /// The new current key id.
    pub key_id: KeyId,
    /// The previously current key id, if any (still in the archive).
    pub previous: Option<KeyId>,
    /// The series' price per key in token base units.
    pub price: U256,
    /// When the key was minted.
    pub created_at: SystemTime,
}

/// The result of encrypting a payload: what the seller publishes as `(key_id, enc_ser, ciphertext)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The key the payload is encrypted with.
    pub key_id: KeyId,
    /// Always `"cbor"`.
    pub enc_ser: &'static str,
    /// `nonce(24) ‖ tag(16) ‖ ciphertext`.
    pub ciphertext: Vec<u8>,
    /// The rotation this encryption caused, if any; the caller must act on it.
    pub rotation: Option<Rotation>,
}

/// A rotating series of data keys for one API.
#[derive(Debug)]
pub struct KeySeries {
    api_id: ApiId,
    price: U256,
    policy: RotationPolicy,
    archive: HashMap<KeyId, ArchivedKey>,
    order: Vec<KeyId>,
    current: Option<KeyId>,
    used_current: u64,
    next_rotation_at: Option<SystemTime>,
}

impl KeySeries {
    /// A new, not yet started series.
    pub fn new(api_id: ApiId, price: U256, policy: RotationPolicy) -> Result<Self, KeySeriesError> {
        match policy {
            RotationPolicy::Interval(d) if d.is_zero() => return Err(KeySeriesError::ZeroInterval),
            RotationPolicy::Count(0) => return Err(KeySeriesError::ZeroCount),
            _ => {}
        }
        Ok(Self {
            api_id,
            price,
            policy,
            archive: HashMap::new(),
            order: Vec::new(),
            current: None,
            used_current: 0,
            next_rotation_at: None,
        })
    }

    /// Restores a series from persisted keys (in minting order). The last key is current;
    /// `used_current` is how many payloads it has encrypted (matters for count series). An
    /// empty `keys` gives a series that still needs [`KeySeries::start`].
    pub fn restore(
        api_id: ApiId,
        price: U256,
        policy: RotationPolicy,
        keys: impl IntoIterator<Item = ArchivedKey>,
        used_current: u64,
    ) -> Result<Self, KeySeriesError> {
        let mut series = Self::new(api_id, price, policy)?;
        for k in keys {
            let id = k.key_id;
            if series.archive.insert(id, k).is_some() {
                return Err(KeySeriesError::DuplicateKey(id));
            }
            series.order.push(id);
        }
        if let Some(last) = series.order.last().copied() {
            series.current = Some(last);
            series.used_current = used_current;
            if let RotationPolicy::Interval(d) = policy {
                series.next_rotation_at = Some(series.archive[&last].created_at + d);
            }
        }
        Ok(series)
    }

    /// The API id.
    pub fn api_id(&self) -> ApiId {
        self.api_id
    }

    /// The price per key in token base units.
    pub fn price(&self) -> U256 {
        self.price
    }

    /// The rotation policy.
    pub fn policy(&self) -> RotationPolicy {
        self.policy
    }

    /// The current key id (`None` before the first key).
    pub fn current_key_id(&self) -> Option<KeyId> {
        self.current
    }

    /// How many payloads the current key has encrypted.
    pub fn used_current(&self) -> u64 {
        self.used_current
    }

    /// When an interval series rotates next (`None` for count series or before start).
    pub fn next_rotation_at(&self) -> Option<SystemTime> {
        self.next_rotation_at
    }

    /// Mints the first key (or, for a restored series, rotates if its interval is over).
    pub fn start(&mut self, now: SystemTime, rng: &mut impl CryptoRngCore) -> Option<Rotation> {
        if self.current.is_none() {
            Some(self.rotate(now, rng))
        } else {
            self.maybe_rotate(now, rng)
        }
    }

    /// Rotates an interval series whose interval is over; otherwise does nothing.
    pub fn maybe_rotate(
        &mut self,
        now: SystemTime,
        rng: &mut impl CryptoRngCore,
    ) -> Option<Rotation> {
        let (RotationPolicy::Interval(interval), Some(due)) = (self.policy, self.next_rotation_at)
        else {
            return None;
        };
        if now < due {
            return None;
        }
        let rotation = self.rotate(now, rng);
        // keep the schedule of start + k * interval, skipping missed periods
        let mut next = due + interval;
        while next <= now {
            next += interval;
        }
        self.next_rotation_at = Some(next);
        Some(rotation)
    }

    /// Mints a new current key now, whatever the policy says.
    pub fn rotate(&mut self, now: SystemTime, rng: &mut impl CryptoRngCore) -> Rotation {
        let mut key_id = KeyId::random(rng);
        while self.archive.contains_key(&key_id) {
            key_id = KeyId::random(rng);
        }
        let key = DataKey::random(rng);
        self.archive.insert(
            key_id,
            ArchivedKey {
                key_id,
                key,
                created_at: now,
            },
        );
        self.order.push(key_id);
        let previous = self.current.replace(key_id);
        self.used_current = 0;
        if let RotationPolicy::Interval(d) = self.policy {
            self.next_rotation_at = Some(now + d);
        }
        Rotation {
            api_id: self.api_id,
            key_id,
            previous,
            price: self.price,
            created_at: now,
        }
    }

    /// Encrypts an already CBOR-encoded payload with the given nonce (rotating first if the
    /// policy says so).
    pub fn encrypt_cbor_with_nonce(
        &mut self,
        plaintext_cbor: &[u8],
        nonce: &[u8; NONCE_LEN],
        now: SystemTime,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Wrapped, KeySeriesError> {
        if self.current.is_none() {
            return Err(KeySeriesError::NotStarted);
        }
        let rotation = match self.policy {
            RotationPolicy::Count(n) if self.used_current >= n => Some(self.rotate(now, rng)),
            RotationPolicy::Count(_) => None,
            RotationPolicy::Interval(_) => self.maybe_rotate(now, rng),
        };
        let key_id = self.current.ok_or(KeySeriesError::NotStarted)?;
        let key = &self.archive[&key_id].key;
        let ciphertext = payload::seal_with_nonce(key, nonce, plaintext_cbor);
        self.used_current += 1;
        Ok(Wrapped {
            key_id,
            enc_ser: ENC_SER_CBOR,
            ciphertext,
            rotation,
        })
    }

    /// Encrypts an already CBOR-encoded payload with a random nonce.
    pub fn encrypt_cbor(
        &mut self,
        plaintext_cbor: &[u8],
        now: SystemTime,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Wrapped, KeySeriesError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        self.encrypt_cbor_with_nonce(plaintext_cbor, &nonce, now, rng)
    }

    /// Serialises `value` as CBOR and encrypts it (the seller's `wrap`).
    pub fn encrypt<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        now: SystemTime,
        rng: &mut impl CryptoRngCore,
    ) -> Result<Wrapped, KeySeriesError> {
        let cbor = payload::to_cbor(value)?;
        self.encrypt_cbor(&cbor, now, rng)
    }

    /// Decrypts a ciphertext made with any archived key; returns the CBOR plaintext.
    pub fn decrypt(&self, key_id: &KeyId, ciphertext: &[u8]) -> Result<Vec<u8>, KeySeriesError> {
        let key = self
            .key(key_id)
            .ok_or(KeySeriesError::UnknownKey(*key_id))?;
        Ok(payload::open(key, ciphertext)?)
    }

    /// An archived key.
    pub fn key(&self, key_id: &KeyId) -> Option<&DataKey> {
        self.archive.get(key_id).map(|k| &k.key)
    }

    /// All archived keys in minting order (what to persist).
    pub fn keys(&self) -> impl Iterator<Item = &ArchivedKey> {
        self.order.iter().map(|id| &self.archive[id])
    }

    /// Whether the archive holds this key id.
    pub fn contains(&self, key_id: &KeyId) -> bool {
        self.archive.contains_key(key_id)
    }

    /// Seals an archived key (current or past) to a buyer's X25519 public key (the reference's
    /// `encrypt_key`): 80 bytes.
    pub fn seal_key(
        &self,
        key_id: &KeyId,
        buyer_pk: &[u8; 32],
        rng: &mut impl CryptoRngCore,
    ) -> Result<[u8; SEALED_KEY_LEN], KeySeriesError> {
        let key = self
            .key(key_id)
            .ok_or(KeySeriesError::UnknownKey(*key_id))?;
        Ok(sealedbox::seal(key.as_bytes(), buyer_pk, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealedbox::BuyerReceiveKey;
    use rand_core::OsRng;
    use std::time::UNIX_EPOCH;

    const API: ApiId = ApiId([0xaa; 16]);

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn interval_series(secs: u64) -> KeySeries {
        KeySeries::new(
            API,
            U256::from(35u64),
            RotationPolicy::Interval(Duration::from_secs(secs)),
        )
        .unwrap()
    }

    #[test]
    fn zero_policies_are_rejected() {
        assert!(matches!(
            KeySeries::new(API, U256::ZERO, RotationPolicy::Interval(Duration::ZERO)),
            Err(KeySeriesError::ZeroInterval)
        ));
        assert!(matches!(
            KeySeries::new(API, U256::ZERO, RotationPolicy::Count(0)),
            Err(KeySeriesError::ZeroCount)
        ));
    }

    #[test]
    fn encrypt_before_start_is_an_error() {
        let mut s = interval_series(10);
        assert!(matches!(
            s.encrypt_cbor(b"\xa0", t(0), &mut OsRng),
            Err(KeySeriesError::NotStarted)
        ));
        assert_eq!(s.current_key_id(), None);
        assert_eq!(s.next_rotation_at(), None);
    }

    #[test]
    fn interval_rotation_with_a_fake_clock() {
        let mut s = interval_series(60);
        let first = s.start(t(1000), &mut OsRng).expect("first key at start");
        assert_eq!(first.previous, None);
        assert_eq!(first.api_id, API);
        assert_eq!(first.price, U256::from(35u64));
        assert_eq!(first.created_at, t(1000));
        assert_eq!(s.current_key_id(), Some(first.key_id));
        assert_eq!(s.next_rotation_at(), Some(t(1060)));
        // starting again does not mint another key
        assert_eq!(s.start(t(1001), &mut OsRng), None);

        assert_eq!(s.maybe_rotate(t(1059), &mut OsRng), None);
        let second = s.maybe_rotate(t(1060), &mut OsRng).expect("due");
        assert_eq!(second.previous, Some(first.key_id));
        assert_ne!(second.key_id, first.key_id);
        assert_eq!(s.next_rotation_at(), Some(t(1120)));

        // a scheduler that wakes up very late rotates once and keeps the grid
        let third = s.maybe_rotate(t(1500), &mut OsRng).expect("overdue");
        assert_eq!(third.previous, Some(second.key_id));
        assert_eq!(s.next_rotation_at(), Some(t(1540)));
        assert_eq!(s.maybe_rotate(t(1539), &mut OsRng), None);

        // the archive keeps every key, in minting order
        let ids: Vec<KeyId> = s.keys().map(|k| k.key_id).collect();
        assert_eq!(ids, vec![first.key_id, second.key_id, third.key_id]);
    }

    #[test]
    fn encrypting_after_the_interval_rotates_first() {
        let mut s = interval_series(10);
        let first = s.start(t(0), &mut OsRng).unwrap();
        let w = s.encrypt_cbor(b"\x01", t(5), &mut OsRng).unwrap();
        assert_eq!(w.key_id, first.key_id);
        assert_eq!(w.rotation, None);
        assert_eq!(w.enc_ser, "cbor");
        let w = s.encrypt_cbor(b"\x02", t(10), &mut OsRng).unwrap();
        let rot = w.rotation.clone().expect("rotated on encrypt");
        assert_eq!(w.key_id, rot.key_id);
        assert_ne!(w.key_id, first.key_id);
        assert_eq!(s.decrypt(&w.key_id, &w.ciphertext).unwrap(), b"\x02");
    }

    #[test]
    fn count_rotation_gives_each_key_exactly_count_payloads() {
        let mut s = KeySeries::new(API, U256::from(1u64), RotationPolicy::Count(3)).unwrap();
        let first = s.start(t(0), &mut OsRng).unwrap();
        assert_eq!(s.next_rotation_at(), None);
        assert_eq!(s.maybe_rotate(t(1_000_000), &mut OsRng), None);
        let mut used = Vec::new();
        let mut rotations = Vec::new();
        for i in 0..7u8 {
            let w = s.encrypt_cbor(&[i], t(0), &mut OsRng).unwrap();
            used.push(w.key_id);
            if let Some(r) = w.rotation {
                rotations.push((i, r));
            }
        }
        assert_eq!(&used[0..3], &[first.key_id; 3]);
        assert_eq!(rotations.len(), 2);
        assert_eq!(rotations[0].0, 3);
        assert_eq!(rotations[1].0, 6);
        assert!(used[3..6].iter().all(|k| *k == rotations[0].1.key_id));
        assert_eq!(used[6], rotations[1].1.key_id);
        assert_eq!(s.used_current(), 1);
    }

    #[test]
    fn past_keys_can_still_be_sold_and_decrypted() {
        let mut s = interval_series(10);
        let first = s.start(t(0), &mut OsRng).unwrap();
        let old = s.encrypt(&("old", 1u8), t(1), &mut OsRng).unwrap();
        s.rotate(t(2), &mut OsRng);
        assert!(s.contains(&first.key_id));
        let buyer = BuyerReceiveKey::generate(&mut OsRng);
        let sealed = s
            .seal_key(&first.key_id, &buyer.public(), &mut OsRng)
            .unwrap();
        let key = buyer.open(&sealed).unwrap();
        let plain: (String, u8) = crate::payload::decrypt_value(&key, &old.ciphertext).unwrap();
        assert_eq!(plain, ("old".to_owned(), 1));

        let unknown = KeyId([0; 16]);
        assert!(matches!(
            s.seal_key(&unknown, &buyer.public(), &mut OsRng),
            Err(KeySeriesError::UnknownKey(k)) if k == unknown
        ));
        assert!(matches!(
            s.decrypt(&unknown, &old.ciphertext),
            Err(KeySeriesError::UnknownKey(_))
        ));
        assert!(matches!(
            s.decrypt(&first.key_id, &old.ciphertext[..30]),
            Err(KeySeriesError::Payload(PayloadError::TooShort { len: 30 }))
        ));
    }

    #[test]
    fn restore_from_persisted_keys() {
        let mut s = interval_series(60);
        s.start(t(0), &mut OsRng).unwrap();
        let w = s.encrypt_cbor(b"\x05", t(1), &mut OsRng).unwrap();
        s.maybe_rotate(t(60), &mut OsRng).unwrap();
        let persisted: Vec<ArchivedKey> = s.keys().cloned().collect();

        let mut r = KeySeries::restore(
            API,
            s.price(),
            s.policy(),
            persisted.clone(),
            s.used_current(),
        )
        .unwrap();
        assert_eq!(r.current_key_id(), s.current_key_id());
        assert_eq!(r.next_rotation_at(), Some(t(120)));
        assert_eq!(r.decrypt(&w.key_id, &w.ciphertext).unwrap(), b"\x05");
        // restarting within the interval keeps the current key ...
        assert_eq!(r.start(t(100), &mut OsRng), None);
        // ... restarting after it rotates
        let mut late =
            KeySeries::restore(API, s.price(), s.policy(), persisted.clone(), 0).unwrap();
        let rot = late
            .start(t(500), &mut OsRng)
            .expect("stale key replaced at start");
        assert_eq!(rot.previous, s.current_key_id());

        let mut dup = persisted.clone();
        dup.push(persisted[0].clone());
        assert!(matches!(
            KeySeries::restore(API, U256::ZERO, s.policy(), dup, 0),
            Err(KeySeriesError::DuplicateKey(_))
        ));
        let mut empty = KeySeries::restore(API, U256::ZERO, s.policy(), Vec::new(), 0).unwrap();
        assert_eq!(empty.current_key_id(), None);
        assert!(empty.start(t(0), &mut OsRng).is_some());
    }

    #[test]
    fn debug_does_not_leak_keys() {
        let mut s = interval_series(60);
        s.start(t(0), &mut OsRng).unwrap();
        let id = s.current_key_id().unwrap();
        let key_hex = alloy_primitives::hex::encode(s.key(&id).unwrap().as_bytes());
        let dbg = format!("{s:?}");
        assert!(!dbg.contains(&key_hex));
        assert!(dbg.contains("<redacted>"));
    }
}

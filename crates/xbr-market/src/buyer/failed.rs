//! Key ids whose purchase failed for a reason of the key's own (unknown to the maker, offer
//! expired, above the buyer's maximum price, a seller or API the buyer does not buy from), remembered for [`FAILED_KEY_TTL`] so that every
//! event under such a key id does not quote it again. Bounded: at most [`FAILED_KEYS_MAX`]
//! entries, the oldest evicted first (key ids are chosen by whoever publishes on the realm).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{MarketError, uri};
use crate::types::KeyId;

/// How long a failed key id is not tried again.
pub const FAILED_KEY_TTL: Duration = Duration::from_secs(30);

/// Most failed key ids remembered at once.
pub const FAILED_KEYS_MAX: usize = 4096;

/// The refusals that say something about the key itself, not about the channel or the moment.
const KEY_REFUSALS: &[&str] = &[
    uri::NO_SUCH_OBJECT,
    uri::OFFER_EXPIRED,
    uri::MAX_PRICE_EXCEEDED,
    uri::OFFER_NOT_ALLOWED,
];

/// Whether a purchase failing with `e` is remembered for its key id.
pub(super) fn remembered(e: &MarketError) -> bool {
    KEY_REFUSALS.iter().any(|u| e.is(u))
}

/// The remembered failures (the clock is passed in, so tests need no waiting).
pub(super) struct FailedKeys {
    ttl: Duration,
    max: usize,
    entries: HashMap<KeyId, (Instant, MarketError)>,
    /// Insertion order; every entry is in it once, oldest first.
    order: VecDeque<(Instant, KeyId)>,
}

impl Default for FailedKeys {
    fn default() -> Self {
        Self::new(FAILED_KEY_TTL, FAILED_KEYS_MAX)
    }
}

impl FailedKeys {
    pub(super) fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max: max.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The failure remembered for `key_id`, if it is recent enough at `now`.
    pub(super) fn get(&mut self, key_id: &KeyId, now: Instant) -> Option<MarketError> {
        self.expire(now);
        self.entries.get(key_id).map(|(_, e)| e.clone())
    }

    /// Remembers that buying `key_id` failed with `error` at `now`.
    pub(super) fn insert(&mut self, key_id: KeyId, error: MarketError, now: Instant) {
        self.expire(now);
        if let Some(entry) = self.entries.get_mut(&key_id) {
            // Keeps its place (and expiry) in the order: refreshing would let a caller keep an
            // entry alive for good.
            entry.1 = error;
            return;
        }
        while self.entries.len() >= self.max {
            match self.order.pop_front() {
                Some((_, oldest)) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        self.entries.insert(key_id, (now, error));
        self.order.push_back((now, key_id));
    }

    /// Forgets the entries older than the TTL (the oldest are at the front).
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, key_id)) = self.order.front() {
            if now.saturating_duration_since(at) < self.ttl {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&key_id);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> KeyId {
        let mut b = [0u8; 16];
        b[..2].copy_from_slice(&n.to_be_bytes());
        KeyId(b)
    }

    fn unknown() -> MarketError {
        MarketError::no_such_object("no such offer")
    }

    #[test]
    fn a_failure_is_remembered_until_the_ttl() {
        let t0 = Instant::now();
        let mut f = FailedKeys::new(Duration::from_secs(30), 10);
        f.insert(key(1), unknown(), t0);
        let hit = f.get(&key(1), t0 + Duration::from_secs(29)).unwrap();
        assert_eq!(hit.uri, uri::NO_SUCH_OBJECT);
        assert!(f.get(&key(2), t0).is_none());
        assert!(f.get(&key(1), t0 + Duration::from_secs(30)).is_none());
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn the_oldest_is_evicted_past_the_bound() {
        let t0 = Instant::now();
        let mut f = FailedKeys::new(Duration::from_secs(30), 3);
        for n in 0..5u16 {
            f.insert(key(n), unknown(), t0 + Duration::from_millis(u64::from(n)));
        }
        assert_eq!(f.len(), 3);
        let now = t0 + Duration::from_millis(10);
        assert!(f.get(&key(0), now).is_none());
        assert!(f.get(&key(1), now).is_none());
        assert!((2..5).all(|n| f.get(&key(n), now).is_some()));
    }

    #[test]
    fn a_repeated_failure_does_not_extend_the_ttl() {
        let t0 = Instant::now();
        let mut f = FailedKeys::new(Duration::from_secs(30), 3);
        f.insert(key(1), unknown(), t0);
        f.insert(key(1), unknown(), t0 + Duration::from_secs(20));
        assert!(f.get(&key(1), t0 + Duration::from_secs(31)).is_none());
    }

    #[test]
    fn only_refusals_about_the_key_are_remembered() {
        assert!(remembered(&unknown()));
        assert!(remembered(&MarketError::new(uri::OFFER_EXPIRED, "x")));
        assert!(remembered(&MarketError::new(uri::MAX_PRICE_EXCEEDED, "x")));
        assert!(remembered(&MarketError::new(uri::OFFER_NOT_ALLOWED, "x")));
        assert!(!remembered(&MarketError::new(uri::BUSY, "x")));
        assert!(!remembered(&MarketError::new(uri::NO_SUCH_PROCEDURE, "x")));
        assert!(!remembered(&MarketError::new(
            uri::INSUFFICIENT_BALANCE,
            "x"
        )));
        assert!(!remembered(&MarketError::transport("lost", "x")));
    }
}

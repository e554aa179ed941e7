//! First logins waiting for proof of possession. Crossbar calls the authenticator at HELLO,
//! before its cryptosign challenge, so a first login cannot register its key yet: the maker keeps
//! it here under the joining session's id and registers the key only once that session joined
//! (the router's `wamp.session.on_join`, see
//! [`MarketMaker::session_joined`](super::MarketMaker::session_joined)). Bounded: at most
//! [`PENDING_LOGINS_KEPT`] entries (the oldest dropped), each kept [`PENDING_LOGIN_TTL`].

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::types::Address;

/// How many first logins wait for their session at most.
pub const PENDING_LOGINS_KEPT: usize = 1024;
/// How long a first login waits for its session to join.
pub const PENDING_LOGIN_TTL: Duration = Duration::from_secs(60);

/// A first login the router has not admitted yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingLogin {
    /// The delegate's cryptosign public key.
    pub pubkey: [u8; 32],
    /// The member whose wallet signed the login.
    pub member: Address,
}

/// First logins by joining session id, oldest first.
pub struct PendingLogins {
    entries: Mutex<VecDeque<(u64, Instant, PendingLogin)>>,
    capacity: usize,
    ttl: Duration,
}

impl Default for PendingLogins {
    fn default() -> Self {
        Self::new(PENDING_LOGINS_KEPT, PENDING_LOGIN_TTL)
    }
}

impl PendingLogins {
    /// At most `capacity` logins, each kept `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            capacity,
            ttl,
        }
    }

    /// The entries, the expired ones dropped (they are the oldest, at the front).
    fn live(&self) -> MutexGuard<'_, VecDeque<(u64, Instant, PendingLogin)>> {
        let mut g = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        while g.front().is_some_and(|(_, at, _)| at.elapsed() >= self.ttl) {
            g.pop_front();
        }
        g
    }

    /// Remembers `login` for `session` (replacing what the session had pending).
    pub fn add(&self, session: u64, login: PendingLogin) {
        let mut g = self.live();
        g.retain(|(s, _, _)| *s != session);
        while g.len() >= self.capacity.max(1) {
            g.pop_front();
        }
        g.push_back((session, Instant::now(), login));
    }

    /// The login `session` made, if it is still pending; it is pending no more.
    pub fn take(&self, session: u64) -> Option<PendingLogin> {
        let mut g = self.live();
        let i = g.iter().position(|(s, _, _)| *s == session)?;
        g.remove(i).map(|(_, _, login)| login)
    }

    /// How many logins are pending.
    pub fn len(&self) -> usize {
        self.live().len()
    }

    /// Whether no login is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(n: u8) -> PendingLogin {
        PendingLogin {
            pubkey: [n; 32],
            member: Address::repeat_byte(n),
        }
    }

    #[test]
    fn a_login_is_taken_once_by_its_session_only() {
        let p = PendingLogins::default();
        p.add(7, login(1));
        p.add(8, login(1));
        assert_eq!(p.take(9), None);
        assert_eq!(p.take(7), Some(login(1)));
        assert_eq!(p.take(7), None);
        // A session's second first login replaces its first.
        p.add(8, login(2));
        assert_eq!(p.len(), 1);
        assert_eq!(p.take(8), Some(login(2)));
        assert!(p.is_empty());
    }

    #[test]
    fn pending_logins_stay_bounded_the_oldest_dropped() {
        let p = PendingLogins::default();
        for s in 0..(PENDING_LOGINS_KEPT as u64 + 10) {
            p.add(s, login(3));
        }
        assert_eq!(p.len(), PENDING_LOGINS_KEPT);
        assert_eq!(p.take(9), None);
        assert_eq!(p.take(10), Some(login(3)));
        assert_eq!(p.take(PENDING_LOGINS_KEPT as u64 + 9), Some(login(3)));
    }

    #[test]
    fn an_expired_login_is_gone() {
        let p = PendingLogins::new(4, Duration::ZERO);
        p.add(1, login(4));
        assert_eq!(p.take(1), None);
        assert!(p.is_empty());
    }
}

//! What the daemon knows about its own readiness: store open, WAMP session joined, chain reachable,
//! and the money-path invariants of its store holding ([`invariants`]).

pub mod invariants;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::ports::views::{ChainView, SessionView};
use invariants::{InvariantChecker, InvariantsView};

/// Shared readiness state, written by the wiring and read by `/ready`, `/v1/status` and systemd notify.
#[derive(Debug, Default)]
pub struct Health {
    store_open: AtomicBool,
    session: Mutex<Option<SessionView>>,
    chain: Mutex<Option<ChainView>>,
    invariants: Mutex<InvariantState>,
    notify: tokio::sync::Notify,
}

/// The invariant checker (while the store is open) and its last result.
#[derive(Debug, Default)]
struct InvariantState {
    checker: Option<Arc<InvariantChecker>>,
    last: Option<InvariantsView>,
}

/// Why the daemon is not ready (each failed check, in a fixed order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(pub Vec<&'static str>);

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl Health {
    /// Marks the store open (or closed).
    pub fn set_store_open(&self, open: bool) {
        self.store_open.store(open, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Is the store open?
    pub fn store_open(&self) -> bool {
        self.store_open.load(Ordering::SeqCst)
    }

    /// Records the joined session, or `None` after leaving / losing it.
    pub fn set_session(&self, session: Option<SessionView>) {
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = session;
        self.notify.notify_waiters();
    }

    /// The joined session.
    pub fn session(&self) -> Option<SessionView> {
        self.session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records the last chain probe.
    pub fn set_chain(&self, chain: ChainView) {
        *self.chain.lock().unwrap_or_else(|e| e.into_inner()) = Some(chain);
        self.notify.notify_waiters();
    }

    /// The last chain probe (unknown before the first).
    pub fn chain(&self) -> ChainView {
        self.chain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or(ChainView {
                reachable: false,
                chain_id: None,
                block: None,
                error: Some("not probed yet".into()),
            })
    }

    /// Installs the invariant checker of the open store, or removes it (`None`, on shutdown, so
    /// the store can close).
    pub fn set_invariant_checker(&self, checker: Option<Arc<InvariantChecker>>) {
        self.invariants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .checker = checker;
    }

    /// Checks the invariants now and records the result; `None` while there is no store to check.
    pub async fn check_invariants(&self) -> Option<Result<InvariantsView, String>> {
        let checker = self
            .invariants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .checker
            .clone()?;
        let result = checker.check().await;
        if let Ok(view) = &result {
            self.invariants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .last = Some(view.clone());
            self.notify.notify_waiters();
        }
        Some(result)
    }

    /// The last invariant check (none before the first).
    pub fn invariants(&self) -> Option<InvariantsView> {
        self.invariants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last
            .clone()
    }

    /// False when the last invariant check found a violation.
    pub fn invariants_hold(&self) -> bool {
        self.invariants()
            .is_none_or(|view| view.violations.is_empty())
    }

    /// `Ok` when every check passes, else the failed checks.
    pub fn check(&self) -> Result<(), NotReady> {
        let mut failed = Vec::new();
        if !self.store_open() {
            failed.push("store not open");
        }
        if self.session().is_none() {
            failed.push("WAMP session not joined");
        }
        if !self.chain().reachable {
            failed.push("chain not reachable");
        }
        if !self.invariants_hold() {
            failed.push("invariants violated (see /health)");
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(NotReady(failed))
        }
    }

    /// A future resolving at the next change of any readiness input (registered when this is called, so
    /// take it before reading the state).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_all_three() {
        let h = Health::default();
        assert_eq!(
            h.check().unwrap_err().0,
            vec![
                "store not open",
                "WAMP session not joined",
                "chain not reachable"
            ]
        );
        h.set_store_open(true);
        h.set_chain(ChainView {
            reachable: true,
            chain_id: Some(1337),
            block: Some(5),
            error: None,
        });
        assert_eq!(h.check().unwrap_err().0, vec!["WAMP session not joined"]);
        h.set_session(Some(SessionView {
            session_id: 1,
            router_url: "ws://127.0.0.1:1/ws".into(),
            realm: "realm1".into(),
            authid: None,
            authrole: None,
        }));
        assert!(h.check().is_ok());
        h.set_session(None);
        assert!(h.check().is_err());
    }
}

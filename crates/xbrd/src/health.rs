//! What the daemon knows about its own readiness: store open, WAMP session joined, chain reachable,
//! the role's registrations and subscriptions in place (a procedure another session holds is an
//! attach error, named), and the money-path invariants of its store holding ([`invariants`]).

pub mod invariants;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::ports::views::{ChainView, SessionView};
use invariants::{InvariantChecker, InvariantsView};

/// Shared readiness state, written by the wiring and read by `/ready`, `/v1/status` and systemd notify.
#[derive(Debug, Default)]
pub struct Health {
    store_open: AtomicBool,
    session: Mutex<Option<SessionView>>,
    chain: Mutex<Option<ChainView>>,
    invariants: Mutex<InvariantState>,
    attach_errors: Mutex<Option<AttachErrors>>,
    notify: tokio::sync::Notify,
}

/// A registration or subscription of the role that failed on the joined session, e.g.
/// `xbr.provider.<id>.sell` with `wamp.error.procedure_already_exists` (another session holds it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachError {
    /// The procedure or topic URI.
    pub uri: String,
    /// The router's error URI (or the whole report when it names none).
    pub error: String,
    /// The whole report.
    pub detail: String,
}

impl AttachError {
    /// Parses the runtime's `"uri: error"` report (its error as wamp-client shows it:
    /// `WAMP error: <error uri>: <message>`).
    pub fn parse(failure: &str) -> Self {
        let (uri, detail) = failure.split_once(": ").unwrap_or(("", failure));
        let text = detail.strip_prefix("WAMP error: ").unwrap_or(detail);
        let first = text.split(": ").next().unwrap_or(text);
        let is_uri = first.contains('.') && !first.contains(char::is_whitespace);
        Self {
            uri: uri.to_owned(),
            error: if is_uri { first } else { text }.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

/// The attach errors of one session.
#[derive(Debug)]
struct AttachErrors {
    session_id: u64,
    errors: Vec<AttachError>,
}

/// The invariant checker (while the store is open) and its last result.
#[derive(Debug, Default)]
struct InvariantState {
    checker: Option<Arc<InvariantChecker>>,
    last: Option<InvariantsView>,
}

/// Why the daemon is not ready (each failed check, in a fixed order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady(pub Vec<String>);

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
        let id = session.as_ref().map(|s| s.session_id);
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = session;
        // Errors of another session are no longer true (the new one reports its own).
        let mut attach = self.attach_errors.lock().unwrap_or_else(|e| e.into_inner());
        if attach.as_ref().is_some_and(|a| Some(a.session_id) != id) {
            *attach = None;
        }
        drop(attach);
        self.notify.notify_waiters();
    }

    /// Records the role's failed registrations/subscriptions on session `session_id` (runtime
    /// reports, `"uri: error"`); an empty list clears them (the role attached).
    pub fn set_attach_errors(&self, session_id: u64, failures: &[String]) {
        let errors = failures
            .iter()
            .map(|f| AttachError::parse(f))
            .collect::<Vec<_>>();
        *self.attach_errors.lock().unwrap_or_else(|e| e.into_inner()) =
            (!errors.is_empty()).then_some(AttachErrors { session_id, errors });
        self.notify.notify_waiters();
    }

    /// The role's failed registrations/subscriptions on the current session.
    pub fn attach_errors(&self) -> Vec<AttachError> {
        self.attach_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|a| a.errors.clone())
            .unwrap_or_default()
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
        let mut failed: Vec<String> = Vec::new();
        if !self.store_open() {
            failed.push("store not open".into());
        }
        if self.session().is_none() {
            failed.push("WAMP session not joined".into());
        }
        let chain = self.chain();
        if !chain.reachable {
            failed.push(match chain.error {
                // A gateway on another chain than configured is named as such, with both ids.
                Some(e) if e.starts_with(crate::ports::error::WRONG_CHAIN) => e,
                _ => "chain not reachable".into(),
            });
        }
        for e in self.attach_errors() {
            failed.push(format!("not attached: {} failed with {}", e.uri, e.error));
        }
        if !self.invariants_hold() {
            failed.push("invariants violated (see /health)".into());
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(NotReady(failed))
        }
    }

    /// The systemd `STATUS=` line while starting (before `READY=1`): what is up and what is
    /// awaited, e.g. `starting: store open; connecting to the router; chain 1337 at block 12`.
    pub fn starting_status(&self) -> String {
        let store = if self.store_open() {
            "store open"
        } else {
            "opening the store"
        };
        let session = match self.session() {
            Some(s) => format!("joined realm {}", s.realm),
            None => "connecting to the router".to_owned(),
        };
        let chain = self.chain();
        let chain = match (chain.reachable, chain.chain_id, chain.block) {
            (true, Some(id), Some(block)) => format!("chain {id} at block {block}"),
            (true, _, _) => "chain reachable".to_owned(),
            (false, _, _)
                if self
                    .chain
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_none() =>
            {
                "probing the chain".to_owned()
            }
            (false, _, _) => "chain not reachable".to_owned(),
        };
        format!("starting: {store}; {session}; {chain}")
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

    fn reachable_chain() -> ChainView {
        ChainView {
            reachable: true,
            chain_id: Some(1337),
            block: Some(5),
            error: None,
        }
    }

    fn session(session_id: u64) -> SessionView {
        SessionView {
            session_id,
            router_url: "ws://127.0.0.1:1/ws".into(),
            realm: "realm1".into(),
            authid: None,
            authrole: None,
        }
    }

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
        h.set_chain(reachable_chain());
        assert_eq!(h.check().unwrap_err().0, vec!["WAMP session not joined"]);
        h.set_session(Some(session(1)));
        assert!(h.check().is_ok());
        h.set_session(None);
        assert!(h.check().is_err());
    }

    #[test]
    fn the_starting_status_says_what_is_up_and_what_is_awaited() {
        let h = Health::default();
        assert_eq!(
            h.starting_status(),
            "starting: opening the store; connecting to the router; probing the chain"
        );
        h.set_store_open(true);
        h.set_chain(ChainView {
            reachable: false,
            chain_id: None,
            block: None,
            error: Some("connection refused".into()),
        });
        assert_eq!(
            h.starting_status(),
            "starting: store open; connecting to the router; chain not reachable"
        );
        h.set_chain(reachable_chain());
        h.set_session(Some(session(3)));
        assert_eq!(
            h.starting_status(),
            "starting: store open; joined realm realm1; chain 1337 at block 5"
        );
    }

    #[test]
    fn attach_reports_parse_to_uri_and_error_uri() {
        let e = AttachError::parse(
            "xbr.provider.0xab.sell: WAMP error: wamp.error.procedure_already_exists: register for already registered procedure 'xbr.provider.0xab.sell'",
        );
        assert_eq!(e.uri, "xbr.provider.0xab.sell");
        assert_eq!(e.error, "wamp.error.procedure_already_exists");
        assert!(
            e.detail
                .starts_with("WAMP error: wamp.error.procedure_already_exists: register")
        );
        let e = AttachError::parse("a.b: connection lost");
        assert_eq!(
            (e.uri.as_str(), e.error.as_str()),
            ("a.b", "connection lost")
        );
    }

    #[test]
    fn a_failed_registration_is_not_ready_and_named_until_attached() {
        let h = Health::default();
        h.set_store_open(true);
        h.set_chain(reachable_chain());
        h.set_session(Some(session(1)));
        let sell = "xbr.provider.0xab.sell";
        h.set_attach_errors(1, &[format!("{sell}: wamp.error.procedure_already_exists")]);
        let errors = h.attach_errors();
        assert_eq!(errors[0].uri, sell);
        assert_eq!(errors[0].error, "wamp.error.procedure_already_exists");
        let why = h.check().unwrap_err().to_string();
        assert!(
            why.contains(sell) && why.contains("procedure_already_exists"),
            "{why}"
        );
        // Attached: ready.
        h.set_attach_errors(1, &[]);
        assert!(h.check().is_ok());
        // Errors of a session that is gone do not hold up the next one.
        h.set_attach_errors(1, &[format!("{sell}: wamp.error.procedure_already_exists")]);
        h.set_session(Some(session(2)));
        assert!(h.attach_errors().is_empty());
        assert!(h.check().is_ok());
    }
}

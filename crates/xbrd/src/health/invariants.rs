//! The `invariants` health check: xbr-market's money-path invariants
//! ([`xbr_market::invariants`]) over this role's own store — the maker's channels and sales, the
//! seller's paying channel and sales, the buyer's payment channel and purchases. Checked every
//! [`PERIOD`] by [`watch`] (a violation degrades `/ready` and shows in `/health`) and on
//! demand by `GET /v1/invariants`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use xbr_core::ChannelId;
use xbr_market::invariants::{Violation, read};

use super::Health;
use crate::config::Role;
use crate::roles::Stores;

/// How often the invariants are checked in the background.
pub const PERIOD: Duration = Duration::from_secs(15);

/// A maker sale unresolved for longer than this is money stuck in flight (a violation).
pub const MAX_INFLIGHT_AGE: Duration = Duration::from_secs(120);

/// `GET /v1/invariants`: the result of one check.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvariantsView {
    /// `seller`, `buyer` or `marketmaker`.
    pub role: String,
    /// When the check ran (Unix ms).
    pub checked_at: u64,
    /// What does not hold; empty when every invariant holds.
    pub violations: Vec<ViolationView>,
}

/// One invariant that does not hold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ViolationView {
    /// Which invariant, e.g. `inflight_matches_sales`.
    pub invariant: String,
    /// Whose records (`marketmaker`, `seller`, `buyer`).
    pub party: String,
    /// The channel concerned (UUID).
    pub channel_oid: ChannelId,
    /// The figures that show it, by name (amounts in base units).
    pub figures: BTreeMap<String, String>,
    /// The same in one line.
    pub message: String,
}

impl From<&Violation> for ViolationView {
    fn from(v: &Violation) -> Self {
        ViolationView {
            invariant: v.invariant.as_str().to_owned(),
            party: v.party.as_str().to_owned(),
            channel_oid: v.channel,
            figures: v
                .figures
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            message: v.to_string(),
        }
    }
}

/// Checks the invariants of one role's store.
pub struct InvariantChecker {
    role: Role,
    stores: Stores,
}

impl std::fmt::Debug for InvariantChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvariantChecker")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl InvariantChecker {
    /// A checker of `role`'s records in `stores`.
    pub fn new(role: Role, stores: Stores) -> Self {
        InvariantChecker { role, stores }
    }

    /// Runs the check (on the blocking pool: it reads every record of the role).
    pub async fn check(&self) -> Result<InvariantsView, String> {
        let (role, stores) = (self.role, self.stores.clone());
        let violations = tokio::task::spawn_blocking(move || match role {
            Role::Marketmaker => {
                let now_ns = unix_ms().saturating_mul(1_000_000);
                let max_age = MAX_INFLIGHT_AGE.as_nanos() as u64;
                read::check_maker(stores.maker.as_ref(), now_ns, max_age)
            }
            Role::Seller => read::check_seller(stores.seller.as_ref()),
            Role::Buyer => read::check_buyer(stores.buyer.as_ref()),
        })
        .await
        .map_err(|e| format!("invariant check task failed: {e}"))?
        .map_err(|e| e.to_string())?;
        Ok(InvariantsView {
            role: self.role.to_string(),
            checked_at: unix_ms(),
            violations: violations.iter().map(ViolationView::from).collect(),
        })
    }
}

/// Installs `checker` in `health` and checks every [`PERIOD`] until `stop`, logging each change
/// of the outcome; on stop the checker (and with it the store) is released.
pub async fn watch(health: Arc<Health>, checker: InvariantChecker, stop: CancellationToken) {
    health.set_invariant_checker(Some(Arc::new(checker)));
    let mut held = None;
    loop {
        match health.check_invariants().await {
            Some(Ok(view)) if held != Some(view.violations.is_empty()) => {
                if view.violations.is_empty() {
                    tracing::info!("invariants hold");
                } else {
                    for v in &view.violations {
                        tracing::error!(invariant = %v.invariant, channel = %v.channel_oid, "invariant violated: {}", v.message);
                    }
                }
                held = Some(view.violations.is_empty());
            }
            Some(Err(e)) => tracing::warn!(error = %e, "invariant check failed"),
            _ => {}
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
    health.set_invariant_checker(None);
}

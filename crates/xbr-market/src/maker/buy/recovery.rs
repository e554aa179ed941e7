//! Recovery of unresolved sales: at start ([`MarketMaker::recover_sales`], after the first chain
//! sync) and periodically for sales older than a bound ([`MarketMaker::sweep_sales`]). A sale
//! whose seller does not answer stays unresolved and is tried again with a growing delay
//! ([`Backoff`]); [`MarketMaker::unresolved_sales_health`] reports how many there are and the
//! oldest one's age, for a health check.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::resolve::Resolution;
use crate::error::MarketResult;
use crate::maker::MarketMaker;
use crate::peer::now_ns;
use crate::types::{Sale, TxId};

/// The first delay before a sale whose seller did not answer is tried again.
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// The longest delay between two tries.
const MAX_RETRY: Duration = Duration::from_secs(60);

/// When a sale whose seller did not answer may be tried again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    attempts: u32,
    next: Instant,
}

/// What one recovery round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Sales completed.
    pub completed: usize,
    /// Sales rolled back.
    pub rolled_back: usize,
    /// Sales still unresolved (their seller's answer is not known).
    pub pending: usize,
}

/// The unresolved sales right now (a health check degrades past a bound).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnresolvedSales {
    /// How many.
    pub count: usize,
    /// The age of the oldest (`None` if there is none).
    pub oldest_age: Option<Duration>,
}

fn age(sale: &Sale, now_ns: u64) -> Duration {
    Duration::from_nanos(now_ns.saturating_sub(sale.created))
}

impl MarketMaker {
    /// Resolves every unresolved sale now (at start, after the first chain sync): a
    /// SELLER_SIGNED one is finished, an INFLIGHT one gets the identical `sell` again.
    pub async fn recover_sales(&self) -> MarketResult<RecoveryReport> {
        self.resolve_sales(Duration::ZERO, false).await
    }

    /// Resolves the unresolved sales older than `older_than` whose retry delay has passed (the
    /// sweeper's round).
    pub async fn sweep_sales(&self, older_than: Duration) -> MarketResult<RecoveryReport> {
        self.resolve_sales(older_than, true).await
    }

    /// How many sales are unresolved and how old the oldest is.
    pub async fn unresolved_sales_health(&self) -> MarketResult<UnresolvedSales> {
        let sales = self.db(|s| s.unresolved_sales()).await?;
        let now = now_ns();
        Ok(UnresolvedSales {
            count: sales.len(),
            oldest_age: sales.iter().map(|s| age(s, now)).max(),
        })
    }

    /// Resolves the unresolved sales older than `older_than`; the sweeper (`sweeping`) skips
    /// those not due for a retry and those whose channels are busy.
    async fn resolve_sales(
        &self,
        older_than: Duration,
        sweeping: bool,
    ) -> MarketResult<RecoveryReport> {
        let sales = self.db(|s| s.unresolved_sales()).await?;
        let now = now_ns();
        let mut report = RecoveryReport::default();
        for sale in sales {
            if age(&sale, now) < older_than || (sweeping && !self.retry_due(&sale.tx_id)) {
                continue;
            }
            let payment_lock = self.lock_for(&sale.payment_channel);
            let paying_lock = self.lock_for(&sale.paying_channel);
            // The sweeper leaves a channel that is busy (a sale running on it resolves the
            // channel's unresolved sale itself) for its next round; recovery at start waits.
            let _guards = if sweeping {
                match (payment_lock.try_lock(), paying_lock.try_lock()) {
                    (Ok(payment), Ok(paying)) => (payment, paying),
                    _ => {
                        report.pending += 1;
                        continue;
                    }
                }
            } else {
                (payment_lock.lock().await, paying_lock.lock().await)
            };
            match self.resolve_locked(sale.tx_id).await {
                Ok(Resolution::Completed) => report.completed += 1,
                Ok(Resolution::RolledBack) => report.rolled_back += 1,
                Ok(Resolution::Pending) => report.pending += 1,
                Err(e) => {
                    warn!(tx_id = %sale.tx_id, error = %e, "an unresolved sale could not be resolved");
                    self.note_attempt(sale.tx_id, Resolution::Pending);
                    report.pending += 1;
                }
            }
        }
        if report != RecoveryReport::default() {
            info!(
                completed = report.completed,
                rolled_back = report.rolled_back,
                pending = report.pending,
                "unresolved sales recovered"
            );
        }
        Ok(report)
    }

    fn retry_due(&self, tx_id: &TxId) -> bool {
        let retries = self.sale_retries.lock().unwrap_or_else(|p| p.into_inner());
        retries.get(tx_id).is_none_or(|b| b.next <= Instant::now())
    }

    /// Records the outcome of an attempt to resolve a sale: a pending one waits twice as long
    /// as last time (up to [`MAX_RETRY`]) before the sweeper tries it again.
    pub(crate) fn note_attempt(&self, tx_id: TxId, resolution: Resolution) {
        let mut retries = self.sale_retries.lock().unwrap_or_else(|p| p.into_inner());
        if resolution != Resolution::Pending {
            retries.remove(&tx_id);
            return;
        }
        let attempts = retries.get(&tx_id).map_or(0, |b| b.attempts) + 1;
        let delay = FIRST_RETRY
            .saturating_mul(1 << attempts.min(6).saturating_sub(1))
            .min(MAX_RETRY);
        retries.insert(
            tx_id,
            Backoff {
                attempts,
                next: Instant::now() + delay,
            },
        );
    }
}

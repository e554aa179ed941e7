//! The chain probe: one task asks the gateway for its head every period and records what it saw
//! for `/ready` and `/v1/status` ([`Health::set_chain`]) and for the chain gauges
//! (`xbrd_chain_up`, `xbrd_chain_head_block`). A gateway on another chain than
//! `ethereum.chain_id` counts as down and is logged as an error (nothing will be sent to it).
//! The task is owned by the caller and ends when `stop` is cancelled.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Metrics;
use crate::admin::dto::ChainView;
use crate::health::Health;
use crate::ports::{ChainApi, ChainError};

/// Default probe period (`[admin] chain_interval`).
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);

/// A probe that takes longer counts as the chain not answering.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// Where the probe reports.
pub struct ChainProbe {
    /// The chain.
    pub chain: Arc<dyn ChainApi>,
    /// Readiness.
    pub health: Arc<Health>,
    /// The chain gauges.
    pub metrics: Arc<Metrics>,
    /// Probe every this often.
    pub period: Duration,
}

impl ChainProbe {
    /// Probes until `stop` is cancelled (the first probe at once).
    pub fn spawn(self, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(self.run(stop))
    }

    async fn run(self, stop: CancellationToken) {
        let mut was: Option<(bool, bool)> = None;
        loop {
            let probe = tokio::time::timeout(PROBE_TIMEOUT, self.chain.head());
            let probe = tokio::select! {
                _ = stop.cancelled() => return,
                probe = probe => probe,
            };
            let wrong = matches!(probe, Ok(Err(ChainError::WrongChain(_))));
            let view = view(probe);
            if was != Some((view.reachable, wrong)) {
                log_change(&view, wrong);
                was = Some((view.reachable, wrong));
            }
            self.metrics.set_chain_head(view.block);
            self.health.set_chain(view);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.period) => {}
            }
        }
    }
}

/// What a probe saw.
fn view(
    probe: Result<Result<crate::ports::ChainHead, ChainError>, tokio::time::error::Elapsed>,
) -> ChainView {
    let failed = |error: String| ChainView {
        reachable: false,
        chain_id: None,
        block: None,
        error: Some(error),
    };
    match probe {
        Ok(Ok(head)) => ChainView {
            reachable: true,
            chain_id: Some(head.chain_id),
            block: Some(head.block),
            error: None,
        },
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed("chain probe timed out".into()),
    }
}

fn log_change(view: &ChainView, wrong: bool) {
    match &view.error {
        None => tracing::info!(
            chain_id = view.chain_id,
            block = view.block,
            "chain reachable"
        ),
        Some(e) if wrong => tracing::error!(
            error = %e,
            "refusing the Ethereum gateway: it serves another chain than ethereum.chain_id; no transaction is sent"
        ),
        Some(e) => tracing::warn!(error = %e, "chain not reachable"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::ports::{ChainHead, Membership, OnChainBalance};

    /// A chain whose head is the stored block, or down while it is 0.
    #[derive(Default)]
    struct Head(AtomicU64);

    impl ChainApi for Head {
        fn head(&self) -> BoxFuture<'_, Result<ChainHead, ChainError>> {
            let block = self.0.load(Ordering::SeqCst);
            Box::pin(async move {
                match block {
                    0 => Err(ChainError::Unreachable("connection refused".into())),
                    block => Ok(ChainHead {
                        chain_id: 1337,
                        block,
                    }),
                }
            })
        }

        fn balances(
            &self,
            _: alloy_primitives::Address,
        ) -> BoxFuture<'_, Result<OnChainBalance, ChainError>> {
            Box::pin(async { Err(ChainError::Read("the probe reads only the head".into())) })
        }

        fn member(
            &self,
            _: alloy_primitives::Address,
        ) -> BoxFuture<'_, Result<Option<Membership>, ChainError>> {
            Box::pin(async { Err(ChainError::Read("the probe reads only the head".into())) })
        }
    }

    /// Waits until the last probe `health` saw was `reachable`.
    async fn probed(health: &Health, reachable: bool) {
        loop {
            let changed = health.changed();
            if health.chain().reachable == reachable {
                return;
            }
            changed.await;
        }
    }

    #[tokio::test]
    async fn the_gauges_and_readiness_follow_the_chain_and_the_task_ends_on_stop() {
        let chain = Arc::new(Head(AtomicU64::new(7)));
        let (health, metrics) = (Arc::new(Health::default()), Arc::new(Metrics::new()));
        let stop = CancellationToken::new();
        let task = ChainProbe {
            chain: chain.clone(),
            health: health.clone(),
            metrics: metrics.clone(),
            period: Duration::from_millis(10),
        }
        .spawn(stop.clone());
        probed(&health, true).await;
        assert_eq!(metrics.chain_up.get(), 1);
        assert_eq!(metrics.chain_head_block.get(), 7);
        chain.0.store(0, Ordering::SeqCst);
        probed(&health, false).await;
        assert_eq!(metrics.chain_up.get(), 0);
        assert_eq!(metrics.chain_head_block.get(), 7);
        chain.0.store(9, Ordering::SeqCst);
        probed(&health, true).await;
        // The gauges are set before readiness is.
        assert_eq!(metrics.chain_head_block.get(), 9);
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the probe ends on stop")
            .unwrap();
    }
}

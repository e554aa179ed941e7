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

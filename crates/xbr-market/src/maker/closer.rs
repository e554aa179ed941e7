//! The close worker: carries every persisted [`CloseIntent`] to the chain, in a task owned by the
//! maker, never inside a WAMP handler's future.
//!
//! Each round loads the intents that are not final and moves each one step:
//! - **Signed**: `closeChannel` is submitted; the transaction hash is saved (Submitted), or the
//!   node's revert is saved as the reason (Failed, never retried).
//! - **Submitted**: the transaction is looked up by hash. Mined with status 1 → Mined; status 0
//!   → Failed. Known but not mined → wait. Unknown to the node for longer than
//!   [`CloseConfig::resubmit_after`] → submitted again (a receipt that does not come is not a
//!   failure: the hash is checked before anything is sent again).
//! - **Mined**: the transaction is looked up again; if a reorg dropped it, back to Submitted.
//!   The chain's scan makes it Final when it sees the channel's `Closing`/`Closed` log at the
//!   confirmation depth (see [`MarketMaker::scan_channels`]).
//!
//! A chain error leaves the intent where it is; the worker retries with exponential backoff
//! ([`CloseConfig::retry_min`] up to [`CloseConfig::retry_max`]). It polls every
//! [`CloseConfig::poll`] while an intent is on its way, is woken at once when a new intent is
//! written, and at start picks up every intent that is not final (recovery after a crash).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{ChainClose, MakerChain, MarketMaker};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::store::{MakerStore, blocking};
use crate::types::{ChannelId, CloseIntent, CloseState};

/// How the close worker retries and how long a close reply waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseConfig {
    /// First backoff after a chain error.
    pub retry_min: Duration,
    /// Longest backoff after repeated chain errors.
    pub retry_max: Duration,
    /// How often a submitted or mined close is looked up.
    pub poll: Duration,
    /// A transaction the node does not know for this long after it was sent is sent again.
    pub resubmit_after: Duration,
    /// How long `close_channel` waits for the worker to see the close mined (or failed) before
    /// it answers with the close still on its way.
    pub reply_wait: Duration,
}

impl Default for CloseConfig {
    fn default() -> Self {
        Self {
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            resubmit_after: Duration::from_secs(120),
            reply_wait: Duration::from_secs(20),
        }
    }
}

/// What became of a `closeChannel` submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseSubmission {
    /// The node accepted the transaction with this hash.
    Sent([u8; 32]),
    /// The call reverts (the node refused it): it will never succeed.
    Rejected(String),
}

/// What the chain knows of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Not known (never received, dropped, or reorganised out).
    Unknown,
    /// Known, not mined yet.
    Pending,
    /// Mined in `block`; `success` is the receipt's status.
    Mined {
        /// The block.
        block: u64,
        /// Status 1.
        success: bool,
    },
}

/// What one round of the worker did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseRound {
    /// Intents that moved a step.
    pub moved: usize,
    /// Intents still on their way after the round.
    pub open: usize,
    /// Steps that failed on a chain or store error (retried).
    pub errors: usize,
}

/// The state the worker shares with the maker: store, chain, configuration and signals.
struct Worker {
    store: Arc<dyn MakerStore>,
    chain: Arc<dyn MakerChain>,
    cfg: CloseConfig,
    wake: Notify,
    /// Bumped whenever an intent moved (by the worker or the scan).
    progress: watch::Sender<u64>,
}

/// The maker's close worker (a task started once, stopped when the maker is dropped).
pub(super) struct Closer {
    worker: Option<Arc<Worker>>,
    progress: watch::Sender<u64>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Closer {
    /// A worker over `chain` (none: closes are recorded, never submitted).
    pub(super) fn new(
        store: Arc<dyn MakerStore>,
        chain: Option<Arc<dyn MakerChain>>,
        cfg: CloseConfig,
    ) -> Self {
        let (progress, _) = watch::channel(0);
        let worker = chain.map(|chain| {
            Arc::new(Worker {
                store,
                chain,
                cfg,
                wake: Notify::new(),
                progress: progress.clone(),
            })
        });
        Self {
            worker,
            progress,
            task: Mutex::new(None),
        }
    }

    /// Whether closes are submitted (a chain is configured).
    pub(super) fn submits(&self) -> bool {
        self.worker.is_some()
    }

    fn cfg(&self) -> CloseConfig {
        self.worker.as_ref().map(|w| w.cfg).unwrap_or_default()
    }

    /// Starts the task if it is not running; then wakes it.
    pub(super) fn wake(&self) {
        let Some(worker) = &self.worker else {
            return;
        };
        let mut task = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if task.as_ref().is_none_or(|t| t.is_finished()) {
            *task = Some(tokio::spawn(Arc::clone(worker).run()));
        }
        worker.wake.notify_one();
    }

    /// Tells the waiters that an intent moved.
    pub(super) fn moved(&self) {
        self.progress.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        if let Some(t) = self
            .task
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
    }
}

impl Worker {
    /// Rounds until the task is aborted: at once, then after a backoff, a poll or a wake-up.
    async fn run(self: Arc<Self>) {
        let mut backoff = self.cfg.retry_min;
        loop {
            let round = self.round().await;
            let pause = if round.errors > 0 {
                let pause = backoff;
                backoff = (backoff * 2).min(self.cfg.retry_max);
                Some(pause)
            } else {
                backoff = self.cfg.retry_min;
                (round.open > 0).then_some(self.cfg.poll)
            };
            match pause {
                Some(pause) => {
                    let _ = tokio::time::timeout(pause, self.wake.notified()).await;
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// Moves every intent that is not final one step.
    async fn round(&self) -> CloseRound {
        let mut round = CloseRound::default();
        let intents = match blocking(&self.store, |s| s.close_intents()).await {
            Ok(all) => all,
            Err(e) => {
                warn!(error = %e, "close intents not loaded");
                round.errors += 1;
                return round;
            }
        };
        for intent in intents.into_iter().filter(|c| c.state.is_open()) {
            let oid = intent.channel_oid;
            match self.step(intent).await {
                Ok(state) => {
                    if let Some(state) = state {
                        round.moved += 1;
                        self.progress.send_modify(|n| *n = n.wrapping_add(1));
                        info!(channel = %oid, ?state, "close moved");
                        if state.is_open() {
                            round.open += 1;
                        }
                    } else {
                        round.open += 1;
                    }
                }
                Err(e) => {
                    warn!(channel = %oid, error = %e, "close step failed; retrying");
                    round.errors += 1;
                    round.open += 1;
                }
            }
        }
        round
    }

    /// One step of `c`; the new state if it moved.
    async fn step(&self, c: CloseIntent) -> MarketResult<Option<CloseState>> {
        let hash = match (c.state, c.tx_hash) {
            (CloseState::Signed, _) | (CloseState::Submitted, None) => {
                return self.submit(c).await.map(Some);
            }
            (_, Some(hash)) => hash,
            (_, None) => return Ok(None),
        };
        let status = self.chain.transaction(hash).await?;
        let mut next = c.clone();
        match (c.state, status) {
            (CloseState::Submitted, TxStatus::Mined { block, success }) => {
                crate::failpoint!("close::after_mined");
                next.mined_block = Some(block);
                if success {
                    next.state = CloseState::Mined;
                } else {
                    next.state = CloseState::Failed;
                    next.failure = Some(format!("closeChannel reverted in block {block}"));
                }
            }
            (CloseState::Submitted, TxStatus::Unknown) if self.unknown_too_long(&c) => {
                return self.submit(c).await.map(Some);
            }
            (CloseState::Mined, TxStatus::Unknown | TxStatus::Pending) => {
                // A reorg dropped the block: the transaction is on its way again (or lost).
                next.state = CloseState::Submitted;
                next.mined_block = None;
                next.submitted_at = Some(now_ns());
            }
            _ => return Ok(None),
        }
        self.save(next, c.state).await
    }

    /// Whether the node has not known `c`'s transaction for longer than the resubmit bound.
    fn unknown_too_long(&self, c: &CloseIntent) -> bool {
        let since = c.submitted_at.unwrap_or(0);
        let bound = u64::try_from(self.cfg.resubmit_after.as_nanos()).unwrap_or(u64::MAX);
        now_ns().saturating_sub(since) >= bound
    }

    /// Sends `closeChannel` for `c` and saves what became of it.
    async fn submit(&self, c: CloseIntent) -> MarketResult<CloseState> {
        let sent = self
            .chain
            .submit_close(ChainClose {
                channel_oid: c.channel_oid,
                close_at: c.close_at,
                seq: c.seq,
                balance: c.balance,
                is_final: c.is_final,
                delegate_signature: c.delegate_signature,
                marketmaker_signature: c.marketmaker_signature,
            })
            .await?;
        crate::failpoint!("close::after_submit");
        let mut next = c.clone();
        next.attempts = c.attempts.saturating_add(1);
        match sent {
            CloseSubmission::Sent(hash) => {
                next.state = CloseState::Submitted;
                next.tx_hash = Some(hash);
                next.submitted_at = Some(now_ns());
            }
            CloseSubmission::Rejected(reason) => {
                next.state = CloseState::Failed;
                next.failure = Some(reason);
            }
        }
        let state = next.state;
        self.save(next, c.state).await?;
        Ok(state)
    }

    async fn save(
        &self,
        next: CloseIntent,
        expect: CloseState,
    ) -> MarketResult<Option<CloseState>> {
        let state = next.state;
        blocking(&self.store, move |s| s.save_close_progress(&next, expect)).await?;
        Ok(Some(state))
    }
}

impl MarketMaker {
    /// Starts the close worker (recovery: it picks up every close that is not final). Does
    /// nothing without a chain or when it runs already; a new close starts it too.
    pub fn start_closer(&self) {
        self.closer.wake();
    }

    /// One round of the close worker, run here (tests and tools; the worker runs them itself).
    pub async fn close_round(&self) -> MarketResult<CloseRound> {
        let worker = self
            .closer
            .worker
            .as_ref()
            .ok_or_else(|| MarketError::new(uri::CHAIN_ERROR, "no chain configured"))?;
        Ok(worker.round().await)
    }

    /// Waits until the close intent of `channel_oid` satisfies `done` or `within` passed (the
    /// intent as it then is; `None` if the channel has none). Dropping the wait changes nothing.
    pub async fn await_close(
        &self,
        channel_oid: ChannelId,
        within: Duration,
        done: impl Fn(&CloseIntent) -> bool,
    ) -> MarketResult<Option<CloseIntent>> {
        let mut progress = self.closer.progress.subscribe();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            progress.mark_unchanged();
            let intent = blocking(&self.store, move |s| s.close_intent(&channel_oid)).await?;
            if intent.as_ref().is_none_or(&done) {
                return Ok(intent);
            }
            if tokio::time::timeout_at(deadline, progress.changed())
                .await
                .is_err()
            {
                return Ok(intent);
            }
        }
    }

    /// How long a close reply waits for the worker.
    pub(super) fn close_reply_wait(&self) -> Duration {
        self.closer.cfg().reply_wait
    }
}

#[cfg(test)]
mod tests;

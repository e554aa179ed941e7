//! The close worker: carries every persisted [`CloseIntent`] to the chain, in a task owned by the
//! maker, never inside a WAMP handler's future.
//!
//! Each round loads the intents that are not final and moves each one step (module `steps`):
//! - **Signed**: `closeChannel` is signed with the maker key's next nonce and capped fees; the
//!   signed version is persisted (Submitted), *then* broadcast, and the broadcast noted. A
//!   call the node refuses because it reverts is saved as the reason (Failed, never retried).
//! - **Submitted**: every persisted version's hash is looked up (any may be the one mined).
//!   Mined with status 1 → Mined; status 0 → Failed. A version whose broadcast is not known to
//!   have happened (a crash between persisting and broadcasting) is broadcast again, the same
//!   bytes. Pending for longer than the chain policy's
//!   [`replace_after`](Replacement::replace_after) → a replacement (same nonce, fees bumped and
//!   capped), persisted before its broadcast, at most
//!   [`max_replacements`](Replacement::max_replacements) (then the latest is re-broadcast).
//!   Unknown to the node: if the key's mined nonce is past ours and still none of our hashes is
//!   known, another transaction took the nonce and the close is signed anew with a fresh one;
//!   otherwise, after [`CloseConfig::resubmit_after`], a replacement as above. A new nonce is
//!   never signed while a persisted version could still be mined.
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

use super::{MakerChain, MarketMaker};
use crate::error::{MarketError, MarketResult, uri};
use crate::store::{MakerStore, blocking};
use crate::types::{ChannelId, CloseIntent, CloseTx};

mod steps;

/// How the close worker retries and how long a close reply waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseConfig {
    /// First backoff after a chain error.
    pub retry_min: Duration,
    /// Longest backoff after repeated chain errors.
    pub retry_max: Duration,
    /// How often a submitted or mined close is looked up.
    pub poll: Duration,
    /// A transaction the node does not know for this long after it was sent is replaced (same
    /// nonce, higher fees; see the module docs).
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

/// What became of signing a `closeChannel` ([`MakerChain::sign_close`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseSigning {
    /// Signed, not sent: persist it, then broadcast it.
    Signed(CloseTx),
    /// The call reverts (the node refused to estimate it): it will never succeed.
    Rejected(String),
}

/// What the node did with a broadcast close transaction ([`MakerChain::broadcast_close`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseBroadcast {
    /// Accepted, or known already.
    Accepted,
    /// Refused (nonce used, a pending transaction with higher fees, no funds): the worker
    /// follows the close by its hashes and the key's nonce.
    Refused(String),
}

/// When a pending close is replaced and how often ([`MakerChain::replacement`]; xbr-chain's
/// `TxPolicy` on a real chain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replacement {
    /// A version pending this long after its broadcast gets a replacement.
    pub replace_after: Duration,
    /// Replacements per nonce at most.
    pub max_replacements: u32,
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
#[cfg(test)]
mod version_tests;

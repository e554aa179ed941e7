//! One step of a close intent (see the [parent module](super) for the states): sign and persist
//! before broadcasting, follow every persisted version, replace a stuck one, and sign anew only
//! when another transaction provably took the nonce.

use tracing::{info, warn};

use super::{CloseBroadcast, CloseSigning, TxStatus, Worker};
use crate::error::MarketResult;
use crate::maker::ChainClose;
use crate::peer::now_ns;
use crate::store::blocking;
use crate::types::{CloseIntent, CloseState, CloseTx};

/// Each hash of an intent with what the node knows of it.
type Statuses = Vec<([u8; 32], TxStatus)>;

impl Worker {
    /// One step of `c`; the new state if it moved.
    pub(super) async fn step(&self, c: CloseIntent) -> MarketResult<Option<CloseState>> {
        match c.state {
            CloseState::Signed => self.sign_new(c).await,
            CloseState::Submitted => self.follow(c).await,
            CloseState::Mined => self.recheck_mined(c).await,
            CloseState::Final | CloseState::Failed => Ok(None),
        }
    }

    /// A Submitted close: mined, broadcast again, replaced, signed anew, or left waiting.
    async fn follow(&self, c: CloseIntent) -> MarketResult<Option<CloseState>> {
        let hashes = c.hashes();
        if hashes.is_empty() {
            return self.sign_new(c).await;
        }
        let statuses = self.statuses(&hashes).await?;
        if let Some(next) = mined(&c, &statuses) {
            crate::failpoint!("close::after_mined");
            return self.save(next, c.state).await;
        }
        let pending = statuses.iter().any(|(_, s)| *s == TxStatus::Pending);
        let Some(latest) = c.versions.last().cloned() else {
            // A transaction sent before versions were kept: nothing to re-broadcast or replace.
            if !pending && self.older_than(&c, self.cfg.resubmit_after) {
                return self.sign_new(c).await;
            }
            return Ok(None);
        };
        if c.submitted_at.is_none() {
            // Persisted, but its broadcast is not known to have happened (a restart).
            return self.broadcast(c, latest).await;
        }
        if pending {
            if self.older_than(&c, self.chain.replacement().replace_after) {
                return self.replace(c, latest).await;
            }
            return Ok(None);
        }
        // The node knows none of our versions. The mined nonce is read before our hashes are
        // looked up again, so a version mined in between is seen.
        if self.chain.mined_nonce().await? > latest.nonce {
            let again = self.statuses(&hashes).await?;
            if let Some(next) = mined(&c, &again) {
                return self.save(next, c.state).await;
            }
            if again.iter().all(|(_, s)| *s == TxStatus::Unknown) {
                warn!(channel = %c.channel_oid, nonce = latest.nonce, "another transaction took the close's nonce; signing it anew");
                return self.sign_new(c).await;
            }
            return Ok(None);
        }
        if self.older_than(&c, self.cfg.resubmit_after) {
            return self.replace(c, latest).await;
        }
        Ok(None)
    }

    /// A Mined close whose block a reorg dropped goes back to Submitted.
    async fn recheck_mined(&self, c: CloseIntent) -> MarketResult<Option<CloseState>> {
        let Some(hash) = c.tx_hash else {
            return Ok(None);
        };
        match self.chain.transaction(hash).await? {
            TxStatus::Unknown | TxStatus::Pending => {
                let mut next = c.clone();
                next.state = CloseState::Submitted;
                next.mined_block = None;
                next.submitted_at = Some(now_ns());
                self.save(next, c.state).await
            }
            TxStatus::Mined { .. } => Ok(None),
        }
    }

    /// What the node knows of each of `hashes`.
    async fn statuses(&self, hashes: &[[u8; 32]]) -> MarketResult<Statuses> {
        let mut out = Vec::with_capacity(hashes.len());
        for hash in hashes {
            out.push((*hash, self.chain.transaction(*hash).await?));
        }
        Ok(out)
    }

    /// Whether the latest broadcast of `c` is at least `bound` old.
    fn older_than(&self, c: &CloseIntent, bound: std::time::Duration) -> bool {
        let since = c.submitted_at.unwrap_or(0);
        let bound = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        now_ns().saturating_sub(since) >= bound
    }

    /// Signs `closeChannel` with a fresh nonce, then persists and broadcasts it.
    async fn sign_new(&self, c: CloseIntent) -> MarketResult<Option<CloseState>> {
        let close = ChainClose {
            channel_oid: c.channel_oid,
            close_at: c.close_at,
            seq: c.seq,
            balance: c.balance,
            is_final: c.is_final,
            delegate_signature: c.delegate_signature,
            marketmaker_signature: c.marketmaker_signature,
        };
        match self.chain.sign_close(close).await? {
            CloseSigning::Signed(tx) => self.persist_and_broadcast(c, tx).await,
            CloseSigning::Rejected(reason) => {
                let mut next = c.clone();
                next.attempts = c.attempts.saturating_add(1);
                next.state = CloseState::Failed;
                next.failure = Some(reason);
                self.save(next, c.state).await
            }
        }
    }

    /// A replacement of `latest` (same nonce, bumped fees) while the policy allows one; else
    /// `latest` broadcast again (a node may have dropped it).
    async fn replace(&self, c: CloseIntent, latest: CloseTx) -> MarketResult<Option<CloseState>> {
        let allowed = self.chain.replacement().max_replacements;
        let made = c
            .versions
            .iter()
            .filter(|v| v.nonce == latest.nonce)
            .count()
            - 1;
        if u32::try_from(made).unwrap_or(u32::MAX) < allowed
            && let Some(tx) = self.chain.sign_close_replacement(latest.clone()).await?
        {
            info!(channel = %c.channel_oid, nonce = tx.nonce, max_fee_per_gas = tx.max_fee_per_gas, "close transaction replaced with higher fees");
            return self.persist_and_broadcast(c, tx).await;
        }
        self.broadcast(c, latest).await
    }

    /// Persists the signed version `tx` of `c` (Submitted), then broadcasts it.
    async fn persist_and_broadcast(
        &self,
        c: CloseIntent,
        tx: CloseTx,
    ) -> MarketResult<Option<CloseState>> {
        let mut next = c.clone();
        next.attempts = c.attempts.saturating_add(1);
        next.state = CloseState::Submitted;
        next.tx_hash = Some(tx.hash);
        next.submitted_at = None;
        next.versions.push(tx.clone());
        self.save(next.clone(), c.state).await?;
        crate::failpoint!("close::after_persist");
        self.broadcast(next, tx).await
    }

    /// Broadcasts the persisted version `tx` of `c` and notes when.
    async fn broadcast(&self, c: CloseIntent, tx: CloseTx) -> MarketResult<Option<CloseState>> {
        if let CloseBroadcast::Refused(reason) = self.chain.broadcast_close(tx).await? {
            warn!(channel = %c.channel_oid, %reason, "the node refused the close transaction; following it by hash and nonce");
        }
        crate::failpoint!("close::after_broadcast");
        let mut next = c.clone();
        next.submitted_at = Some(now_ns());
        self.save(next, c.state).await
    }

    /// Saves `next` if the stored intent is still in `expect`.
    pub(super) async fn save(
        &self,
        next: CloseIntent,
        expect: CloseState,
    ) -> MarketResult<Option<CloseState>> {
        let state = next.state;
        blocking(&self.store, move |s| s.save_close_progress(&next, expect)).await?;
        Ok(Some(state))
    }
}

/// `c` as mined, if one of its hashes is: Mined (status 1) or Failed (status 0).
fn mined(c: &CloseIntent, statuses: &Statuses) -> Option<CloseIntent> {
    let (hash, block, success) = statuses.iter().find_map(|(h, s)| match s {
        TxStatus::Mined { block, success } => Some((*h, *block, *success)),
        _ => None,
    })?;
    let mut next = c.clone();
    next.tx_hash = Some(hash);
    next.mined_block = Some(block);
    if success {
        next.state = CloseState::Mined;
    } else {
        next.state = CloseState::Failed;
        next.failure = Some(format!("closeChannel reverted in block {block}"));
    }
    Some(next)
}

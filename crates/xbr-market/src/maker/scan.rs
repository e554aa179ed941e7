//! The maker's view of the chain: the `XBRChannel` lifecycle logs of its market (`Opened`,
//! `Closing`, `Closed`) scanned incrementally, in bounded block ranges (one `eth_getLogs` each),
//! up to the last final block (head minus the confirmation depth), from a cursor saved in the
//! maker's store after every range. Each round starts a few blocks before the cursor again, so a
//! log that a reorg moved into blocks already scanned is still found. Applying a log is
//! idempotent: a known channel is not mirrored again, and a channel's state only moves forward
//! (Open → Closing → Closed), under the channel's lock so no sale or close of it is under way.
//! A `Closing`/`Closed` log also makes the maker's close intent of the channel final.

use super::{ChainChannelEvent, MakerChain, MarketMaker};
use crate::error::{MarketError, MarketResult, uri};
use crate::store::blocking;
use crate::types::ChannelState;

/// How the maker scans the chain's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanConfig {
    /// At most this many blocks per `eth_getLogs` call (0 counts as 1).
    pub max_range: u64,
    /// Blocks below the head that are not final yet (0: the head is final, as on dev chains).
    pub confirmations: u64,
    /// Blocks before the saved cursor scanned again each round (reorg tolerance).
    pub rescan: u64,
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            max_range: 2_000,
            confirmations: 0,
            rescan: 12,
        }
    }
}

impl ScanConfig {
    /// The last final block at chain head `head` (`None` while the chain is shorter than the
    /// confirmation depth).
    pub fn final_block(&self, head: u64) -> Option<u64> {
        head.checked_sub(self.confirmations)
    }

    /// The first block of a round that continues from the saved `cursor`.
    pub fn round_start(&self, cursor: Option<u64>) -> u64 {
        cursor.unwrap_or(0).saturating_sub(self.rescan)
    }
}

/// The inclusive block ranges covering `from..=to`, in order, each at most `max_range` blocks
/// long (empty if `from > to`).
pub fn block_ranges(from: u64, to: u64, max_range: u64) -> impl Iterator<Item = (u64, u64)> {
    let step = max_range.max(1);
    let mut next = Some(from).filter(|f| *f <= to);
    std::iter::from_fn(move || {
        let start = next?;
        let end = start.saturating_add(step - 1).min(to);
        next = end.checked_add(1).filter(|n| *n <= to);
        Some((start, end))
    })
}

/// What a channel scan found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelScan {
    /// Channels mirrored for the first time.
    pub new: usize,
    /// Mirrored channels whose state moved on a `Closing` or `Closed` log.
    pub settled: usize,
    /// The block to scan from next time (one past the last final block scanned).
    pub next_block: u64,
    /// How many block ranges (`eth_getLogs` calls) the scan took.
    pub ranges: usize,
}

impl MarketMaker {
    /// The chain, or `xbr.error.chain_error` if none is configured.
    pub(super) fn chain(&self) -> MarketResult<&dyn MakerChain> {
        self.chain
            .as_deref()
            .ok_or_else(|| MarketError::new(uri::CHAIN_ERROR, "no chain configured"))
    }

    /// Scans the chain's channel logs of this market from `from_block` up to the last final
    /// block, in ranges of at most [`ScanConfig::max_range`] blocks: mirrors the channels
    /// brokered by this maker that are new (seq 1, remaining = amount), including those opened
    /// without it (e.g. by a member directly on chain), and follows their closes. The saved
    /// cursor moves forward after every range (never back). Returns what changed and the block
    /// to scan from next.
    pub async fn scan_channels(&self, from_block: u64) -> MarketResult<ChannelScan> {
        let _one = self.scan_lock.lock().await;
        let chain = self.chain()?;
        let head = chain.block_number().await?;
        let last = match self.scan.final_block(head) {
            Some(last) if from_block <= last => last,
            _ => {
                return Ok(ChannelScan {
                    new: 0,
                    settled: 0,
                    next_block: from_block,
                    ranges: 0,
                });
            }
        };
        let mut cursor = blocking(&self.store, |s| s.scan_cursor()).await?;
        let mut scan = ChannelScan {
            new: 0,
            settled: 0,
            next_block: last + 1,
            ranges: 0,
        };
        for (from, to) in block_ranges(from_block, last, self.scan.max_range) {
            let events = chain
                .channel_events(self.cfg.market_oid, from, to)
                .await
                .map_err(|e| MarketError {
                    message: format!("channel logs of blocks {from}..={to}: {}", e.message),
                    ..e
                })?;
            for event in &events {
                self.apply_event(event, &mut scan).await?;
            }
            scan.ranges += 1;
            let next = to + 1;
            if cursor.is_none_or(|c| c < next) {
                blocking(&self.store, move |s| s.set_scan_cursor(next)).await?;
                cursor = Some(next);
            }
        }
        Ok(scan)
    }

    /// One scan round from the saved cursor (from block 0 on the first round), starting
    /// [`ScanConfig::rescan`] blocks before it; call it at start and then periodically.
    pub async fn scan_from_cursor(&self) -> MarketResult<ChannelScan> {
        let cursor = blocking(&self.store, |s| s.scan_cursor()).await?;
        self.scan_channels(self.scan.round_start(cursor)).await
    }

    /// Applies one lifecycle log: mirrors a new channel of this market and maker, or moves a
    /// mirrored channel's state forward.
    async fn apply_event(
        &self,
        event: &ChainChannelEvent,
        scan: &mut ChannelScan,
    ) -> MarketResult<()> {
        let (oid, state) = match event {
            ChainChannelEvent::Opened(c) => {
                if c.market_oid == self.cfg.market_oid
                    && c.marketmaker == self.address
                    && self.mirror_channel(c).await?
                {
                    scan.new += 1;
                }
                return Ok(());
            }
            ChainChannelEvent::Closing(oid) => (*oid, ChannelState::Closing),
            ChainChannelEvent::Closed(oid) => (*oid, ChannelState::Closed),
        };
        let lock = self.lock_for(&oid);
        let _guard = lock.lock().await;
        if blocking(&self.store, move |s| s.advance_channel_state(&oid, state)).await? {
            scan.settled += 1;
        }
        // The log at the confirmation depth is what makes the maker's own close final.
        if blocking(&self.store, move |s| s.finalize_close(&oid, state)).await? {
            self.closer.moved();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

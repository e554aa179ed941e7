//! The balance sampler and its bounded history (`GET /v1/balances/history`, the dashboard's
//! balance charts).
//!
//! Every `[admin] balance_interval` the sampler reads the daemon's own balances with the code of
//! `GET /v1/balances` (which also sets the balance gauges of [`crate::metrics`]), and keeps the
//! newest [`HISTORY_SAMPLES`] samples in a ring buffer: one hour at the default 15 s. A sample holds
//! the on-chain ETH and XBR of the daemon's own addresses and, for a seller or a buyer, the
//! remaining balance of its own channels (at most [`CHANNELS_PER_SAMPLE`]); a market maker's
//! channels belong to its members and are not charted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::AdminState;
use super::dto::{AddressBalance, BalancesView};
use crate::config::Role;

/// Samples kept: one hour at the default interval of 15 s.
pub const HISTORY_SAMPLES: usize = 240;

/// Channels kept per sample.
pub const CHANNELS_PER_SAMPLE: usize = 16;

/// After a failed sample (role not running yet, chain unreachable) the next try comes after this
/// or the interval, whichever is shorter, so a chart has its first point soon after start.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// One channel's remaining balance in a sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChannelBalance {
    /// Channel id (UUID).
    pub channel_oid: String,
    /// `payment` or `paying`.
    pub channel_type: String,
    /// Off-chain remaining balance (base units, decimal).
    pub remaining: String,
}

/// The daemon's balances at one time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BalanceSample {
    /// When it was read (Unix ms).
    pub time_ms: u64,
    /// On-chain balances of the daemon's own addresses.
    pub addresses: Vec<AddressBalance>,
    /// The role's own channels (none for a market maker).
    pub channels: Vec<ChannelBalance>,
}

impl BalanceSample {
    /// The sample of a `/v1/balances` answer read at `time_ms` by a daemon of `role`.
    pub fn of(role: Role, view: BalancesView, time_ms: u64) -> Self {
        let channels = if role == Role::Marketmaker {
            Vec::new()
        } else {
            view.channels
                .into_iter()
                .take(CHANNELS_PER_SAMPLE)
                .map(|c| ChannelBalance {
                    channel_oid: c.channel_oid.to_string(),
                    channel_type: c.channel_type,
                    remaining: c.remaining,
                })
                .collect()
        };
        BalanceSample {
            time_ms,
            addresses: view.addresses,
            channels,
        }
    }
}

/// `GET /v1/balances/history`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BalanceHistoryView {
    /// Seconds between samples (`[admin] balance_interval`).
    pub interval_secs: f64,
    /// Most samples kept.
    pub capacity: usize,
    /// The samples, oldest first.
    pub samples: Vec<BalanceSample>,
}

/// The newest samples, at most `capacity` (the oldest is dropped first).
#[derive(Debug)]
pub struct BalanceHistory {
    capacity: usize,
    interval: Duration,
    samples: Mutex<VecDeque<BalanceSample>>,
}

impl Default for BalanceHistory {
    fn default() -> Self {
        Self::new(HISTORY_SAMPLES, crate::config::DEFAULT_BALANCE_INTERVAL)
    }
}

impl BalanceHistory {
    /// An empty history of at most `capacity` samples taken every `interval`.
    pub fn new(capacity: usize, interval: Duration) -> Self {
        BalanceHistory {
            capacity: capacity.max(1),
            interval,
            samples: Mutex::new(VecDeque::with_capacity(capacity.max(1))),
        }
    }

    /// Adds a sample, dropping the oldest when full.
    pub fn push(&self, sample: BalanceSample) {
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        while samples.len() >= self.capacity {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The history as served.
    pub fn view(&self) -> BalanceHistoryView {
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        BalanceHistoryView {
            interval_secs: self.interval.as_secs_f64(),
            capacity: self.capacity,
            samples: samples.iter().cloned().collect(),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// The sampler task: reads the balances into `state.balance_history` every `interval` until
/// `shutdown` is cancelled.
pub async fn sample_balances(
    state: Arc<AdminState>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let read = tokio::select! {
            _ = shutdown.cancelled() => return,
            read = super::own_balances(&state) => read,
        };
        let wait = match read {
            Ok(view) => {
                state
                    .balance_history
                    .push(BalanceSample::of(state.role, view, now_ms()));
                interval
            }
            Err(e) => {
                tracing::debug!(code = e.code, error = %e.message, "balance sample skipped");
                interval.min(RETRY_AFTER_FAILURE)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::dto::ChannelView;
    use xbr_core::ChannelId;

    fn view(n: u64) -> BalancesView {
        BalancesView {
            addresses: vec![AddressBalance {
                label: Some("delegate".into()),
                address: "0x00000000000000000000000000000000000000aa".into(),
                eth: n.to_string(),
                xbr: (n * 2).to_string(),
            }],
            channels: (0..CHANNELS_PER_SAMPLE as u8 + 4)
                .map(|i| ChannelView {
                    channel_oid: ChannelId([i; 16]),
                    channel_type: "payment".into(),
                    state: "open".into(),
                    actor: String::new(),
                    delegate: String::new(),
                    recipient: String::new(),
                    amount: "100".into(),
                    remaining: n.to_string(),
                    inflight: "0".into(),
                    seq: n,
                })
                .collect(),
        }
    }

    #[test]
    fn history_keeps_the_newest_samples_up_to_its_capacity() {
        let h = BalanceHistory::new(3, Duration::from_secs(15));
        for n in 0..5 {
            h.push(BalanceSample::of(Role::Buyer, view(n), n * 1000));
        }
        let v = h.view();
        assert_eq!(v.capacity, 3);
        assert_eq!(v.interval_secs, 15.0);
        let times: Vec<u64> = v.samples.iter().map(|s| s.time_ms).collect();
        assert_eq!(times, [2000, 3000, 4000], "oldest dropped first");
        assert_eq!(v.samples[2].addresses[0].xbr, "8");
    }

    #[test]
    fn a_sample_keeps_a_bounded_number_of_own_channels_and_none_for_the_maker() {
        let buyer = BalanceSample::of(Role::Buyer, view(7), 1);
        assert_eq!(buyer.channels.len(), CHANNELS_PER_SAMPLE);
        assert_eq!(buyer.channels[0].remaining, "7");
        assert_eq!(
            buyer.channels[0].channel_oid,
            ChannelId([0; 16]).to_string()
        );
        let maker = BalanceSample::of(Role::Marketmaker, view(7), 1);
        assert!(maker.channels.is_empty());
        assert_eq!(maker.addresses.len(), 1);
    }

    #[test]
    fn the_default_history_covers_an_hour_at_the_default_interval() {
        let v = BalanceHistory::default().view();
        assert_eq!(v.capacity as f64 * v.interval_secs, 3600.0);
        assert!(v.samples.is_empty());
    }
}

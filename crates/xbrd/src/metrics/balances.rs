//! The balance gauges, one family per quantity (Prometheus: one unit per family), in base units
//! as floats (a view for dashboards and alerts; the admin API has the exact values):
//! `xbrd_eth_balance_wei{address}`, `xbrd_xbr_balance_base_units{address}` and
//! `xbrd_channel_remaining_base_units{channel}`. Only the daemon's own addresses and channels
//! are set, and each family keeps at most [`BALANCE_SERIES_MAX`] series, the oldest dropped
//! first.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

/// Most series kept per balance family; setting one more drops the oldest.
pub const BALANCE_SERIES_MAX: usize = 16;

/// Labels of the on-chain balance gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AddressLabels {
    /// Checksummed 0x address (one of the daemon's own).
    pub address: String,
}

/// Labels of the channel gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    /// The channel id (one of the daemon's own channels).
    pub channel: String,
}

/// A float gauge.
pub type FloatGauge = Gauge<f64, AtomicU64>;

/// A gauge family that keeps at most [`BALANCE_SERIES_MAX`] series, the oldest dropped first.
pub struct BoundedGauges<L> {
    /// The family (registered).
    pub family: Family<L, FloatGauge>,
    order: Mutex<VecDeque<L>>,
}

impl<L: Clone + Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
    BoundedGauges<L>
{
    fn new() -> Self {
        Self {
            family: Family::default(),
            order: Mutex::default(),
        }
    }

    /// Sets the series of `labels`, dropping the oldest when a new one would exceed the bound.
    pub fn set(&self, labels: L, value: f64) {
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        if !order.contains(&labels) {
            while order.len() >= BALANCE_SERIES_MAX {
                if let Some(oldest) = order.pop_front() {
                    self.family.remove(&oldest);
                }
            }
            order.push_back(labels.clone());
        }
        self.family.get_or_create(&labels).set(value);
    }
}

/// The three balance families.
pub struct BalanceGauges {
    /// ETH per address, in wei.
    pub eth: BoundedGauges<AddressLabels>,
    /// XBR per address, in base units (10⁻¹⁸ XBR).
    pub xbr: BoundedGauges<AddressLabels>,
    /// Off-chain remaining per channel, in XBR base units.
    pub channel: BoundedGauges<ChannelLabels>,
}

impl BalanceGauges {
    pub(super) fn new() -> Self {
        Self {
            eth: BoundedGauges::new(),
            xbr: BoundedGauges::new(),
            channel: BoundedGauges::new(),
        }
    }

    /// Registers the three families.
    pub(super) fn register(&self, r: &mut Registry) {
        let addresses = [
            (
                "eth_balance",
                "The daemon's own ETH balances in wei (exact values in the admin API)",
                "wei",
                &self.eth,
            ),
            (
                "xbr_balance",
                "The daemon's own XBR balances in base units of 1e-18 XBR (exact values in the admin API)",
                "base_units",
                &self.xbr,
            ),
        ];
        for (name, help, unit, gauges) in addresses {
            r.register_with_unit(name, help, Unit::Other(unit.into()), gauges.family.clone());
        }
        r.register_with_unit(
            "channel_remaining",
            "Off-chain remaining of the daemon's own channels in XBR base units",
            Unit::Other("base_units".into()),
            self.channel.family.clone(),
        );
    }

    /// Sets the gauge of `kind` (`eth`, `xbr` or `channel_remaining`) for `subject` (an address,
    /// or a channel id for `channel_remaining`) to `base_units`. Any other kind is a bug: ignored
    /// (and a panic in debug builds).
    pub fn set(&self, subject: &str, kind: &str, base_units: alloy_primitives::U256) {
        let value = as_f64(base_units);
        let address = || AddressLabels {
            address: subject.to_owned(),
        };
        match kind {
            "eth" => self.eth.set(address(), value),
            "xbr" => self.xbr.set(address(), value),
            "channel_remaining" => self.channel.set(
                ChannelLabels {
                    channel: subject.to_owned(),
                },
                value,
            ),
            other => debug_assert!(false, "unknown balance kind {other}"),
        }
    }
}

/// An amount as the nearest float.
fn as_f64(amount: alloy_primitives::U256) -> f64 {
    amount.to_string().parse::<f64>().unwrap_or(f64::NAN)
}

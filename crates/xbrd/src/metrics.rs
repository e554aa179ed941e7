//! Prometheus metrics (prometheus-client): sessions, reconnects, rotations, sales, purchases, balances,
//! admin request latency, and what the daemon shed under load ([`Shed`]).
//!
//! Every label set is bounded: routes are patterns, balances are the daemon's own addresses and
//! channels (at most [`BALANCE_SERIES_MAX`] series, the oldest dropped first), shed counters have
//! one fixed label value per kind. Nothing a remote peer or an API query chooses becomes a label.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the request latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route pattern (not the raw path, to bound cardinality).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of the balance gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BalanceLabels {
    /// 0x address.
    pub address: String,
    /// `eth`, `xbr`, or `channel_remaining`.
    pub kind: String,
}

/// Most balance series kept; setting one more drops the oldest.
pub const BALANCE_SERIES_MAX: usize = 16;

/// What the daemon shed (dropped or refused) to stay within its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shed {
    /// Events wamp-client dropped (their subscription's queue was full, or they could not be
    /// decoded).
    EventsDropped,
    /// Invocations wamp-client refused (`wamp.error.unavailable`: too many running).
    InvocationsRefused,
    /// Progressive calls wamp-client cancelled (their caller fell too many results behind).
    ProgressOverflow,
    /// The maker's refusals with `xbr.error.busy` (too many purchases in flight).
    MakerBusy,
    /// The seller's refusals with `xbr.error.busy` (too many sale tasks running).
    SellerBusy,
    /// Events whose key the buyer did not buy because too many purchases were in flight.
    BuyerPurchases,
}

impl Shed {
    /// Every kind, in exposition order.
    pub const ALL: [Shed; 6] = [
        Self::EventsDropped,
        Self::InvocationsRefused,
        Self::ProgressOverflow,
        Self::MakerBusy,
        Self::SellerBusy,
        Self::BuyerPurchases,
    ];

    /// The `what` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::EventsDropped => "events_dropped",
            Self::InvocationsRefused => "invocations_refused",
            Self::ProgressOverflow => "progress_overflow",
            Self::MakerBusy => "maker_busy",
            Self::SellerBusy => "seller_busy",
            Self::BuyerPurchases => "buyer_purchases",
        }
    }
}

/// Labels of the shed counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ShedLabels {
    /// [`Shed::label`].
    pub what: String,
}

/// A count kept elsewhere (a session's, a role's), read when the metrics are rendered.
type Read = Box<dyn Fn() -> u64 + Send + Sync>;

/// A sampled source of a shed counter and the value last read from it.
struct Sampled {
    what: Shed,
    read: Read,
    last: u64,
}

/// All metrics of one daemon.
pub struct Metrics {
    registry: Registry,
    /// WAMP sessions joined.
    pub sessions_joined: Counter,
    /// 1 while a session is joined.
    pub session_up: Gauge,
    /// Re-connection attempts.
    pub reconnects: Counter,
    /// Key rotations (seller).
    pub rotations: Counter,
    /// Keys sold (seller, maker).
    pub sales: Counter,
    /// Keys bought (buyer).
    pub purchases: Counter,
    /// Balances in whole tokens (ETH/XBR; a float view for dashboards, the API has exact values).
    pub balances: Family<BalanceLabels, Gauge<f64, AtomicU64>>,
    /// Admin request latency in seconds.
    pub request_seconds: Family<RouteLabels, Histogram>,
    /// What was shed, by kind.
    pub shed: Family<ShedLabels, Counter>,
    /// The balance series in the order they were created (bounded by [`BALANCE_SERIES_MAX`]).
    balance_series: Mutex<VecDeque<BalanceLabels>>,
    /// Counts read at render time ([`Metrics::sample_shed`]).
    sampled: Mutex<Vec<Sampled>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric under the `xbrd` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("xbrd");
        let m = Metrics {
            registry: Registry::default(),
            sessions_joined: Counter::default(),
            session_up: Gauge::default(),
            reconnects: Counter::default(),
            rotations: Counter::default(),
            sales: Counter::default(),
            purchases: Counter::default(),
            balances: Family::default(),
            request_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 4.0, 10))
            }),
            shed: Family::default(),
            balance_series: Mutex::default(),
            sampled: Mutex::default(),
        };
        // Each kind shows from the start, at 0.
        for what in Shed::ALL {
            m.shed_counter(what);
        }
        registry.register(
            "shed",
            "Work shed to stay within bounds: events dropped, invocations refused, busy refusals, purchases not started",
            m.shed.clone(),
        );
        registry.register(
            "sessions_joined",
            "WAMP sessions joined",
            m.sessions_joined.clone(),
        );
        registry.register(
            "session_up",
            "1 while a WAMP session is joined",
            m.session_up.clone(),
        );
        registry.register(
            "reconnects",
            "WAMP re-connection attempts",
            m.reconnects.clone(),
        );
        registry.register(
            "key_rotations",
            "Data-encryption key rotations",
            m.rotations.clone(),
        );
        registry.register("sales", "Data keys sold", m.sales.clone());
        registry.register("purchases", "Data keys bought", m.purchases.clone());
        registry.register(
            "balance",
            "Balances in whole tokens (exact values in the admin API)",
            m.balances.clone(),
        );
        registry.register(
            "admin_request_duration_seconds",
            "Admin API request latency",
            m.request_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets a balance gauge from base units (18 decimals). Only for the daemon's own addresses
    /// and channels; past [`BALANCE_SERIES_MAX`] series the oldest is dropped.
    pub fn set_balance(&self, address: &str, kind: &str, base_units: alloy_primitives::U256) {
        let whole = base_units.to_string().parse::<f64>().unwrap_or(f64::NAN) / 1e18;
        let labels = BalanceLabels {
            address: address.to_owned(),
            kind: kind.to_owned(),
        };
        let mut series = self
            .balance_series
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !series.contains(&labels) {
            while series.len() >= BALANCE_SERIES_MAX {
                if let Some(oldest) = series.pop_front() {
                    self.balances.remove(&oldest);
                }
            }
            series.push_back(labels.clone());
        }
        self.balances.get_or_create(&labels).set(whole);
    }

    /// Counts one `what` shed.
    pub fn shed(&self, what: Shed) {
        self.shed_counter(what).inc();
    }

    fn shed_counter(&self, what: Shed) -> Counter {
        self.shed
            .get_or_create(&ShedLabels {
                what: what.label().to_owned(),
            })
            .clone()
    }

    /// Adds `read`, a count of `what` kept elsewhere, to the shed counter whenever the metrics
    /// are rendered. A count that goes down started again (a new WAMP session counts from 0):
    /// what it counted after the last render of the old one is not seen.
    pub fn sample_shed(&self, what: Shed, read: impl Fn() -> u64 + Send + Sync + 'static) {
        self.sampled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Sampled {
                what,
                read: Box::new(read),
                last: 0,
            });
    }

    /// Reads every sampled count into its counter.
    fn collect_sampled(&self) {
        let mut sampled = self.sampled.lock().unwrap_or_else(|e| e.into_inner());
        for s in sampled.iter_mut() {
            let now = (s.read)();
            let new = if now >= s.last { now - s.last } else { now };
            self.shed_counter(s.what).inc_by(new);
            s.last = now;
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.collect_sampled();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_latency() {
        let m = Metrics::new();
        m.sales.inc();
        m.sales.inc();
        m.request_seconds
            .get_or_create(&RouteLabels {
                method: "GET".into(),
                route: "/health".into(),
                status: 200,
            })
            .observe(0.002);
        m.set_balance(
            "0xabc",
            "xbr",
            alloy_primitives::U256::from(35u128 * 10u128.pow(18)),
        );
        let text = m.render();
        assert!(text.contains("xbrd_sales_total 2"), "{text}");
        assert!(text.contains("xbrd_admin_request_duration_seconds_count{method=\"GET\",route=\"/health\",status=\"200\"} 1"), "{text}");
        assert!(
            text.contains("xbrd_balance{address=\"0xabc\",kind=\"xbr\"} 35.0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn balance_series_are_bounded_oldest_dropped_first() {
        let m = Metrics::new();
        let one = alloy_primitives::U256::from(10u128.pow(18));
        for n in 0..BALANCE_SERIES_MAX + 3 {
            m.set_balance(&format!("0x{n:040x}"), "xbr", one);
        }
        // Setting a kept series again does not grow the set.
        m.set_balance(&format!("0x{:040x}", BALANCE_SERIES_MAX + 2), "xbr", one);
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("xbrd_balance{"))
            .count();
        assert_eq!(series, BALANCE_SERIES_MAX, "{text}");
        assert!(!text.contains(&format!("0x{:040x}", 2)), "{text}");
        assert!(text.contains(&format!("0x{:040x}", 3)), "{text}");
    }

    #[test]
    fn shed_counters_have_fixed_labels_and_sample_restarting_counts() {
        let m = Metrics::new();
        let text = m.render();
        for what in Shed::ALL {
            let line = format!("xbrd_shed_total{{what=\"{}\"}} 0", what.label());
            assert!(text.contains(&line), "{line} in {text}");
        }
        m.shed(Shed::MakerBusy);
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(3));
        let c = count.clone();
        m.sample_shed(Shed::EventsDropped, move || {
            c.load(std::sync::atomic::Ordering::SeqCst)
        });
        let text = m.render();
        assert!(
            text.contains("xbrd_shed_total{what=\"maker_busy\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("xbrd_shed_total{what=\"events_dropped\"} 3"),
            "{text}"
        );
        // A new session counts from 0 again: 3 + 2.
        count.store(0, std::sync::atomic::Ordering::SeqCst);
        m.render();
        count.store(2, std::sync::atomic::Ordering::SeqCst);
        let text = m.render();
        assert!(
            text.contains("xbrd_shed_total{what=\"events_dropped\"} 5"),
            "{text}"
        );
    }
}

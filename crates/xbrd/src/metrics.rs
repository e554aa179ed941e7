//! Prometheus metrics (prometheus-client): sessions, reconnects, rotations, sales, purchases, balances and
//! admin request latency.

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

/// All metrics of one daemon.
#[derive(Debug)]
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
        };
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

    /// Sets a balance gauge from base units (18 decimals).
    pub fn set_balance(&self, address: &str, kind: &str, base_units: alloy_primitives::U256) {
        let whole = base_units.to_string().parse::<f64>().unwrap_or(f64::NAN) / 1e18;
        self.balances
            .get_or_create(&BalanceLabels {
                address: address.to_owned(),
                kind: kind.to_owned(),
            })
            .set(whole);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
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
}

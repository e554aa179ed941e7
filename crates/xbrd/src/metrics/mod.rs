//! Prometheus metrics (prometheus-client) of one daemon, rendered at `/metrics` in the OpenMetrics
//! text format. Names follow the Prometheus naming guide: the `xbrd_` prefix, one unit per family
//! in base units as a suffix, `_total` on counters, `_seconds` on durations, `_info` on the build
//! pseudo-metric.
//!
//! | family | type | labels (bound) | what |
//! |---|---|---|---|
//! | `xbrd_build_info` | info | `version` (1 series) | the running binary |
//! | `xbrd_router_session_up` | gauge | – | 1 while the WAMP session is joined |
//! | `xbrd_router_sessions_joined_total` | counter | – | WAMP sessions joined |
//! | `xbrd_router_reconnects_total` | counter | – | router connection attempts |
//! | `xbrd_chain_up` | gauge | – | 1 while the chain probe reaches the gateway (on the configured chain) |
//! | `xbrd_chain_head_block` | gauge | – | the last head block the probe saw |
//! | `xbrd_key_rotations_total` | counter | – | data keys rotated (seller) |
//! | `xbrd_sales_total` | counter | – | keys sold (seller: `sell`; maker: `buy_key`) |
//! | `xbrd_purchases_total` | counter | – | keys bought (buyer) |
//! | `xbrd_sale_duration_seconds` | histogram | – | successful `sell` (seller) / `buy_key` (maker) calls, invocation to answer |
//! | `xbrd_purchase_duration_seconds` | histogram | – | buyer purchases, first event under the key to the key in hand |
//! | `xbrd_failures_total` | counter | `operation` (the role's procedures + `event`), `uri` ([`failures::KNOWN_URIS`] + `xbr.error.transport` + `other`) | calls answered with an error, events not decrypted |
//! | `xbrd_shed_total` | counter | `what` ([`Shed::ALL`]) | work shed to stay within bounds |
//! | `xbrd_eth_balance_wei` | gauge | `address` (≤ [`BALANCE_SERIES_MAX`]) | the daemon's own ETH balances |
//! | `xbrd_xbr_balance_base_units` | gauge | `address` (≤ [`BALANCE_SERIES_MAX`]) | the daemon's own XBR balances (10⁻¹⁸ XBR) |
//! | `xbrd_channel_remaining_base_units` | gauge | `channel` (≤ [`BALANCE_SERIES_MAX`]) | off-chain remaining of the daemon's own channels |
//! | `xbrd_admin_request_duration_seconds` | histogram | `method`, `route` (route patterns), `status` | admin API latency |
//!
//! Nothing a remote peer or an API query chooses becomes a label value. Who sets what: the
//! component's lifecycle ([`crate::component`]) the router families, the chain probe
//! ([`chain_probe`]) the chain gauges, the role observer ([`crate::roles::observer`]) the market
//! families, the admin API and the balance sampler the balance gauges ([`Metrics::set_balance`]).

pub mod balances;
pub mod chain_probe;
pub mod failures;
pub mod shed;

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use xbr_market::MarketError;

pub use balances::{BALANCE_SERIES_MAX, BalanceGauges};
pub use failures::FailureLabels;
pub use shed::{Shed, ShedLabels};

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

/// Buckets of the sale and purchase histograms: 5 ms to about 41 s (calls time out at 30 s).
fn trade_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, 14)
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
    /// The balance gauges (set through [`Metrics::set_balance`]).
    pub balances: BalanceGauges,
    /// Admin request latency in seconds.
    pub request_seconds: Family<RouteLabels, Histogram>,
    /// Sale latency in seconds (seller, maker).
    pub sale_seconds: Histogram,
    /// Purchase latency in seconds (buyer).
    pub purchase_seconds: Histogram,
    /// Failures by operation and error URI ([`Metrics::failure`]).
    pub failures: Family<FailureLabels, Counter>,
    /// 1 while the chain answers.
    pub chain_up: Gauge,
    /// The chain's head block, as last seen.
    pub chain_head_block: Gauge,
    /// What was shed, by kind.
    shed: shed::ShedCounters,
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
            balances: BalanceGauges::new(),
            request_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0001, 4.0, 10))
            }),
            sale_seconds: Histogram::new(trade_buckets()),
            purchase_seconds: Histogram::new(trade_buckets()),
            failures: Family::default(),
            chain_up: Gauge::default(),
            chain_head_block: Gauge::default(),
            shed: shed::ShedCounters::new(),
        };
        m.register(&mut registry);
        Metrics { registry, ..m }
    }

    /// Registers every family (names as in the module docs).
    fn register(&self, r: &mut Registry) {
        r.register(
            "build",
            "The running xbrd binary",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "shed",
            "Work shed to stay within bounds: events dropped, invocations refused, busy refusals, purchases not started",
            self.shed.family.clone(),
        );
        let counters = [
            (
                "router_sessions_joined",
                "WAMP sessions joined",
                &self.sessions_joined,
            ),
            (
                "router_reconnects",
                "WAMP router connection attempts",
                &self.reconnects,
            ),
            (
                "key_rotations",
                "Data-encryption key rotations",
                &self.rotations,
            ),
            ("sales", "Data keys sold", &self.sales),
            ("purchases", "Data keys bought", &self.purchases),
        ];
        for (name, help, counter) in counters {
            r.register(name, help, counter.clone());
        }
        let gauges = [
            (
                "router_session_up",
                "1 while a WAMP session is joined",
                &self.session_up,
            ),
            (
                "chain_up",
                "1 while the Ethereum gateway answers on the configured chain",
                &self.chain_up,
            ),
            (
                "chain_head_block",
                "The chain's head block as last seen by the probe",
                &self.chain_head_block,
            ),
        ];
        for (name, help, gauge) in gauges {
            r.register(name, help, gauge.clone());
        }
        self.balances.register(r);
        r.register(
            "admin_request_duration_seconds",
            "Admin API request latency",
            self.request_seconds.clone(),
        );
        let durations = [
            (
                "sale_duration",
                "Keys sold: from the sell (seller) or buy_key (maker) invocation to its answer",
                &self.sale_seconds,
            ),
            (
                "purchase_duration",
                "Keys bought: from the first event under the key to the key in hand",
                &self.purchase_seconds,
            ),
        ];
        for (name, help, histogram) in durations {
            r.register_with_unit(name, help, Unit::Seconds, histogram.clone());
        }
        r.register(
            "failures",
            "Calls answered with an error and events not decrypted, by operation and error URI",
            self.failures.clone(),
        );
    }

    /// Sets a balance gauge from base units (18 decimals): `kind` is `eth`, `xbr` (an address's)
    /// or `channel_remaining` (`address` is then the channel id). Only for the daemon's own
    /// addresses and channels; past [`BALANCE_SERIES_MAX`] series of a kind the oldest is dropped.
    pub fn set_balance(&self, address: &str, kind: &str, base_units: alloy_primitives::U256) {
        self.balances.set(address, kind, base_units);
    }

    /// Counts one `what` shed.
    pub fn shed(&self, what: Shed) {
        self.shed.counter(what).inc();
    }

    /// Adds `read`, a count of `what` kept elsewhere, to the shed counter whenever the metrics
    /// are rendered. A count that goes down started again (a new WAMP session counts from 0):
    /// what it counted after the last render of the old one is not seen.
    pub fn sample_shed(&self, what: Shed, read: impl Fn() -> u64 + Send + Sync + 'static) {
        self.shed.sample(what, Box::new(read));
    }

    /// Counts one failure of `operation` (a procedure's short name, or [`failures::EVENT`])
    /// under its error's URI label ([`failures::uri_label`]).
    pub fn failure(&self, operation: &'static str, error: &MarketError) {
        self.failures
            .get_or_create(&FailureLabels {
                operation,
                uri: failures::uri_label(error),
            })
            .inc();
    }

    /// Observes one sale's latency.
    pub fn observe_sale(&self, elapsed: Duration) {
        self.sale_seconds.observe(elapsed.as_secs_f64());
    }

    /// Observes one purchase's latency.
    pub fn observe_purchase(&self, elapsed: Duration) {
        self.purchase_seconds.observe(elapsed.as_secs_f64());
    }

    /// What the chain probe saw: the head block, or `None` when the chain did not answer (the
    /// head block gauge keeps the last one seen).
    pub fn set_chain_head(&self, head: Option<u64>) {
        self.chain_up.set(i64::from(head.is_some()));
        if let Some(block) = head {
            self.chain_head_block
                .set(i64::try_from(block).unwrap_or(i64::MAX));
        }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        self.shed.collect();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the sample `series` (name and labels as rendered) in `text`.
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in {text}"))
            .parse()
            .unwrap()
    }

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
        assert_eq!(
            value(&text, "xbrd_xbr_balance_base_units{address=\"0xabc\"}"),
            35e18
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
            .filter(|l| l.starts_with("xbrd_xbr_balance_base_units{"))
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

    #[test]
    fn balances_are_one_family_per_unit_each_bounded() {
        let m = Metrics::new();
        let one_eth = alloy_primitives::U256::from(10u128.pow(18));
        m.set_balance("0xabc", "eth", one_eth);
        m.set_balance("0xabc", "xbr", one_eth * alloy_primitives::U256::from(2));
        m.set_balance(
            "5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74",
            "channel_remaining",
            one_eth,
        );
        // A full family does not evict another family's series.
        for n in 0..BALANCE_SERIES_MAX {
            m.set_balance(&format!("0x{n:040x}"), "eth", one_eth);
        }
        let text = m.render();
        assert!(text.contains("# UNIT xbrd_eth_balance_wei wei"), "{text}");
        assert_eq!(
            value(&text, "xbrd_xbr_balance_base_units{address=\"0xabc\"}"),
            2e18
        );
        assert_eq!(
            value(
                &text,
                "xbrd_channel_remaining_base_units{channel=\"5bfb8216-c79a-8a0b-abc0-f9b8bde5fe74\"}"
            ),
            1e18
        );
        assert!(
            !text.contains("xbrd_eth_balance_wei{address=\"0xabc\"}"),
            "{text}"
        );
        assert!(!text.contains("xbrd_balance{"), "{text}");
    }

    #[test]
    fn new_families_render_with_conventional_names() {
        let m = Metrics::new();
        let text = m.render();
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            value(&text, &format!("xbrd_build_info{{version=\"{version}\"}}")),
            1.0
        );
        assert_eq!(value(&text, "xbrd_chain_up"), 0.0);
        assert_eq!(value(&text, "xbrd_router_session_up"), 0.0);
        assert_eq!(value(&text, "xbrd_router_sessions_joined_total"), 0.0);
        assert_eq!(value(&text, "xbrd_sale_duration_seconds_count"), 0.0);
        assert_eq!(value(&text, "xbrd_purchase_duration_seconds_count"), 0.0);

        m.set_chain_head(Some(42));
        m.observe_sale(Duration::from_millis(30));
        m.observe_purchase(Duration::from_millis(120));
        m.observe_purchase(Duration::from_secs(2));
        let busy = MarketError::new(xbr_market::error::uri::BUSY, "x");
        let chosen = MarketError::from_uri("com.attacker.error.one", "x");
        m.failure("buy_key", &busy);
        m.failure("buy_key", &busy);
        m.failure("buy_key", &chosen);
        m.failure(
            failures::EVENT,
            &MarketError::from_uri("com.attacker.error.two", "x"),
        );
        let text = m.render();
        assert_eq!(value(&text, "xbrd_chain_up"), 1.0);
        assert_eq!(value(&text, "xbrd_chain_head_block"), 42.0);
        assert_eq!(value(&text, "xbrd_sale_duration_seconds_count"), 1.0);
        assert_eq!(value(&text, "xbrd_purchase_duration_seconds_count"), 2.0);
        assert_eq!(value(&text, "xbrd_purchase_duration_seconds_sum"), 2.12);
        assert!(
            text.contains("# UNIT xbrd_sale_duration_seconds seconds"),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                "xbrd_failures_total{operation=\"buy_key\",uri=\"xbr.error.busy\"}"
            ),
            2.0
        );
        assert_eq!(
            value(
                &text,
                "xbrd_failures_total{operation=\"buy_key\",uri=\"other\"}"
            ),
            1.0
        );
        assert_eq!(
            value(
                &text,
                "xbrd_failures_total{operation=\"event\",uri=\"other\"}"
            ),
            1.0
        );
        assert!(!text.contains("attacker"), "{text}");

        // Down: the head block keeps the last one seen.
        m.set_chain_head(None);
        let text = m.render();
        assert_eq!(value(&text, "xbrd_chain_up"), 0.0);
        assert_eq!(value(&text, "xbrd_chain_head_block"), 42.0);
    }
}

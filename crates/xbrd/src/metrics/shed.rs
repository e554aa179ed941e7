//! What the daemon shed (dropped or refused) to stay within its bounds: `xbrd_shed_total{what}`,
//! one fixed label value per [`Shed`] kind, some counted here, some sampled from counts kept
//! elsewhere (a WAMP session's, the buyer's) when the metrics are rendered.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

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
    pub what: &'static str,
}

/// A count kept elsewhere (a session's, a role's), read when the metrics are rendered.
type Read = Box<dyn Fn() -> u64 + Send + Sync>;

/// A sampled source of a shed counter and the value last read from it.
struct Sampled {
    what: Shed,
    read: Read,
    last: u64,
}

/// The shed counters and their sampled sources.
#[derive(Default)]
pub(super) struct ShedCounters {
    /// The family registered as `xbrd_shed_total`.
    pub(super) family: Family<ShedLabels, Counter>,
    sampled: Mutex<Vec<Sampled>>,
}

impl ShedCounters {
    /// Every kind shows from the start, at 0.
    pub(super) fn new() -> Self {
        let counters = Self::default();
        for what in Shed::ALL {
            counters.counter(what);
        }
        counters
    }

    pub(super) fn counter(&self, what: Shed) -> Counter {
        self.family
            .get_or_create(&ShedLabels { what: what.label() })
            .clone()
    }

    pub(super) fn sample(&self, what: Shed, read: Read) {
        self.sampled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Sampled {
                what,
                read,
                last: 0,
            });
    }

    /// Reads every sampled count into its counter. A count that went down started again (a new
    /// WAMP session counts from 0).
    pub(super) fn collect(&self) {
        let mut sampled = self.sampled.lock().unwrap_or_else(|e| e.into_inner());
        for s in sampled.iter_mut() {
            let now = (s.read)();
            let new = if now >= s.last { now - s.last } else { now };
            self.counter(s.what).inc_by(new);
            s.last = now;
        }
    }
}

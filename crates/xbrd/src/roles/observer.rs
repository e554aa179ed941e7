//! What the roles report, into the daemon's metrics, log and the buyer's event stream: one
//! observer for every role. Failed calls are counted by procedure and error URI and logged at
//! warn through the rate limit of [`FailureLog`].

use std::sync::Arc;

use tokio::sync::broadcast;
use xbr_market::error::uri;
use xbr_market::maker::Procedure;
use xbr_market::peer::ProviderProcedure;
use xbr_market::runtime::{EventError, RoleEvent, RoleObserver};
use xbr_market::types::{ChannelId, KeyId};

use super::failure_log::FailureLog;
use super::views;
use crate::health::Health;
use crate::metrics::{Metrics, Shed, failures};
use crate::ports::views::DecryptedEvent;

/// A key sold or bought.
struct Trade<'a> {
    key_id: &'a KeyId,
    channel_oid: &'a ChannelId,
    amount: alloy_primitives::U256,
    seq: u64,
    balance: alloy_primitives::U256,
}

/// Which role refused `procedure` with `xbr.error.busy`: a seller's `xbr.provider.<id>.*`
/// procedure, else the maker's.
fn busy_refusal(procedure: &str) -> Shed {
    if ProviderProcedure::ALL.iter().any(|p| p.name() == procedure) {
        Shed::SellerBusy
    } else {
        Shed::MakerBusy
    }
}

/// Whether `procedure` sells a key: the seller's `sell`, the maker's `buy_key`.
fn sells_a_key(procedure: &str) -> bool {
    procedure == ProviderProcedure::Sell.name() || procedure == Procedure::BuyKey.name()
}

/// The daemon's [`RoleObserver`].
pub struct DaemonObserver {
    metrics: Arc<Metrics>,
    /// Where decrypted events go (buyer).
    events: Option<broadcast::Sender<DecryptedEvent>>,
    /// Where attach errors go (`/ready`, `/v1/status`).
    health: Arc<Health>,
    /// The rate limit of the failed-call log.
    failure_log: FailureLog,
}

impl DaemonObserver {
    /// Reports into `metrics` and `health` (attach errors); decrypted events also into
    /// `events`.
    pub fn new(
        metrics: Arc<Metrics>,
        health: Arc<Health>,
        events: Option<broadcast::Sender<DecryptedEvent>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            metrics,
            events,
            health,
            failure_log: FailureLog::default(),
        })
    }

    /// A key sold or bought over a channel: the channel's balance gauge and the log.
    fn trade(&self, what: &str, t: Trade<'_>) {
        self.metrics
            .set_balance(&t.channel_oid.to_string(), "channel_remaining", t.balance);
        tracing::info!(
            key_id = %t.key_id,
            amount = %t.amount,
            seq = t.seq,
            remaining = %t.balance,
            "key {what}"
        );
    }

    /// A data event not decrypted: counted by URI and logged (at debug when shed: counted in
    /// `xbrd_shed_total`, a flood of them is not a flood of warnings).
    fn event_failed(&self, topic: &str, e: &EventError) {
        self.metrics.failure(failures::EVENT, &e.error);
        match &e.key_id {
            _ if e.error.is(uri::BUSY) => {
                tracing::debug!(topic, error = %e.error, "event not decrypted (shed)")
            }
            None => tracing::warn!(topic, error = %e.error, "not a data event"),
            Some(k) => tracing::warn!(
                topic,
                key_id = %k,
                error = %e.error,
                "event not decrypted"
            ),
        }
    }
}

impl RoleObserver for DaemonObserver {
    fn observe(&self, event: RoleEvent<'_>) {
        let m = &self.metrics;
        match event {
            RoleEvent::Attached { session_id } => {
                self.health.set_attach_errors(session_id, &[]);
                tracing::info!(session_id, "market role attached");
            }
            RoleEvent::NotAttached {
                session_id,
                attempt,
                retry_in,
                error,
            } => {
                // The after-join step runs only once the declarations are in place.
                self.health.set_attach_errors(session_id, &[]);
                tracing::warn!(
                    session_id,
                    attempt,
                    retry_in_ms = retry_in.as_millis() as u64,
                    error = %error,
                    "market role not attached yet"
                )
            }
            RoleEvent::DeclarationsFailed {
                session_id,
                failures,
            } => {
                self.health.set_attach_errors(session_id, failures);
                tracing::warn!(
                    session_id,
                    ?failures,
                    "registrations or subscriptions failed; retrying them before the role attaches"
                )
            }
            RoleEvent::CallHandled { procedure, elapsed } => {
                if sells_a_key(procedure) {
                    m.observe_sale(elapsed);
                }
            }
            RoleEvent::CallFailed {
                procedure, error, ..
            } => {
                if error.is(uri::BUSY) {
                    m.shed(busy_refusal(procedure));
                }
                m.failure(procedure, error);
                self.failure_log.failed(procedure, error);
            }
            RoleEvent::Event {
                topic,
                publication,
                outcome,
            } => match outcome {
                Ok(d) => {
                    let ev = DecryptedEvent {
                        topic: topic.to_owned(),
                        key_id: d.key_id,
                        payload: views::value_to_json(&d.payload),
                        publication: Some(publication),
                    };
                    tracing::info!(topic = %ev.topic, key_id = %ev.key_id, publication, payload = %ev.payload, "decrypted event");
                    if let Some(sink) = &self.events {
                        let _ = sink.send(ev);
                    }
                }
                Err(e) => self.event_failed(topic, e),
            },
            RoleEvent::KeyRotated {
                api_id,
                key_id,
                offered,
            } => {
                m.rotations.inc();
                tracing::info!(
                    api_id = %api_id,
                    key_id = %key_id,
                    offered,
                    "data key rotated"
                );
            }
            RoleEvent::KeySold(s) => {
                m.sales.inc();
                self.trade(
                    "sold",
                    Trade {
                        key_id: &s.key_id,
                        channel_oid: &s.channel_oid,
                        amount: s.amount,
                        seq: s.seq,
                        balance: s.balance,
                    },
                );
            }
            RoleEvent::KeyBrokered => {
                m.sales.inc();
            }
            RoleEvent::PurchaseCompleted { elapsed } => m.observe_purchase(elapsed),
            RoleEvent::KeyBought(p) => {
                m.purchases.inc();
                self.trade(
                    "bought",
                    Trade {
                        key_id: &p.key_id,
                        channel_oid: &p.channel_oid,
                        amount: p.amount,
                        seq: p.seq,
                        balance: p.balance,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_refusals_are_counted_per_role() {
        let m = Arc::new(Metrics::new());
        let o = DaemonObserver::new(m.clone(), Arc::default(), None);
        let busy = xbr_market::error::MarketError::new(uri::BUSY, "x");
        let other = xbr_market::error::MarketError::new(uri::OFFER_EXPIRED, "x");
        for (procedure, error) in [
            ("sell", &busy),
            ("buy_key", &busy),
            ("buy_key", &busy),
            ("sell", &other),
        ] {
            o.observe(RoleEvent::CallFailed {
                procedure,
                error,
                elapsed: std::time::Duration::ZERO,
            });
        }
        let text = m.render();
        assert!(
            text.contains("xbrd_shed_total{what=\"seller_busy\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("xbrd_shed_total{what=\"maker_busy\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn sales_purchases_and_failures_reach_their_families() {
        let m = Arc::new(Metrics::new());
        let o = DaemonObserver::new(m.clone(), Arc::default(), None);
        let ms = std::time::Duration::from_millis;
        for procedure in ["buy_key", "sell", "get_quote", "close_channel"] {
            o.observe(RoleEvent::CallHandled {
                procedure,
                elapsed: ms(20),
            });
        }
        o.observe(RoleEvent::PurchaseCompleted { elapsed: ms(300) });
        let refused = xbr_market::error::MarketError::new(uri::NOT_AUTHORIZED, "no");
        for _ in 0..3 {
            o.observe(RoleEvent::CallFailed {
                procedure: "place_offer",
                error: &refused,
                elapsed: ms(1),
            });
        }
        let undecryptable = EventError {
            key_id: None,
            error: xbr_market::error::MarketError::from_uri("com.example.chosen", "x"),
        };
        o.observe(RoleEvent::Event {
            topic: "io.crossbar.example",
            publication: 1,
            outcome: Err(&undecryptable),
        });
        let text = m.render();
        for line in [
            "xbrd_sale_duration_seconds_count 2",
            "xbrd_purchase_duration_seconds_count 1",
            "xbrd_failures_total{operation=\"place_offer\",uri=\"wamp.error.not_authorized\"} 3",
            "xbrd_failures_total{operation=\"event\",uri=\"other\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        assert!(!text.contains("com.example.chosen"), "{text}");
    }

    #[test]
    fn declarations_failing_and_attaching_reach_readiness() {
        let health: Arc<Health> = Arc::default();
        let o = DaemonObserver::new(Arc::new(Metrics::new()), health.clone(), None);
        let failures =
            vec!["xbr.provider.0xab.sell: wamp.error.procedure_already_exists".to_owned()];
        o.observe(RoleEvent::DeclarationsFailed {
            session_id: 7,
            failures: &failures,
        });
        assert_eq!(health.attach_errors()[0].uri, "xbr.provider.0xab.sell");
        o.observe(RoleEvent::Attached { session_id: 7 });
        assert!(health.attach_errors().is_empty());
        // Repaired, the after-join step still failing: the declarations are in place.
        o.observe(RoleEvent::DeclarationsFailed {
            session_id: 7,
            failures: &failures,
        });
        let error = xbr_market::error::MarketError::runtime("no maker yet");
        o.observe(RoleEvent::NotAttached {
            session_id: 7,
            attempt: 1,
            retry_in: std::time::Duration::from_millis(500),
            error: &error,
        });
        assert!(health.attach_errors().is_empty());
    }
}

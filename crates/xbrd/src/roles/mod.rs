//! The market role of the process (maker, seller or buyer) on the WAMP component's session.
//!
//! One task follows the component's lifecycle. After every join (the first and each reconnect) it
//! attaches the role to the new session — registrations, subscriptions and the role's own start-up
//! calls to the market maker — retrying with a growing pause while the session stays up (the maker
//! may join after the seller, the chain may be slow). Once the role is running it is installed in
//! the admin API's [`RoleSlot`]. On shutdown the task stops the role's timers and feeds before the
//! component leaves the session.
//!
//! Role state lives in the SQLite store, so a restarted daemon resumes its keys, channels, sales
//! and purchases. Data keys at rest are wrapped under a key-encryption key derived from the
//! delegate key ([`data_key_kek`]).

pub mod buyer;
pub mod maker;
pub mod seller;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wamp_client::component::LifecycleEvent;
use wamp_client::session::Session;
use xbr_core::at_rest::Kek;
use xbr_market::adapter::session::SessionPeer;

use crate::admin::RoleSlot;
use crate::chain::Chain;
use crate::config::{Config, Role};
use crate::metrics::Metrics;
use crate::ports::RoleApi;
use crate::wiring::Store;

/// Calls the roles make to the market maker time out after this (the reference has none and
/// hangs, spec §10).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Domain separator of [`data_key_kek`].
const KEK_CONTEXT: &[u8] = b"xbrd data-key KEK v1";

/// The key-encryption key that wraps data keys at rest (seller: minted keys; buyer: bought keys):
/// `keccak256("xbrd data-key KEK v1" ‖ delegate private key)`.
///
/// Deriving it from the delegate key means the store alone (a copied database file, a backup)
/// does not reveal a single data key, while the daemon needs no second secret to manage: whoever
/// holds the delegate key may already sell or buy those keys. Rotating the delegate key makes the
/// stored keys unreadable, which is the wanted effect of a key compromise.
pub fn data_key_kek(delegate_key: &[u8; 32]) -> Kek {
    let mut input = zeroize::Zeroizing::new(Vec::with_capacity(KEK_CONTEXT.len() + 32));
    input.extend_from_slice(KEK_CONTEXT);
    input.extend_from_slice(delegate_key);
    Kek::from_bytes(alloy_primitives::keccak256(input.as_slice()).0)
}

/// A role as the lifecycle task drives it.
pub trait RoleDriver: Send + Sync {
    /// Attaches the role to the session `session_id` just joined: (re-)registers its procedures
    /// or subscriptions on it and (re-)starts the role. Must be safe to call again after a
    /// failure on the same session (nothing registered twice).
    fn attach(&self, session_id: u64) -> BoxFuture<'_, anyhow::Result<()>>;
    /// The admin API's view of the role, once attached at least once.
    fn api(&self) -> Option<Arc<dyn RoleApi>>;
    /// Stops timers and feeds (before the session is left).
    fn stop(&self);
}

/// Whether a registration failed only because this session already holds it (a retried attach
/// after a partial failure).
pub fn already_registered(e: &wamp_client::Error) -> bool {
    e.wamp_uri() == Some("wamp.error.procedure_already_exists")
}

/// What every role needs.
pub struct RoleContext {
    /// Configuration.
    pub cfg: Config,
    /// The open store.
    pub store: Store,
    /// The chain client.
    pub chain: Arc<Chain>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The component's session handle (follows reconnects).
    pub session: Session,
}

impl RoleContext {
    /// Caller/Publisher over the component's session, mapping errors as the roles expect.
    pub fn peer(&self) -> Arc<SessionPeer> {
        Arc::new(SessionPeer::new(self.session.clone(), Some(CALL_TIMEOUT)))
    }
}

/// Builds the driver for the configured role.
pub fn driver(ctx: RoleContext) -> anyhow::Result<Arc<dyn RoleDriver>> {
    Ok(match ctx.cfg.role {
        Role::Marketmaker => Arc::new(maker::MakerDriver::new(ctx)?),
        Role::Seller => Arc::new(seller::SellerDriver::new(ctx)?),
        Role::Buyer => Arc::new(buyer::BuyerDriver::new(ctx)?),
    })
}

/// The running lifecycle task.
pub struct Roles {
    task: JoinHandle<()>,
    stop: CancellationToken,
    driver: Arc<dyn RoleDriver>,
}

impl Roles {
    /// Follows `events` and attaches `driver` after every join until `shutdown`.
    pub fn spawn(
        driver: Arc<dyn RoleDriver>,
        session: Session,
        events: tokio::sync::broadcast::Receiver<LifecycleEvent>,
        slot: Arc<RoleSlot>,
        shutdown: CancellationToken,
    ) -> Self {
        let stop = shutdown.child_token();
        let task = tokio::spawn(follow(driver.clone(), session, events, slot, stop.clone()));
        Roles { task, stop, driver }
    }

    /// Stops attaching, then the role's timers and feeds; waits briefly for the task.
    pub async fn stop(self) {
        self.stop.cancel();
        self.driver.stop();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_millis(500), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Pause before attach attempt `n` (1-based): 0.5 s, 1 s, 2 s, … capped at 10 s.
fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(5).saturating_sub(1)))
        .min(Duration::from_secs(10))
}

async fn follow(
    driver: Arc<dyn RoleDriver>,
    session: Session,
    mut events: tokio::sync::broadcast::Receiver<LifecycleEvent>,
    slot: Arc<RoleSlot>,
    stop: CancellationToken,
) {
    let mut attached: Option<u64> = None;
    let mut installed = false;
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => return,
            ev = events.recv() => ev,
        };
        match ev {
            Ok(LifecycleEvent::Ready { .. }) | Err(RecvError::Lagged(_)) => {}
            Ok(LifecycleEvent::Disconnected { .. }) => {
                attached = None;
                continue;
            }
            Ok(_) => continue,
            Err(RecvError::Closed) => return,
        }
        let Some(id) = session.session_id() else {
            continue;
        };
        if attached == Some(id) {
            continue;
        }
        let mut attempt = 0u32;
        loop {
            if session.session_id() != Some(id) {
                break;
            }
            attempt += 1;
            let result = tokio::select! {
                _ = stop.cancelled() => return,
                r = driver.attach(id) => r,
            };
            match result {
                Ok(()) => {
                    attached = Some(id);
                    if !installed && let Some(api) = driver.api() {
                        slot.set(api);
                        installed = true;
                    }
                    tracing::info!(session_id = id, "market role attached");
                    break;
                }
                Err(e) => {
                    let delay = retry_delay(attempt);
                    tracing::warn!(session_id = id, attempt, retry_in_ms = delay.as_millis() as u64, error = %format!("{e:#}"), "market role not attached yet");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_is_keccak_of_context_and_key() {
        let key = [7u8; 32];
        let mut input = b"xbrd data-key KEK v1".to_vec();
        input.extend_from_slice(&key);
        assert_eq!(
            data_key_kek(&key).as_bytes(),
            &alloy_primitives::keccak256(&input).0
        );
        assert_ne!(
            data_key_kek(&key).as_bytes(),
            data_key_kek(&[8; 32]).as_bytes()
        );
    }

    #[test]
    fn only_an_existing_registration_counts_as_registered() {
        let err = |uri: &str| {
            wamp_client::Error::Wamp(Box::new(wamp_client::WampError {
                uri: uri.into(),
                args: Vec::new(),
                kwargs: Default::default(),
                details: Default::default(),
            }))
        };
        assert!(already_registered(&err(
            "wamp.error.procedure_already_exists"
        )));
        assert!(!already_registered(&err("wamp.error.not_authorized")));
        assert!(!already_registered(&wamp_client::Error::NotConnected));
    }

    #[test]
    fn retry_delay_grows_to_a_cap() {
        assert_eq!(retry_delay(1), Duration::from_millis(500));
        assert_eq!(retry_delay(2), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(2));
        assert_eq!(retry_delay(6), Duration::from_secs(8));
        assert_eq!(retry_delay(60), Duration::from_secs(8));
    }
}

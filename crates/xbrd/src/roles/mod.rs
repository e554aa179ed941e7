//! The market role of the process (maker, seller or buyer) in the daemon.
//!
//! xbr-market describes each role ([`xbr_market::runtime::Role`]: what it registers, subscribes
//! and does after each join) and its runtime declares that on the WAMP component (replayed on
//! every join) and runs the after-join step with backoff. The daemon adds, once for every role:
//! the [`DaemonRole`] wrapper (the admin API's view installed in the [`RoleSlot`] after the first
//! attach, the seller's sample feed) and the [`observer::DaemonObserver`] (metrics and logs).
//!
//! ```text
//!   config ─▶ maker | seller | buyer ─▶ xbr-market role ─▶ DaemonRole ─▶ runtime::attach
//!                                        (procedures, topics,   (slot, feed)   (component, after-join)
//!                                         on_join)                   │
//!                                                 DaemonObserver ◀───┘ (metrics, logs, SSE events)
//! ```
//!
//! Role state lives behind the store traits (SQLite in the daemon), so a restarted daemon resumes
//! its keys, channels, sales and purchases. Data keys at rest are wrapped under a key-encryption
//! key derived from the delegate key ([`data_key_kek`]).

pub mod buyer;
mod failure_log;
pub mod maker;
pub mod observer;
pub mod seller;
pub mod views;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use xbr_core::at_rest::Kek;
use xbr_market::adapter::session::SessionPeer;
use xbr_market::peer::BoxFuture;
use xbr_market::runtime::{Declarations, Observer, Role};
use xbr_market::{BuyerStore, MakerStore, MarketResult, SellerStore};

use crate::admin::RoleSlot;
use crate::chain::Chain;
use crate::config::{Config, Role as RoleKind};
use crate::metrics::Metrics;
use crate::ports::RoleApi;

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

/// The role's durable state, one view per role (SQLite in the daemon, memory in tests).
#[derive(Clone)]
pub struct Stores {
    /// The maker's.
    pub maker: Arc<dyn MakerStore>,
    /// The seller's.
    pub seller: Arc<dyn SellerStore>,
    /// The buyer's.
    pub buyer: Arc<dyn BuyerStore>,
}

impl Stores {
    /// The three views of one store.
    pub fn of<S: MakerStore + SellerStore + BuyerStore>(store: Arc<S>) -> Self {
        Stores {
            maker: store.clone(),
            seller: store.clone(),
            buyer: store,
        }
    }
}

/// What every role needs.
pub struct RoleContext {
    /// Configuration.
    pub cfg: Config,
    /// The store.
    pub stores: Stores,
    /// The chain client.
    pub chain: Arc<Chain>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Readiness (the role's attach errors go there).
    pub health: Arc<crate::health::Health>,
    /// Caller/Publisher over the component's session (bound once the component starts).
    pub peer: SessionPeer,
    /// Where the admin API finds the running role.
    pub slot: Arc<RoleSlot>,
}

impl RoleContext {
    /// The delegate (or maker) key from the configuration.
    pub fn key(&self) -> anyhow::Result<xbr_core::eth::EthPrivateKey> {
        use anyhow::Context as _;
        xbr_core::eth::EthPrivateKey::from_bytes(self.cfg.ethereum.private_key.expose())
            .context("ethereum.private_key is not a valid secp256k1 key")
    }
}

/// A daemon task that runs next to the role once it is attached (the seller's sample feed).
pub trait Sidecar: Send + Sync {
    /// Starts it (no-op when running).
    fn start(&self);
    /// Stops it.
    fn stop(&self);
}

/// The admin API's view of the role, once there is one (the maker's only after it is built).
pub type ApiView = Box<dyn Fn() -> Option<Arc<dyn RoleApi>> + Send + Sync>;

/// What a role module hands to [`build`].
pub struct RoleParts {
    /// xbr-market's role.
    pub market: Arc<dyn Role>,
    /// The admin API's view.
    pub api: ApiView,
    /// A task next to the role.
    pub sidecar: Option<Arc<dyn Sidecar>>,
    /// Metrics and logs (with the buyer's event stream).
    pub observer: Observer,
}

/// A role in the daemon: xbr-market's role plus the admin API's view and sidecar.
pub struct DaemonRole {
    market: Arc<dyn Role>,
    api: ApiView,
    sidecar: Option<Arc<dyn Sidecar>>,
    slot: Arc<RoleSlot>,
    installed: AtomicBool,
}

impl Role for DaemonRole {
    fn declarations(&self, observer: &Observer) -> Declarations {
        self.market.declarations(observer)
    }

    fn on_join(&self) -> BoxFuture<'_, MarketResult<()>> {
        Box::pin(async move {
            self.market.on_join().await?;
            if !self.installed.load(Ordering::SeqCst)
                && let Some(api) = (self.api)()
            {
                self.slot.set(api);
                self.installed.store(true, Ordering::SeqCst);
            }
            if let Some(s) = &self.sidecar {
                s.start();
            }
            Ok(())
        })
    }

    fn stop(&self) {
        if let Some(s) = &self.sidecar {
            s.stop();
        }
        self.market.stop();
    }
}

/// The configured role, ready to be declared on the component.
pub fn build(ctx: RoleContext) -> anyhow::Result<(Arc<DaemonRole>, Observer)> {
    let parts = match ctx.cfg.role {
        RoleKind::Marketmaker => maker::parts(&ctx)?,
        RoleKind::Seller => seller::parts(&ctx)?,
        RoleKind::Buyer => buyer::parts(&ctx)?,
    };
    let role = Arc::new(DaemonRole {
        market: parts.market,
        api: parts.api,
        sidecar: parts.sidecar,
        slot: ctx.slot,
        installed: AtomicBool::new(false),
    });
    Ok((role, parts.observer))
}

#[cfg(test)]
mod tests;

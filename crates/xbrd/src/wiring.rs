//! Wiring: builds the store, the chain client and the WAMP component with the configured role.

use std::sync::Arc;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use wamp_client::Session;
use xbr_market::SqliteStore;

use crate::admin::RoleSlot;
use crate::chain::Chain;
use crate::config::Config;
use crate::health::Health;
use crate::metrics::{Metrics, Shed};
use crate::roles::{CALL_TIMEOUT, RoleContext, Stores};
use xbr_market::adapter::session::SessionPeer;
use xbr_market::runtime::{AfterJoin, attach};

/// A count a WAMP session keeps of what it shed.
type SessionCount = fn(&Session) -> u64;

/// The open store, shared by the role.
pub type Store = Arc<SqliteStore>;

/// Opens (creating and migrating) the SQLite store off the async workers.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    let path = cfg.store.path.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .context("store task failed")?
        .with_context(|| format!("cannot open {}", cfg.store.path.display()))?;
    Ok(Arc::new(store))
}

/// Closes the store: waits for the role's last references to go, then drops the connection (SQLite
/// checkpoints the WAL on close). Every commit was already durable (`synchronous=FULL`).
pub async fn close_store(store: Store) -> anyhow::Result<()> {
    let mut store = store;
    loop {
        match Arc::try_unwrap(store) {
            Ok(s) => {
                tokio::task::spawn_blocking(move || drop(s))
                    .await
                    .context("store task failed")?;
                return Ok(());
            }
            Err(shared) => {
                store = shared;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
}

/// The chain client for the configuration (connects lazily).
pub fn connect_chain(cfg: &Config) -> anyhow::Result<Arc<Chain>> {
    Ok(Chain::new(cfg))
}

/// What [`start`] needs.
pub struct Context<'a> {
    /// Configuration.
    pub cfg: &'a Config,
    /// The open store.
    pub store: Store,
    /// The chain.
    pub chain: Arc<Chain>,
    /// Readiness inputs.
    pub health: Arc<Health>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Where the running role is published for the admin API.
    pub role_slot: Arc<RoleSlot>,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
}

/// The running WAMP component and role.
pub struct Running {
    component: wamp_client::component::RunningComponent,
    follow: tokio::task::JoinHandle<String>,
    roles: AfterJoin,
}

impl Running {
    /// Resolves when the component stopped on its own (retries exhausted, authentication failed), with the
    /// reason.
    pub async fn stopped(&mut self) -> String {
        match (&mut self.follow).await {
            Ok(reason) => reason,
            Err(e) => format!("lifecycle task failed: {e}"),
        }
    }

    /// Stops the role's timers and feeds, then leaves the session (GOODBYE) and stops
    /// reconnecting; the lifecycle log sees the leave.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.roles.stop().await;
        let result = self.component.shutdown().await.map_err(anyhow::Error::from);
        let mut follow = self.follow;
        if tokio::time::timeout(std::time::Duration::from_millis(500), &mut follow)
            .await
            .is_err()
        {
            follow.abort();
        }
        result
    }
}

/// Starts the WAMP component with the role declared on it (its procedures and subscriptions
/// replayed on every join) and the role's after-join step (see [`crate::roles`]).
pub async fn start(ctx: Context<'_>) -> anyhow::Result<Running> {
    let peer = SessionPeer::unbound(Some(CALL_TIMEOUT));
    let (role, observer) = crate::roles::build(RoleContext {
        cfg: ctx.cfg.clone(),
        stores: Stores::of(ctx.store.clone()),
        chain: ctx.chain.clone(),
        metrics: ctx.metrics.clone(),
        health: ctx.health.clone(),
        peer: peer.clone(),
        slot: ctx.role_slot.clone(),
    })
    .with_context(|| format!("cannot set up the {} role", ctx.cfg.role))?;
    let (component, declared) =
        attach::declare(crate::component::build(ctx.cfg), role.as_ref(), &observer);
    let events = component.events();
    let role_events = component.events();
    let running = component.start();
    peer.bind(running.session());
    let session_counts: [(Shed, SessionCount); 3] = [
        (Shed::EventsDropped, Session::dropped_events),
        (Shed::InvocationsRefused, Session::refused_invocations),
        (Shed::ProgressOverflow, Session::progress_overflows),
    ];
    for (what, read) in session_counts {
        let session = running.session();
        ctx.metrics.sample_shed(what, move || read(&session));
    }
    let roles = AfterJoin::spawn(role, declared, running.session(), role_events, observer);
    let follow = tokio::spawn(crate::component::follow(
        events,
        ctx.cfg.realm.clone(),
        ctx.health.clone(),
        ctx.metrics.clone(),
    ));
    Ok(Running {
        component: running,
        follow,
        roles,
    })
}

//! `xbrd run`: the daemon's life — state directory and admin token, admin API, store, chain probe, WAMP
//! component and role, systemd notify, and an orderly stop on SIGTERM/SIGINT.
//!
//! One [`CancellationToken`] flows down to every task. Stop order: stop accepting work (rotation, feeds),
//! leave the WAMP session with GOODBYE, close (flush) the store, stop the admin API — bounded by
//! [`STOP_BUDGET`].

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use xbr_chain::TxPolicy;
use xbr_chain::tx::GWEI;

use crate::admin::balance_history::{BalanceHistory, HISTORY_SAMPLES, sample_balances};
use crate::admin::{self, AdminState, RoleSlot};
use crate::config::{AuthMethod, Config, KeyOrigin, Role, Secret, secret::read_text_secret};
use crate::health::Health;
use crate::health::invariants::{self, InvariantChecker};
use crate::metrics::Metrics;
use crate::metrics::chain_probe::ChainProbe;
use crate::ports::ChainApi;
use crate::roles::Stores;
use crate::{service, wiring};

/// The whole stop sequence must finish within this (systemd's default stop timeout is far longer; the
/// product promises 5 s).
pub const STOP_BUDGET: Duration = Duration::from_millis(4500);

/// The effective configuration as JSON, without secrets (`xbrd config check`, logs).
pub fn effective_config(cfg: &Config) -> serde_json::Value {
    let delegate = xbr_core::eth::EthPrivateKey::from_bytes(cfg.ethereum.private_key.expose())
        .map(|k| k.address().to_checksum(None))
        .unwrap_or_else(|_| "invalid key".into());
    let addr = |a: Option<alloy_primitives::Address>| a.map(|a| a.to_checksum(None));
    let mut out = json!({
        "role": cfg.role,
        "realm": cfg.realm,
        "transports": cfg.transports,
        "authentication": {
            "method": cfg.authentication.method.name(),
            "authid": cfg.authentication.authid,
            "authrole": cfg.authentication.authrole,
            "credential": match cfg.authentication.method { AuthMethod::Anonymous => "none", _ => "loaded (not shown)" },
        },
        "ethereum": {
            "gateway": cfg.ethereum.gateway.as_str(),
            "chain_id": cfg.ethereum.chain_id,
            "key": key_origin(&cfg.ethereum.key_origin),
            "transactions": tx_policy(&cfg.ethereum.transactions),
            "delegate_address": delegate,
            "contracts": {
                "token": addr(cfg.ethereum.contracts.token),
                "network": addr(cfg.ethereum.contracts.network),
                "domain": addr(cfg.ethereum.contracts.domain),
                "catalog": addr(cfg.ethereum.contracts.catalog),
                "market": addr(cfg.ethereum.contracts.market),
                "channel": addr(cfg.ethereum.contracts.channel),
            },
        },
        "market": {
            "maker": addr(cfg.market.maker),
            "member": addr(cfg.market.member),
            "market_id": cfg.market.market_id.map(|m| m.to_string()),
            "max_price": cfg.market.max_price.map(|p| p.to_string()),
            "max_channel_amount": cfg.market.max_channel_amount.map(|a| a.to_string()),
            "topics": cfg.market.topics,
            "apis": cfg.market.apis,
            "sample_feed": cfg.market.sample_feed.map(|f| json!({
                "api_id": f.api_id,
                "interval_secs": f.interval.as_secs_f64(),
            })),
        },
        "store": cfg.store,
        "admin": cfg.admin,
        "log": cfg.log,
        "warnings": config_warnings(cfg),
    });
    if cfg.role == Role::Marketmaker {
        let (scan, close) = (&cfg.market.scan, &cfg.market.close);
        out["market"]["scan"] = json!({
            "max_range": scan.max_range,
            "confirmations": scan.confirmations,
            "rescan": scan.rescan,
        });
        out["market"]["close"] = json!({
            "retry_min_secs": close.retry_min.as_secs_f64(),
            "retry_max_secs": close.retry_max.as_secs_f64(),
            "poll_secs": close.poll.as_secs_f64(),
            "resubmit_after_secs": close.resubmit_after.as_secs_f64(),
            "reply_wait_secs": close.reply_wait.as_secs_f64(),
        });
    }
    out
}

/// What is legal but risky in the configuration (`config check` shows them, `run` logs them).
pub fn config_warnings(cfg: &Config) -> Vec<String> {
    let mut warnings = Vec::new();
    if cfg.ethereum.chain_id.is_none() {
        warnings.push(
            "ethereum.chain_id is not set: the gateway's chain is not checked, and transactions are \
             signed for whatever chain it serves; set it (e.g. 1337 for dev chains)"
                .to_string(),
        );
    }
    warnings
}

/// Where the key came from: the file and the passphrase source, never a secret.
fn key_origin(origin: &KeyOrigin) -> serde_json::Value {
    match origin {
        KeyOrigin::Inline => json!({ "source": "inline (ethereum.private_key)" }),
        KeyOrigin::File { path, passphrase } => json!({
            "source": "file",
            "file": path.display().to_string(),
            "format": if passphrase.is_some() { "keystore v3" } else { "raw key" },
            "passphrase_from": passphrase.as_ref().map(|p| p.to_string()),
        }),
    }
}

/// Wei as a decimal number of gwei (e.g. `1.5`).
fn gwei(wei: u128) -> String {
    let (int, frac) = (wei / GWEI, wei % GWEI);
    if frac == 0 {
        int.to_string()
    } else {
        format!("{int}.{}", format!("{frac:09}").trim_end_matches('0'))
    }
}

fn tx_policy(p: &TxPolicy) -> serde_json::Value {
    json!({
        "max_fee_gwei": gwei(p.max_fee_per_gas),
        "max_priority_fee_gwei": gwei(p.max_priority_fee_per_gas),
        "confirmations": p.confirmations,
        "replace_after_secs": p.replace_after.as_secs_f64(),
        "fee_bump_percent": p.fee_bump_percent,
        "max_replacements": p.max_replacements,
        "receipt_timeout_secs": p.receipt_timeout.as_secs_f64(),
    })
}

/// Creates the state directory (0700) if needed.
fn ensure_state_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create state directory {}", dir.display()))
}

/// Reads the admin token, creating a random one (0600) when the file does not exist yet.
pub fn ensure_admin_token(path: &Path) -> anyhow::Result<Secret<String>> {
    if !path.exists() {
        let mut raw = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
        let token = zeroize::Zeroizing::new(hex::encode(raw));
        if let Some(parent) = path.parent() {
            ensure_state_dir(parent)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create admin token file {}", path.display()))?;
        std::io::Write::write_all(&mut f, format!("{}\n", token.as_str()).as_bytes())?;
        tracing::info!(path = %path.display(), "created admin token file");
    }
    Ok(read_text_secret(path)?)
}

/// Sends READY=1 once the store is open and the session joined (and a STATUS line on every change).
async fn notify_when_ready(health: Arc<Health>, stop: CancellationToken) {
    let mut notified = false;
    let mut starting = String::new();
    loop {
        let changed = health.changed();
        let up = health.store_open() && health.session().is_some();
        if up && !notified {
            let s = health.session().map(|s| s.session_id).unwrap_or_default();
            service::notify_ready(&format!("joined, session {s}"));
            tracing::info!(session_id = s, "ready");
            notified = true;
        } else if notified {
            service::notify_status(if up {
                "joined"
            } else {
                "waiting for the WAMP session"
            });
        } else if health.starting_status() != starting {
            // While starting: each change of what is up (store, router, chain).
            starting = health.starting_status();
            service::notify_status(&starting);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = changed => {}
        }
    }
}

/// Runs the daemon until SIGTERM/SIGINT (→ `Ok`) or a fatal error.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut signals = service::StopSignals::install().context("cannot install signal handlers")?;
    tracing::info!(role = %cfg.role, realm = %cfg.realm, config = %cfg.source.display(), version = env!("CARGO_PKG_VERSION"), "starting");
    for warning in config_warnings(&cfg) {
        tracing::warn!("{warning}");
    }
    ensure_state_dir(&cfg.store.state_dir)?;
    let token = ensure_admin_token(&cfg.admin.token_file)?;
    let shutdown = CancellationToken::new();
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::new());
    let role_slot = Arc::new(RoleSlot::default());

    let chain = wiring::connect_chain(&cfg).context("cannot set up the Ethereum client")?;

    let listener = admin::bind(cfg.admin.listen)
        .await
        .with_context(|| format!("cannot listen on admin.listen = {}", cfg.admin.listen))?;
    let admin_state = Arc::new(AdminState {
        role: cfg.role,
        realm: cfg.realm.clone(),
        store_path: cfg.store.path.display().to_string(),
        token,
        health: health.clone(),
        metrics: metrics.clone(),
        role_api: role_slot.clone(),
        chain: Some(chain.clone() as Arc<dyn ChainApi>),
        started,
        shutdown: shutdown.clone(),
        balance_history: Arc::new(BalanceHistory::new(
            HISTORY_SAMPLES,
            cfg.admin.balance_interval,
        )),
    });
    let mut metrics_task = None;
    if let Some(addr) = cfg.admin.metrics_listen {
        let metrics_listener = admin::bind(addr)
            .await
            .with_context(|| format!("cannot listen on admin.metrics_listen = {addr}"))?;
        tracing::info!(listen = %addr, "metrics listening (no token)");
        let router = admin::metrics_router(admin_state.clone());
        metrics_task = Some(tokio::spawn(admin::serve_router(
            metrics_listener,
            router,
            shutdown.clone(),
        )));
    }
    tracing::info!(listen = %cfg.admin.listen, "admin API listening");
    let sampler_task = tokio::spawn(sample_balances(
        admin_state.clone(),
        cfg.admin.balance_interval,
        shutdown.clone(),
    ));
    let admin_task = tokio::spawn(admin::serve(listener, admin_state, shutdown.clone()));

    let chain_probe = ChainProbe {
        chain: chain.clone() as Arc<dyn ChainApi>,
        health: health.clone(),
        metrics: metrics.clone(),
        period: cfg.admin.chain_interval,
    }
    .spawn(shutdown.clone());
    tokio::spawn(notify_when_ready(health.clone(), shutdown.clone()));
    let watchdog = service::spawn_watchdog(shutdown.clone());

    let store = wiring::open_store(&cfg)
        .await
        .context("cannot open the store")?;
    health.set_store_open(true);
    tracing::info!(path = %cfg.store.path.display(), "store open");
    let checker = InvariantChecker::new(cfg.role, Stores::of(store.clone()));
    tokio::spawn(invariants::watch(health.clone(), checker, shutdown.clone()));

    let mut component = wiring::start(wiring::Context {
        cfg: &cfg,
        store: store.clone(),
        chain,
        health: health.clone(),
        metrics,
        role_slot: role_slot.clone(),
        shutdown: shutdown.clone(),
    })
    .await?;

    let outcome = tokio::select! {
        sig = signals.recv() => {
            tracing::info!(signal = sig, "stopping");
            Ok(())
        }
        reason = component.stopped() => Err(anyhow::anyhow!("the WAMP component stopped: {reason}")),
    };

    // Orderly stop within the budget.
    service::notify_stopping();
    let deadline = Instant::now() + STOP_BUDGET;
    shutdown.cancel();
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(
        left.saturating_sub(Duration::from_millis(1000)),
        component.shutdown(),
    )
    .await
    {
        Ok(Ok(())) => tracing::info!("left the WAMP session"),
        Ok(Err(e)) => tracing::warn!(error = %e, "leaving the WAMP session failed"),
        Err(_) => tracing::warn!("leaving the WAMP session timed out"),
    }
    role_slot.clear();
    health.set_session(None);
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(
        left.saturating_sub(Duration::from_millis(300)),
        wiring::close_store(store),
    )
    .await
    {
        Ok(Ok(())) => tracing::info!("store closed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "closing the store failed"),
        Err(_) => tracing::warn!("closing the store timed out"),
    }
    health.set_store_open(false);
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(left, admin_task).await;
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(left, chain_probe).await;
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(left, sampler_task).await;
    if let Some(task) = metrics_task {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, task).await;
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    tracing::info!(uptime_secs = started.elapsed().as_secs(), "stopped");
    outcome
}

//! `xbrd status`: reads `/v1/status` of a running daemon.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::admin::dto::StatusView;
use crate::cli::StatusArgs;
use crate::config::{self, secret::read_text_secret};

/// Where the daemon's admin API is and how to authenticate.
fn target(args: &StatusArgs) -> anyhow::Result<(SocketAddr, PathBuf)> {
    if let Some(c) = &args.config {
        let cfg = config::load(c)?;
        return Ok((cfg.admin.listen, cfg.admin.token_file));
    }
    match (args.admin, &args.token_file) {
        (Some(a), Some(t)) => Ok((a, t.clone())),
        _ => bail!("give -c FILE, or both --admin ADDR and --token-file FILE"),
    }
}

/// An HTTP client for the local admin API.
///
/// reqwest is built with rustls but without a bundled crypto provider (xbr-chain picks ring on
/// purpose), so the process-wide provider is installed first; a later install is a no-op.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Fetches the status.
pub async fn status(args: &StatusArgs) -> anyhow::Result<StatusView> {
    let (addr, token_file) = target(args)?;
    let token = read_text_secret(&token_file)?;
    let url = format!("http://{addr}/v1/status");
    let resp = http_client()
        .get(&url)
        .bearer_auth(token.expose())
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await
        .with_context(|| format!("cannot reach the admin API at {url}"))?;
    let code = resp.status();
    let body: serde_json::Value = resp.json().await.context("the admin API sent no JSON")?;
    if !code.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("unknown error");
        bail!("admin API answered {code}: {msg}");
    }
    Ok(serde_json::from_value(body)?)
}

/// The admin address `xbrd health` probes (see [`crate::cli::HealthArgs`]).
pub fn health_target(args: &crate::cli::HealthArgs) -> anyhow::Result<SocketAddr> {
    if let Some(admin) = args.admin {
        return Ok(admin);
    }
    if let Some(path) = &args.config {
        return Ok(config::admin_listen(path)?);
    }
    let env = std::env::var("XBRD__ADMIN__LISTEN").ok();
    Ok(config::validate::admin_listen(env.as_deref())?)
}

/// `GET /health` of a running daemon; `Ok` on 200.
pub async fn health(admin: SocketAddr) -> anyhow::Result<()> {
    // A daemon listening on all interfaces is probed over loopback.
    let addr = if admin.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), admin.port())
    } else {
        admin
    };
    let url = format!("http://{addr}/health");
    let resp = http_client()
        .get(&url)
        .timeout(std::time::Duration::from_secs(3))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !resp.status().is_success() {
        bail!("{url} answered {}", resp.status());
    }
    Ok(())
}

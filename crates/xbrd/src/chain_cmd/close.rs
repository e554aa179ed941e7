//! `xbrd chain channel close -c delegate.toml`: a channel is closed by its delegate, which holds
//! the off-chain state (seq, balance) and the key that signs it. The command asks the running
//! delegate daemon through its admin API (`POST /v1/channel/close`, the buyer's or seller's
//! close path: a final close signed at the current state and settled by the market maker), then
//! follows the channel on chain until it is Closing or Closed.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use xbr_chain::ChannelState;

use super::channel::{channel_id, channel_json, read};
use super::output::Report;
use super::target::Target;
use crate::config::secret::read_text_secret;
use crate::config::{self, Config};

/// How long the chain gets to show the close the maker submitted.
const CHAIN_WAIT: Duration = Duration::from_secs(300);
/// How often the chain is asked meanwhile.
const POLL: Duration = Duration::from_millis(500);

/// Asks the daemon of `cfg` to close its channel; the daemon's answer.
async fn ask_daemon(cfg: &Config) -> anyhow::Result<Value> {
    let addr = cfg.admin.listen;
    let token = read_text_secret(&cfg.admin.token_file)?;
    let url = format!("http://{addr}/v1/channel/close");
    tracing::info!(%url, "asking the delegate daemon to close its channel");
    let resp = crate::status::http_client()
        .post(&url)
        .bearer_auth(token.expose())
        .timeout(Duration::from_secs(180))
        .send()
        .await
        .with_context(|| {
            format!("cannot reach the delegate daemon's admin API at {url} (is `xbrd run` up?)")
        })?;
    let code = resp.status();
    let body: Value = resp.json().await.context("the admin API sent no JSON")?;
    if !code.is_success() {
        let msg = body["error"]["message"].as_str().unwrap_or("unknown error");
        bail!("the delegate daemon refused to close the channel ({code}): {msg}");
    }
    Ok(body)
}

/// `channel close`.
pub async fn close(
    config_path: &std::path::Path,
    chain_id: Option<u64>,
    no_wait: bool,
) -> anyhow::Result<Report> {
    let target = Target::of_config(config::load(config_path)?, chain_id, None);
    // The chain is checked first: a wrong chain means the daemon is not asked at all.
    let chain = if no_wait {
        None
    } else {
        Some(target.connect(&["channel"]).await?.0)
    };
    let cfg = target
        .config
        .as_ref()
        .context("a configuration was loaded")?;
    let answer = ask_daemon(cfg).await?;
    let id = answer["channel_oid"]
        .as_str()
        .context("the daemon's answer names no channel")?;
    let id = channel_id("channel_oid", id)?;
    let Some(chain) = chain else {
        return Ok(Report::new(
            format!("channel {id}: close signed and handed to the market maker"),
            serde_json::json!({ "daemon": answer }),
        ));
    };
    let deadline = tokio::time::Instant::now() + CHAIN_WAIT;
    let c = loop {
        let c = read(&chain, id).await?;
        if matches!(c.state, ChannelState::Closing | ChannelState::Closed) {
            break c;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the daemon signed the close of channel {id}, but the chain still shows it {:?} after {CHAIN_WAIT:?}: the maker submits it and retries (follow it with xbrd chain channel get {id})",
                c.state
            );
        }
        tokio::time::sleep(POLL).await;
    };
    let mut value = channel_json(&c);
    value["daemon"] = answer;
    Ok(Report::new(
        format!("channel {id} is {:?} on chain", c.state),
        value,
    ))
}

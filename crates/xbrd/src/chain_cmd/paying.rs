//! A paying channel is funded and sent by the market maker: the seller's member signs the
//! ChannelOpen and asks the maker through `xbr.marketmaker.open_channel` (spec §3A.4), as the
//! reference CLI did. The request goes over the delegate configuration's first transport, joined
//! with the delegate's cryptosign key and the member's first-login signature (as `xbrd market
//! register-key` does), so the maker sees the member itself asking.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use wamp_client::CallOptions;
use wamp_proto::Dict;
use xbr_core::eth::EthPrivateKey;
use xbr_market::maker::authenticator::{ROLE_USER, member_login_authextra};
use xbr_market::wire::OpenChannelRequest;

use crate::config::Config;
use crate::register_key::{delegate_key, first_transport, join};

/// How long the maker gets to approve, send and mine `openChannel`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(180);

/// Asks the maker to open `req` (signed by `member`); the transaction the maker reports.
pub async fn ask_maker(
    cfg: &Config,
    member: &EthPrivateKey,
    req: &OpenChannelRequest,
) -> anyhow::Result<Value> {
    let key = delegate_key(
        cfg,
        "a paying channel is asked of the maker as the delegate",
    )?;
    let t = first_transport(cfg)?;
    let login = member_login_authextra(member, key.public_key());
    let (session, authid, authrole) = join(t, &cfg.realm, &key, login)
        .await
        .with_context(|| format!("joining realm {:?} at {}", cfg.realm, t.url))?;
    if authrole != ROLE_USER {
        let _ = session.leave().await;
        bail!(
            "the market admitted the delegate as {authrole:?} ({authid}), not as a member's \"user\": is {} a provider in the market?",
            member.address()
        );
    }
    tracing::info!(channel = %req.channel_oid, market = %req.market_oid, maker = %req.marketmaker, "asking the market maker to open the paying channel");
    let options = CallOptions {
        timeout: Some(OPEN_TIMEOUT),
        ..CallOptions::default()
    };
    let called = session
        .call(
            "xbr.marketmaker.open_channel",
            req.to_args(),
            Dict::new(),
            options,
        )
        .await;
    let _ = session.leave().await;
    let result = called.context("xbr.marketmaker.open_channel")?;
    let tx = result
        .args
        .first()
        .and_then(|v| v.as_dict())
        .and_then(|d| d.get("transaction"))
        .and_then(|v| v.as_bytes())
        .map(|b| format!("0x{}", hex::encode(b)))
        .context("the maker's open_channel answer has no transaction")?;
    Ok(json!({ "hash": tx, "sent_by": "market maker" }))
}

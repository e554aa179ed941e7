//! `xbrd chain member get|register`: XBR network membership. Registering is an explicit
//! acceptance of the network's EULA: `--eula` must name the hash `XBRNetwork.eula()` holds.

use anyhow::bail;
use serde_json::{Value, json};
use xbr_chain::{MemberStatus, SimpleBlockchain};

use super::args::{GatewayArgs, KeyArgs};
use super::output::{Report, mined};
use super::target::Target;
use crate::config::validate::parse_address_str;

const NEED: super::target::Need = &["network"];

fn member_json(address: &str, m: Option<&MemberStatus>, eula: &str) -> Value {
    json!({
        "address": address,
        "is_member": m.is_some(),
        "registered": m.map(|m| m.registered.to_string()),
        "level": m.map(|m| format!("{:?}", m.level).to_uppercase()),
        "eula": m.map(|m| m.eula.clone()),
        "profile": m.map(|m| m.profile.clone()),
        "network_eula": eula,
    })
}

async fn show(chain: &SimpleBlockchain, address: &str) -> anyhow::Result<Report> {
    let a = parse_address_str(address).map_err(|e| anyhow::anyhow!(e))?;
    let m = chain.member_status(a).await?;
    let eula = chain.eula().await?;
    let shown = a.to_checksum(None);
    let headline = match &m {
        Some(m) => format!("{shown} is a member ({:?})", m.level),
        None => format!("{shown} is not a member of the XBR network"),
    };
    Ok(Report::new(
        headline,
        member_json(&shown, m.as_ref(), &eula),
    ))
}

/// `member get ADDRESS`.
pub async fn get(address: &str, gateway: &GatewayArgs) -> anyhow::Result<Report> {
    let (chain, _) = Target::resolve(gateway)?.connect(NEED).await?;
    show(&chain, address).await
}

/// `member register`: registers the key's address after checking the accepted EULA.
pub async fn register(
    gateway: &GatewayArgs,
    key: &KeyArgs,
    eula: Option<&str>,
    profile: &str,
) -> anyhow::Result<Report> {
    let key = key.load()?;
    let (chain, _) = Target::resolve(gateway)?.connect(NEED).await?;
    let address = key.address().to_checksum(None);
    let network_eula = chain.eula().await?;
    if let Some(m) = chain.member_status(key.address()).await? {
        return Ok(Report::new(
            format!("{address} is already a member: nothing sent"),
            member_json(&address, Some(&m), &network_eula),
        ));
    }
    match eula {
        None => bail!(
            "registering accepts the XBR network's EULA {network_eula}: read it, then repeat the command with --eula {network_eula}"
        ),
        Some(given) if given.trim() != network_eula => bail!(
            "--eula {given} is not the network's EULA {network_eula}: read that one, then repeat with --eula {network_eula}"
        ),
        Some(_) => {}
    }
    tracing::info!(member = %address, eula = %network_eula, "registering the member");
    let receipt = chain.register_member(&key, profile).await?;
    let m = chain.member_status(key.address()).await?;
    let mut value = member_json(&address, m.as_ref(), &network_eula);
    value["transaction"] = mined(receipt.transaction_hash, receipt.block_number);
    Ok(Report::new(format!("{address} registered"), value))
}

//! `xbrd chain deploy|bootstrap|balance`: the contracts and a whole market on a dev chain, and
//! an address's balances.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use xbr_chain::{ContractBytecode, MarketDescription};
use xbr_core::ids::format_bytes16;

use super::args::{GatewayArgs, KeyArgs};
use super::output::Report;
use super::target::{Target, load_key};
use crate::config::secret::check_private_file_mode;
use crate::config::validate::parse_address_str;

fn default_bytecode_dir() -> PathBuf {
    let peers = std::env::var_os("XBRD_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".peers"));
    peers.join("contracts")
}

/// `deploy`: the seven contracts from `bytecode`, addresses written to `out` (TOML) and beside it.
pub async fn deploy(
    target: &Target,
    key: &KeyArgs,
    bytecode: Option<PathBuf>,
    out: &Path,
) -> anyhow::Result<Report> {
    // The file is read back as `ethereum.contracts_file`, whose format follows the extension.
    if out.extension().and_then(|e| e.to_str()) != Some("toml") {
        anyhow::bail!(
            "--out {}: the addresses are written as TOML, so the file name must end in .toml",
            out.display()
        );
    }
    let deployer = key.load()?;
    let dir = bytecode.unwrap_or_else(default_bytecode_dir);
    let code = ContractBytecode::load(&dir).with_context(|| {
        format!(
            "cannot load the contract bytecode from {} (set --bytecode or XBRD_CONTRACTS_DIR)",
            dir.display()
        )
    })?;
    let (gateway, info) = target.gateway().await?;
    tracing::info!(deployer = %deployer.address(), chain_id = info.chain_id, "deploying the XBR contracts");
    let deployment = xbr_chain::deploy(&gateway, &deployer, deployer.address(), &code).await?;
    let env_path = out.with_extension("env");
    deployment
        .contracts
        .write_files(out, &env_path)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let c = &deployment.contracts;
    Ok(Report::new(
        format!(
            "XBR contracts deployed on chain {}; addresses in {}",
            info.chain_id,
            out.display()
        ),
        json!({
            "chain_id": info.chain_id,
            "deployer": deployer.address().to_checksum(None),
            "types": deployment.types.to_checksum(None),
            "contracts": {
                "token": c.token.to_checksum(None),
                "network": c.network.to_checksum(None),
                "domain": c.domain.to_checksum(None),
                "catalog": c.catalog.to_checksum(None),
                "market": c.market.to_checksum(None),
                "channel": c.channel.to_checksum(None),
            },
            "contracts_file": out.display().to_string(),
            "env_file": env_path.display().to_string(),
        }),
    ))
}

/// `bootstrap`: members, market, joins and channels of a dev market description.
pub async fn bootstrap(
    gateway: &GatewayArgs,
    market: &Path,
    funder_key_file: &Path,
) -> anyhow::Result<Report> {
    let target = Target::resolve(gateway)?;
    let (chain, _) = target
        .connect(&["token", "network", "market", "channel"])
        .await?;
    let funder = load_key(funder_key_file, "--funder-key-file")?;
    // The description holds member keys: the same file-mode rule as every key file, except that public
    // dev-chain descriptions may be shared read-only; warn instead of refusing.
    if let Err(e) = check_private_file_mode(market) {
        tracing::warn!("{e}");
    }
    let text = std::fs::read_to_string(market)
        .with_context(|| format!("cannot read {}", market.display()))?;
    let desc: MarketDescription = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid market description", market.display()))?;
    let done = xbr_chain::bootstrap(&chain, &funder, &desc).await?;
    let market_id = format_bytes16(done.market_id.as_bytes());
    Ok(Report::new(
        format!("dev market {market_id} bootstrapped"),
        json!({
            "market_id": market_id,
            "owner": done.owner.to_checksum(None),
            "maker": done.maker.to_checksum(None),
            "verifying_chain_id": done.verifying_chain_id,
            "verifying_contract": done.verifying_contract.to_checksum(None),
            "members": done.members.iter().map(|(a, t)| json!({ "address": a.to_checksum(None), "actor": format!("{t:?}") })).collect::<Vec<_>>(),
            "channels": done.channels.iter().map(|c| json!({
                "channel_id": format_bytes16(c.channel_id.as_bytes()),
                "type": format!("{:?}", c.ctype),
                "actor": c.actor.to_checksum(None),
                "delegate": c.delegate.to_checksum(None),
                "recipient": c.recipient.to_checksum(None),
                "amount": c.amount.to_string(),
                "opened_now": c.opened_now,
            })).collect::<Vec<_>>(),
        }),
    ))
}

/// `balance`: ETH and XBR of `address`.
pub async fn balance(address: &str, gateway: &GatewayArgs) -> anyhow::Result<Report> {
    let address = parse_address_str(address).map_err(|e| anyhow::anyhow!(e))?;
    let (chain, _) = Target::resolve(gateway)?.connect(&["token"]).await?;
    let b = chain.balances(address).await?;
    Ok(Report::new(
        format!(
            "{}: {} ETH, {} XBR",
            address.to_checksum(None),
            b.eth_decimal(),
            b.xbr_decimal()
        ),
        json!({
            "address": address.to_checksum(None),
            "eth": b.eth.to_string(),
            "xbr": b.xbr.to_string(),
            "eth_decimal": b.eth_decimal(),
            "xbr_decimal": b.xbr_decimal(),
        }),
    ))
}

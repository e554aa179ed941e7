//! `xbrd chain deploy|bootstrap|balance|member`: thin commands over xbr-chain.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::json;
use xbr_chain::{ContractBytecode, Gateway, MarketDescription, SimpleBlockchain};
use xbr_core::eth::EthPrivateKey;
use xbr_core::ids::format_bytes16;

use crate::chain::contract_addresses;
use crate::cli::{ChainCommand, GatewayArgs};
use crate::config::secret::{KeyKind, check_private_file_mode, read_key_file};
use crate::config::validate::{contracts_from_file, parse_address_str};
use crate::config::{self, ConfigError, Contracts};

fn eth_key(path: &Path) -> anyhow::Result<EthPrivateKey> {
    let raw = read_key_file(path, KeyKind::Ethereum).map_err(|source| ConfigError::KeyFile {
        field: "--key-file".into(),
        source,
    })?;
    Ok(EthPrivateKey::from_bytes(raw.expose())?)
}

/// Gateway URL and contracts from `-c FILE` or `--gateway`/`--contracts-file`.
fn resolve(args: &GatewayArgs) -> anyhow::Result<(String, Contracts)> {
    if let Some(path) = &args.config {
        let cfg = config::load(path)?;
        return Ok((cfg.ethereum.gateway.to_string(), cfg.ethereum.contracts));
    }
    let Some(gateway) = &args.gateway else {
        bail!(ConfigError::Missing {
            field: "--gateway".into(),
            expected: "an http(s) JSON-RPC URL (or -c FILE)".into(),
        });
    };
    let contracts = match &args.contracts_file {
        Some(f) => contracts_from_file(f)?,
        None => Contracts::default(),
    };
    Ok((gateway.clone(), contracts))
}

async fn connect(
    url: &str,
    contracts: &Contracts,
    need: &[(&str, bool)],
) -> anyhow::Result<SimpleBlockchain> {
    if let Some((name, _)) = need.iter().find(|(_, present)| !present) {
        bail!(ConfigError::Missing {
            field: format!("ethereum.contracts.{name}"),
            expected: "the contract address (give --contracts-file or -c FILE)".into(),
        });
    }
    let (chain, _) =
        SimpleBlockchain::connect(url.trim_end_matches('/'), contract_addresses(contracts)).await?;
    Ok(chain)
}

/// Runs one `xbrd chain` command, printing JSON.
pub async fn run(cmd: ChainCommand) -> anyhow::Result<()> {
    let out = match cmd {
        ChainCommand::Deploy {
            gateway,
            key_file,
            bytecode,
            out,
        } => deploy(&gateway, &key_file, bytecode, &out).await?,
        ChainCommand::Bootstrap {
            gateway,
            market,
            funder_key_file,
        } => {
            let (url, contracts) = resolve(&gateway)?;
            let need = [
                ("token", contracts.token.is_some()),
                ("network", contracts.network.is_some()),
                ("market", contracts.market.is_some()),
                ("channel", contracts.channel.is_some()),
            ];
            let chain = connect(&url, &contracts, &need).await?;
            bootstrap(&chain, &market, &funder_key_file).await?
        }
        ChainCommand::Balance { address, gateway } => {
            let address = parse_address_str(&address).map_err(|e| anyhow::anyhow!(e))?;
            let (url, contracts) = resolve(&gateway)?;
            let chain = connect(&url, &contracts, &[("token", contracts.token.is_some())]).await?;
            let b = chain.balances(address).await?;
            json!({
                "address": address.to_checksum(None),
                "eth": b.eth.to_string(),
                "xbr": b.xbr.to_string(),
                "eth_decimal": b.eth_decimal(),
                "xbr_decimal": b.xbr_decimal(),
            })
        }
        ChainCommand::Member { address, gateway } => {
            let address = parse_address_str(&address).map_err(|e| anyhow::anyhow!(e))?;
            let (url, contracts) = resolve(&gateway)?;
            let chain = connect(
                &url,
                &contracts,
                &[("network", contracts.network.is_some())],
            )
            .await?;
            let m = chain.member_status(address).await?;
            json!({ "address": address.to_checksum(None), "is_member": m.is_some(), "member": m })
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn default_bytecode_dir() -> PathBuf {
    let peers = std::env::var_os("XBRD_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".peers"));
    peers.join("contracts")
}

async fn deploy(
    url: &str,
    key_file: &Path,
    bytecode: Option<PathBuf>,
    out: &Path,
) -> anyhow::Result<serde_json::Value> {
    // The file is read back as `ethereum.contracts_file`, whose format follows the extension.
    if out.extension().and_then(|e| e.to_str()) != Some("toml") {
        anyhow::bail!(
            "--out {}: the addresses are written as TOML, so the file name must end in .toml",
            out.display()
        );
    }
    let deployer = eth_key(key_file)?;
    let dir = bytecode.unwrap_or_else(default_bytecode_dir);
    let code = ContractBytecode::load(&dir).with_context(|| {
        format!(
            "cannot load the contract bytecode from {} (set --bytecode or XBRD_CONTRACTS_DIR)",
            dir.display()
        )
    })?;
    let (gateway, info) = Gateway::connect(url.trim_end_matches('/')).await?;
    let deployment = xbr_chain::deploy(&gateway, &deployer, deployer.address(), &code).await?;
    let env_path = out.with_extension("env");
    deployment
        .contracts
        .write_files(out, &env_path)
        .with_context(|| format!("cannot write {}", out.display()))?;
    let c = &deployment.contracts;
    Ok(json!({
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
    }))
}

async fn bootstrap(
    chain: &SimpleBlockchain,
    market: &Path,
    funder_key_file: &Path,
) -> anyhow::Result<serde_json::Value> {
    let funder = eth_key(funder_key_file)?;
    // The description holds member keys: the same file-mode rule as every key file, except that public
    // dev-chain descriptions may be shared read-only; warn instead of refusing.
    if let Err(e) = check_private_file_mode(market) {
        tracing::warn!("{e}");
    }
    let text = std::fs::read_to_string(market)
        .with_context(|| format!("cannot read {}", market.display()))?;
    let desc: MarketDescription = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid market description", market.display()))?;
    let done = xbr_chain::bootstrap(chain, &funder, &desc).await?;
    Ok(json!({
        "market_id": format_bytes16(done.market_id.as_bytes()),
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
    }))
}

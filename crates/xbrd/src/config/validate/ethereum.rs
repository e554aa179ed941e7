//! `[ethereum]`: the JSON-RPC gateway, the delegate's key, and the contract addresses (from
//! `[ethereum.contracts]`, overridden by a contracts file written by `xbrd chain deploy`).

use std::path::Path;

use alloy_primitives::Address;

use super::parse::{ADDRESS_FORM, invalid, key_file_error, missing, parse_address, resolve};
use crate::config::raw::{RawContracts, RawEthereum};
use crate::config::secret::{self, KeyKind};
use crate::config::{ConfigError, Contracts, Ethereum, Role};

/// Reads a contracts file: JSON (by extension) or TOML; the addresses flat or under `ethereum.contracts`.
pub fn read_contracts_file(path: &Path) -> Result<RawContracts, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| e.to_string())?
    } else {
        toml::from_str(&text).map_err(|e| e.to_string())?
    };
    let table = value
        .get("ethereum")
        .and_then(|e| e.get("contracts"))
        .cloned()
        .unwrap_or(value);
    serde_json::from_value(table).map_err(|e| e.to_string())
}

/// The `[ethereum.contracts]` table gives defaults (e.g. the dev-chain addresses, or `XBR_DEBUG_*_ADDR`);
/// entries of `contracts_file` (written by `xbrd chain deploy`) override them.
fn parse_contracts(raw: &RawEthereum, base: &Path) -> Result<Contracts, ConfigError> {
    let mut merged = raw.contracts.clone();
    if let Some(p) = &raw.contracts_file {
        let path = resolve(base, p);
        let from_file = read_contracts_file(&path).map_err(|e| {
            invalid(
                "ethereum.contracts_file",
                "a TOML or JSON file of contract addresses (token, network, domain, catalog, market, channel), \
                 flat or under [ethereum.contracts] as `xbrd chain deploy` writes it",
                format!("{}: {e}", path.display()),
            )
        })?;
        for (dst, src) in [
            (&mut merged.token, from_file.token),
            (&mut merged.network, from_file.network),
            (&mut merged.domain, from_file.domain),
            (&mut merged.catalog, from_file.catalog),
            (&mut merged.market, from_file.market),
            (&mut merged.channel, from_file.channel),
        ] {
            if src.is_some() {
                *dst = src;
            }
        }
    }
    let addr = |name: &str, v: &Option<String>| -> Result<Option<Address>, ConfigError> {
        v.as_deref()
            .map(|s| parse_address(&format!("ethereum.contracts.{name}"), s))
            .transpose()
    };
    Ok(Contracts {
        token: addr("token", &merged.token)?,
        network: addr("network", &merged.network)?,
        domain: addr("domain", &merged.domain)?,
        catalog: addr("catalog", &merged.catalog)?,
        market: addr("market", &merged.market)?,
        channel: addr("channel", &merged.channel)?,
    })
}

/// Contract addresses from a contracts file alone (`xbrd chain … --contracts-file`).
pub fn contracts_from_file(path: &Path) -> Result<Contracts, ConfigError> {
    let raw = RawEthereum {
        contracts_file: Some(path.display().to_string()),
        ..Default::default()
    };
    parse_contracts(&raw, Path::new(""))
}

/// Validates `[ethereum]` for `role` (which contracts it needs); key files resolve against `base`.
pub(super) fn parse_ethereum(
    raw: &RawEthereum,
    base: &Path,
    role: Role,
) -> Result<Ethereum, ConfigError> {
    const GW_FORM: &str = "an http(s) JSON-RPC URL like \"http://127.0.0.1:8545\"";
    let gw = raw
        .gateway
        .as_deref()
        .ok_or_else(|| missing("ethereum.gateway", GW_FORM))?;
    let gateway = url::Url::parse(gw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| invalid("ethereum.gateway", GW_FORM, format!("{gw:?}")))?;
    let private_key = match (&raw.private_key, &raw.private_key_file) {
        (Some(inline), _) => secret::decode_key_hex(inline).map_err(|_| {
            invalid(
                "ethereum.private_key",
                "a 32-byte secp256k1 key as 64 hex digits (optionally 0x-prefixed)",
                "another value (not shown)",
            )
        })?,
        (None, Some(p)) => secret::read_key_file(&resolve(base, p), KeyKind::Ethereum)
            .map_err(key_file_error("ethereum.private_key_file"))?,
        (None, None) => {
            let var = match role {
                Role::Seller => " (or XBR_SELLER_PRIVKEY)",
                Role::Buyer => " (or XBR_BUYER_PRIVKEY)",
                Role::Marketmaker => "",
            };
            return Err(missing(
                "ethereum.private_key_file",
                format!("a file holding the delegate's 32-byte secp256k1 key (mode 0600){var}"),
            ));
        }
    };
    let contracts = parse_contracts(raw, base)?;
    let required: &[(&str, bool)] = match role {
        Role::Marketmaker => &[
            ("token", contracts.token.is_some()),
            ("network", contracts.network.is_some()),
            ("market", contracts.market.is_some()),
            ("channel", contracts.channel.is_some()),
        ],
        Role::Seller | Role::Buyer => &[
            ("token", contracts.token.is_some()),
            ("network", contracts.network.is_some()),
        ],
    };
    if let Some((name, _)) = required.iter().find(|(_, present)| !present) {
        return Err(missing(
            format!("ethereum.contracts.{name}"),
            format!("{ADDRESS_FORM} (or ethereum.contracts_file written by `xbrd chain deploy`)"),
        ));
    }
    Ok(Ethereum {
        gateway,
        private_key,
        contracts,
    })
}

//! Where the six XBR contracts live: configuration, `XBR_DEBUG_*_ADDR` overrides, and the
//! files a deployment writes for the daemon configuration to include.

use std::fmt::Write as _;
use std::path::Path;

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// A contract address could not be taken from configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressConfigError {
    /// The value is not `0x` followed by 40 hex digits.
    #[error(
        "{variable}: {value:?} is not an Ethereum address (expected 0x followed by 40 hex digits)"
    )]
    BadFormat {
        /// The environment variable or configuration key holding the value.
        variable: String,
        /// The offending value.
        value: String,
    },
    /// The value has mixed-case hex digits whose EIP-55 checksum does not match.
    #[error("{variable}: {value:?} has a wrong EIP-55 checksum")]
    BadChecksum {
        /// The environment variable or configuration key holding the value.
        variable: String,
        /// The offending value.
        value: String,
    },
    /// Some, but not all, of the six `XBR_DEBUG_*_ADDR` variables are set.
    #[error("{variable} is not set (set all six XBR_DEBUG_*_ADDR variables, or none)")]
    Missing {
        /// The first unset variable.
        variable: String,
    },
}

/// The addresses of the XBR contracts used by a market.
///
/// In the daemon configuration this is the `[ethereum.contracts]` table:
/// ```toml
/// [ethereum.contracts]
/// token = "0x..."
/// network = "0x..."
/// domain = "0x..."
/// catalog = "0x..."
/// market = "0x..."
/// channel = "0x..."
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractAddresses {
    /// `XBRToken` (ERC20).
    pub token: Address,
    /// `XBRNetwork` (member registry, EIP-712 verifying chain/contract).
    pub network: Address,
    /// `XBRDomain`.
    pub domain: Address,
    /// `XBRCatalog`.
    pub catalog: Address,
    /// `XBRMarket`.
    pub market: Address,
    /// `XBRChannel`.
    pub channel: Address,
}

/// One contract slot of [`ContractAddresses`] with its override variable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractSlot {
    /// `XBRToken`.
    Token,
    /// `XBRNetwork`.
    Network,
    /// `XBRDomain`.
    Domain,
    /// `XBRCatalog`.
    Catalog,
    /// `XBRMarket`.
    Market,
    /// `XBRChannel`.
    Channel,
}

impl ContractSlot {
    /// All six, in deployment order.
    pub const ALL: [ContractSlot; 6] = [
        ContractSlot::Token,
        ContractSlot::Network,
        ContractSlot::Domain,
        ContractSlot::Catalog,
        ContractSlot::Market,
        ContractSlot::Channel,
    ];

    /// The environment variable the reference reads for this contract (`XBR_DEBUG_TOKEN_ADDR`, …).
    pub const fn env_var(self) -> &'static str {
        match self {
            ContractSlot::Token => "XBR_DEBUG_TOKEN_ADDR",
            ContractSlot::Network => "XBR_DEBUG_NETWORK_ADDR",
            ContractSlot::Domain => "XBR_DEBUG_DOMAIN_ADDR",
            ContractSlot::Catalog => "XBR_DEBUG_CATALOG_ADDR",
            ContractSlot::Market => "XBR_DEBUG_MARKET_ADDR",
            ContractSlot::Channel => "XBR_DEBUG_CHANNEL_ADDR",
        }
    }

    /// The key in the `[ethereum.contracts]` table.
    pub const fn config_key(self) -> &'static str {
        match self {
            ContractSlot::Token => "token",
            ContractSlot::Network => "network",
            ContractSlot::Domain => "domain",
            ContractSlot::Catalog => "catalog",
            ContractSlot::Market => "market",
            ContractSlot::Channel => "channel",
        }
    }

    /// The Solidity contract name (`XBRToken`, …).
    pub const fn contract_name(self) -> &'static str {
        match self {
            ContractSlot::Token => "XBRToken",
            ContractSlot::Network => "XBRNetwork",
            ContractSlot::Domain => "XBRDomain",
            ContractSlot::Catalog => "XBRCatalog",
            ContractSlot::Market => "XBRMarket",
            ContractSlot::Channel => "XBRChannel",
        }
    }
}

/// Parses `0x` + 40 hex digits. All-lowercase and all-uppercase digits are accepted as they are;
/// mixed case must carry a valid EIP-55 checksum. `variable` names the source in the error.
pub fn parse_contract_address(variable: &str, value: &str) -> Result<Address, AddressConfigError> {
    let trimmed = value.trim();
    let bad_format = || AddressConfigError::BadFormat {
        variable: variable.to_owned(),
        value: value.to_owned(),
    };
    let digits = trimmed.strip_prefix("0x").ok_or_else(bad_format)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad_format());
    }
    let address: Address = trimmed.parse().map_err(|_| bad_format())?;
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper && address.to_checksum(None) != trimmed {
        return Err(AddressConfigError::BadChecksum {
            variable: variable.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(address)
}

impl ContractAddresses {
    /// The address in one slot.
    pub const fn get(&self, slot: ContractSlot) -> Address {
        match slot {
            ContractSlot::Token => self.token,
            ContractSlot::Network => self.network,
            ContractSlot::Domain => self.domain,
            ContractSlot::Catalog => self.catalog,
            ContractSlot::Market => self.market,
            ContractSlot::Channel => self.channel,
        }
    }

    /// Sets the address in one slot.
    pub fn set(&mut self, slot: ContractSlot, address: Address) {
        match slot {
            ContractSlot::Token => self.token = address,
            ContractSlot::Network => self.network = address,
            ContractSlot::Domain => self.domain = address,
            ContractSlot::Catalog => self.catalog = address,
            ContractSlot::Market => self.market = address,
            ContractSlot::Channel => self.channel = address,
        }
    }

    /// Applies the reference's `XBR_DEBUG_{TOKEN,NETWORK,DOMAIN,CATALOG,MARKET,CHANNEL}_ADDR`
    /// overrides, read through `lookup` (pass `|name| std::env::var(name).ok()` for the process
    /// environment). Unset or empty variables leave the configured address in place; a set
    /// variable that is not an address is an error naming the variable.
    pub fn with_env_overrides<F>(mut self, lookup: F) -> Result<Self, AddressConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        for slot in ContractSlot::ALL {
            let name = slot.env_var();
            match lookup(name) {
                Some(value) if !value.trim().is_empty() => {
                    self.set(slot, parse_contract_address(name, &value)?);
                }
                _ => {}
            }
        }
        Ok(self)
    }

    /// Reads all six addresses from `XBR_DEBUG_*_ADDR` variables through `lookup`.
    /// `Ok(None)` when none is set; an error when only some are set or one is malformed.
    pub fn from_env<F>(lookup: F) -> Result<Option<Self>, AddressConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let mut found = Vec::with_capacity(6);
        for slot in ContractSlot::ALL {
            let name = slot.env_var();
            match lookup(name) {
                Some(value) if !value.trim().is_empty() => {
                    found.push((slot, parse_contract_address(name, &value)?));
                }
                _ => {}
            }
        }
        if found.is_empty() {
            return Ok(None);
        }
        if found.len() < ContractSlot::ALL.len() {
            let missing = ContractSlot::ALL
                .iter()
                .find(|slot| !found.iter().any(|(s, _)| s == *slot))
                .map(|slot| slot.env_var())
                .unwrap_or_default();
            return Err(AddressConfigError::Missing {
                variable: missing.to_owned(),
            });
        }
        let mut addresses = Self::unset();
        for (slot, address) in found {
            addresses.set(slot, address);
        }
        Ok(Some(addresses))
    }

    /// All six addresses zero (a placeholder before deployment).
    pub const fn unset() -> Self {
        Self {
            token: Address::ZERO,
            network: Address::ZERO,
            domain: Address::ZERO,
            catalog: Address::ZERO,
            market: Address::ZERO,
            channel: Address::ZERO,
        }
    }

    /// The slots still set to the zero address.
    pub fn missing(&self) -> Vec<ContractSlot> {
        ContractSlot::ALL
            .into_iter()
            .filter(|slot| self.get(*slot).is_zero())
            .collect()
    }

    /// The `[ethereum.contracts]` TOML table, ready to be included in the daemon configuration.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct Ethereum<'a> {
            contracts: &'a ContractAddresses,
        }
        #[derive(Serialize)]
        struct Root<'a> {
            ethereum: Ethereum<'a>,
        }
        let body = toml::to_string(&Root {
            ethereum: Ethereum { contracts: self },
        })
        .unwrap_or_else(|_| self.hand_written_toml());
        format!("# XBR contract addresses (written by xbr-chain deploy)\n{body}")
    }

    // Only used if the TOML serializer ever refused six strings; keeps to_toml infallible.
    fn hand_written_toml(&self) -> String {
        let mut out = String::from("[ethereum.contracts]\n");
        for slot in ContractSlot::ALL {
            let _ = writeln!(
                out,
                "{} = \"{}\"",
                slot.config_key(),
                self.get(slot).to_checksum(None)
            );
        }
        out
    }

    /// `XBR_DEBUG_*_ADDR=0x…` lines (an env file for systemd `EnvironmentFile=`, Docker
    /// `--env-file`, or `set -a; . file` in a shell), with checksummed addresses.
    pub fn to_env_file(&self) -> String {
        let mut out = String::from("# XBR contract addresses (written by xbr-chain deploy)\n");
        for slot in ContractSlot::ALL {
            let _ = writeln!(
                out,
                "{}={}",
                slot.env_var(),
                self.get(slot).to_checksum(None)
            );
        }
        out
    }

    /// Writes [`ContractAddresses::to_toml`] to `toml_path` and [`ContractAddresses::to_env_file`]
    /// to `env_path` (each via a temporary file and a rename, so readers never see half a file).
    pub fn write_files(&self, toml_path: &Path, env_path: &Path) -> std::io::Result<()> {
        write_atomically(toml_path, &self.to_toml())?;
        write_atomically(env_path, &self.to_env_file())
    }
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOKEN: &str = "0x254dffcd3277C0b1660F6d42EFbB754edaBAbC2B";
    const NETWORK: &str = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550";

    fn deployed() -> ContractAddresses {
        ContractAddresses {
            token: TOKEN.parse().unwrap(),
            network: NETWORK.parse().unwrap(),
            domain: "0xD833215cBcc3f914bD1C9ece3EE7BF8B14f841bb"
                .parse()
                .unwrap(),
            catalog: "0x9561C133DD8580860B6b7E504bC5Aa500f0f06a7"
                .parse()
                .unwrap(),
            market: "0xe982E462b094850F12AF94d21D470e21bE9D0E9C"
                .parse()
                .unwrap(),
            channel: "0x59d3631c86BbE35EF041872d502F218A39FBa150"
                .parse()
                .unwrap(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn no_overrides_keep_configured_addresses() {
        let base = deployed();
        assert_eq!(base.with_env_overrides(env(&[])).unwrap(), base);
    }

    #[test]
    fn override_replaces_only_its_slot() {
        let base = deployed();
        let new_market = "0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1";
        let got = base
            .with_env_overrides(env(&[("XBR_DEBUG_MARKET_ADDR", new_market)]))
            .unwrap();
        assert_eq!(got.market, new_market.parse::<Address>().unwrap());
        assert_eq!(got.token, base.token);
        assert_eq!(got.channel, base.channel);
    }

    #[test]
    fn override_accepts_checksummed_upper_and_padded_values() {
        let checksummed = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";
        let upper = "0x90F8BF6A479F320EAD074411A4B0E7944EA8C9C1";
        for value in [
            checksummed,
            upper,
            "  0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1\n",
        ] {
            let got = deployed()
                .with_env_overrides(env(&[("XBR_DEBUG_TOKEN_ADDR", value)]))
                .unwrap();
            assert_eq!(
                got.token,
                checksummed.parse::<Address>().unwrap(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn empty_override_is_ignored() {
        let got = deployed()
            .with_env_overrides(env(&[("XBR_DEBUG_CHANNEL_ADDR", "")]))
            .unwrap();
        assert_eq!(got, deployed());
    }

    #[test]
    fn malformed_override_names_the_variable() {
        for bad in [
            "90F8bf6A479f320ead074411a4B0e7944Ea8c9C1",     // no 0x
            "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C",    // 39 digits
            "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1ff", // 42 digits
            "0xZZF8bf6A479f320ead074411a4B0e7944Ea8c9C1",   // not hex
            "market",
        ] {
            let err = deployed()
                .with_env_overrides(env(&[("XBR_DEBUG_NETWORK_ADDR", bad)]))
                .unwrap_err();
            assert_eq!(
                err,
                AddressConfigError::BadFormat {
                    variable: "XBR_DEBUG_NETWORK_ADDR".into(),
                    value: bad.into()
                }
            );
            assert!(err.to_string().contains("XBR_DEBUG_NETWORK_ADDR"), "{err}");
        }
    }

    #[test]
    fn wrong_checksum_is_rejected() {
        // Checksummed form with two letters' case flipped.
        let bad = "0x90f8Bf6A479f320ead074411a4B0e7944Ea8c9C1";
        let err = deployed()
            .with_env_overrides(env(&[("XBR_DEBUG_DOMAIN_ADDR", bad)]))
            .unwrap_err();
        assert!(
            matches!(err, AddressConfigError::BadChecksum { ref variable, .. } if variable == "XBR_DEBUG_DOMAIN_ADDR")
        );
    }

    #[test]
    fn from_env_needs_all_or_nothing() {
        assert_eq!(ContractAddresses::from_env(env(&[])).unwrap(), None);
        let all: Vec<(&str, String)> = ContractSlot::ALL
            .iter()
            .map(|s| (s.env_var(), deployed().get(*s).to_checksum(None)))
            .collect();
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            ContractAddresses::from_env(env(&pairs)).unwrap(),
            Some(deployed())
        );
        let err = ContractAddresses::from_env(env(&pairs[..5])).unwrap_err();
        assert!(err.to_string().contains("XBR_DEBUG_CHANNEL_ADDR"), "{err}");
    }

    #[test]
    fn toml_table_round_trips_through_serde() {
        let text = deployed().to_toml();
        assert!(text.contains("[ethereum.contracts]"), "{text}");
        #[derive(Deserialize)]
        struct Root {
            ethereum: Eth,
        }
        #[derive(Deserialize)]
        struct Eth {
            contracts: ContractAddresses,
        }
        let parsed: Root = toml::from_str(&text).unwrap();
        assert_eq!(parsed.ethereum.contracts, deployed());
    }

    #[test]
    fn env_file_round_trips_through_overrides() {
        let text = deployed().to_env_file();
        let pairs: Vec<(String, String)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(pairs.len(), 6);
        let map: HashMap<String, String> = pairs.into_iter().collect();
        let got = ContractAddresses::unset()
            .with_env_overrides(|name| map.get(name).cloned())
            .unwrap();
        assert_eq!(got, deployed());
    }

    #[test]
    fn write_files_writes_both_forms() {
        let dir = std::env::temp_dir().join(format!("xbr-chain-addr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (toml_path, env_path) = (dir.join("contracts.toml"), dir.join("contracts.env"));
        deployed().write_files(&toml_path, &env_path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&toml_path).unwrap(),
            deployed().to_toml()
        );
        assert_eq!(
            std::fs::read_to_string(&env_path).unwrap(),
            deployed().to_env_file()
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_lists_zero_slots() {
        let mut a = ContractAddresses::unset();
        assert_eq!(a.missing().len(), 6);
        a.token = TOKEN.parse().unwrap();
        assert_eq!(a.missing()[0], ContractSlot::Network);
    }
}

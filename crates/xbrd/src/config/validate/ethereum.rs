//! `[ethereum]`: the JSON-RPC gateway, the delegate's key, and the contract addresses (from
//! `[ethereum.contracts]`, overridden by a contracts file written by `xbrd chain deploy`).

use std::collections::BTreeMap;
use std::path::Path;

use alloy_primitives::Address;

use super::parse::{ADDRESS_FORM, invalid, missing, parse_address, parse_i64, resolve};
use super::problems::Problems;
use crate::config::raw::{RawContracts, RawEthereum};
use crate::config::secret::{self, Secret};
use crate::config::{ConfigError, Contracts, Ethereum, KeyOrigin, Role};
use crate::eth_key::{EthKeySource, KeyFields, PassphraseSource, load_eth_key};

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

/// The keystore passphrase source: at most one of the three `private_key_passphrase_*` fields.
fn passphrase_source(
    raw: &RawEthereum,
    base: &Path,
) -> Result<Option<PassphraseSource>, ConfigError> {
    let f = KeyFields::CONFIG;
    let given: Vec<(&str, PassphraseSource)> = [
        (
            f.passphrase_file,
            raw.private_key_passphrase_file
                .as_deref()
                .map(|p| PassphraseSource::File(resolve(base, p))),
        ),
        (
            f.passphrase_env,
            raw.private_key_passphrase_env
                .clone()
                .map(PassphraseSource::Env),
        ),
        (
            f.passphrase_credential,
            raw.private_key_passphrase_credential
                .clone()
                .map(PassphraseSource::Credential),
        ),
    ]
    .into_iter()
    .filter_map(|(field, s)| s.map(|s| (field, s)))
    .collect();
    match given.as_slice() {
        [] => Ok(None),
        [(_, one)] => Ok(Some(one.clone())),
        [(first, _), (second, _), ..] => Err(invalid(
            *second,
            "at most one passphrase source",
            format!("both {first} and {second} are set"),
        )),
    }
}

/// The delegate's key: inline (`private_key`, from the environment) or from `private_key_file`
/// (raw or keystore, see [`crate::eth_key`]).
fn parse_key(
    raw: &RawEthereum,
    base: &Path,
    role: Role,
    env: &BTreeMap<String, String>,
) -> Result<(Secret<[u8; 32]>, KeyOrigin), ConfigError> {
    let passphrase = passphrase_source(raw, base)?;
    match (&raw.private_key, &raw.private_key_file) {
        (Some(inline), _) => {
            let key = secret::decode_key_hex(inline).map_err(|_| {
                invalid(
                    "ethereum.private_key",
                    "a 32-byte secp256k1 key as 64 hex digits (optionally 0x-prefixed)",
                    "another value (not shown)",
                )
            })?;
            Ok((key, KeyOrigin::Inline))
        }
        (None, file) => {
            let (key_file, fields) = match (file, &raw.private_key_credential) {
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        CREDENTIAL_FIELDS.key_file,
                        "at most one of ethereum.private_key_file and ethereum.private_key_credential",
                        "both are set",
                    ));
                }
                (Some(p), None) => (resolve(base, p), KeyFields::CONFIG),
                (None, Some(name)) => (
                    secret::credential_path(name, env).map_err(|reason| {
                        invalid(
                            CREDENTIAL_FIELDS.key_file,
                            "the name of a systemd credential holding the key (LoadCredential=)",
                            format!("{name:?}: {reason}"),
                        )
                    })?,
                    CREDENTIAL_FIELDS,
                ),
                (None, None) => return Err(no_key(role)),
            };
            let source = EthKeySource {
                key_file,
                passphrase,
                fields,
            };
            let key = load_eth_key(&source, env)?;
            let origin = KeyOrigin::File {
                path: source.key_file,
                passphrase: source.passphrase,
            };
            Ok((Secret::new(*key.to_bytes()), origin))
        }
    }
}

/// The `[ethereum]` fields when the key is a systemd credential (its errors name that field).
const CREDENTIAL_FIELDS: KeyFields = KeyFields {
    key_file: "ethereum.private_key_credential",
    ..KeyFields::CONFIG
};

/// No key given for `role`.
fn no_key(role: Role) -> ConfigError {
    let var = match role {
        Role::Seller => " (or XBR_SELLER_PRIVKEY)",
        Role::Buyer => " (or XBR_BUYER_PRIVKEY)",
        Role::Marketmaker => "",
    };
    missing(
        "ethereum.private_key_file",
        format!(
            "a file holding the delegate's secp256k1 key (mode 0600): a keystore v3 JSON \
             file or a raw key{var} (or ethereum.private_key_credential, a systemd credential)"
        ),
    )
}

/// Validates `[ethereum]` for `role` (which contracts it needs); key files resolve against
/// `base`; `env` gives a keystore's passphrase variable or credentials directory.
pub(super) fn parse_ethereum(
    raw: &RawEthereum,
    base: &Path,
    role: Role,
    env: &BTreeMap<String, String>,
) -> Result<Ethereum, ConfigError> {
    const GW_FORM: &str = "an http(s) JSON-RPC URL like \"http://127.0.0.1:8545\"";
    let mut problems = Problems::default();
    let gateway = problems.take(
        raw.gateway
            .as_deref()
            .ok_or_else(|| missing("ethereum.gateway", GW_FORM))
            .and_then(|gw| {
                url::Url::parse(gw.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or_else(|| invalid("ethereum.gateway", GW_FORM, format!("{gw:?}")))
            }),
    );
    let key = problems.take(parse_key(raw, base, role, env));
    let chain_id = problems.take(
        raw.chain_id
            .as_ref()
            .map(|s| {
                parse_i64(
                    "ethereum.chain_id",
                    s,
                    "the chain id the gateway must serve, e.g. 1 (Ethereum), 11155111 (Sepolia), 1337 (dev chains)",
                    |v| v >= 1,
                )
                .map(|v| v as u64)
            })
            .transpose(),
    );
    let transactions = problems.take(super::transactions::parse_transactions(&raw.transactions));
    let contracts = problems.take(parse_contracts(raw, base));
    if let Some(contracts) = &contracts {
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
        for (name, _) in required.iter().filter(|(_, present)| !present) {
            problems.push(missing(
                format!("ethereum.contracts.{name}"),
                format!(
                    "{ADDRESS_FORM} (or ethereum.contracts_file written by `xbrd chain deploy`)"
                ),
            ));
        }
    }
    problems.finish(|| {
        let (private_key, key_origin) = key.expect("validated");
        Ethereum {
            gateway: gateway.expect("validated"),
            private_key,
            contracts: contracts.expect("validated"),
            chain_id: chain_id.expect("validated"),
            key_origin,
            transactions: transactions.expect("validated"),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A keystore of Python's `eth_keyfile` (1024 PBKDF2 rounds), passphrase "testpassword".
    const KEYSTORE: &str = r#"{"address": "008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b", "crypto": {"cipher": "aes-128-ctr", "cipherparams": {"iv": "014e7e2cc79e814d7deb61674764a6a8"}, "ciphertext": "7964b27b08a79e983784f6384578e1234c9574f5e85b4d94a89d84822c614fd7", "kdf": "pbkdf2", "kdfparams": {"c": 1024, "dklen": 32, "prf": "hmac-sha256", "salt": "cbd7fc95f36a198b41c480ce4b5456bd"}, "mac": "a0f1a739e0bb631954090cf61e193d39607948a0d68df1a05db885f680cb5fa1"}, "id": "2d50a51a-47ac-453e-8715-f7b40e387a10", "version": 3}"#;
    const ADDRESS: &str = "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b";

    fn ethereum(
        dir: &Path,
        extra: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<Ethereum, ConfigError> {
        let key = dir.join("delegate.json");
        std::fs::write(&key, KEYSTORE).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let raw: RawEthereum = toml::from_str(&format!(
            "gateway = \"http://127.0.0.1:8545\"\nprivate_key_file = \"delegate.json\"\n{extra}\n\
             [contracts]\ntoken = \"{ADDRESS}\"\nnetwork = \"{ADDRESS}\"\n"
        ))
        .unwrap();
        parse_ethereum(&raw, dir, Role::Seller, env)
    }

    fn address(e: &Ethereum) -> Address {
        xbr_core::eth::EthPrivateKey::from_bytes(e.private_key.expose())
            .unwrap()
            .address()
    }

    #[test]
    fn a_keystore_key_file_opens_with_the_configured_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([("DELEGATE_PASS".to_string(), "testpassword".to_string())]);
        let e = ethereum(
            dir.path(),
            "private_key_passphrase_env = \"DELEGATE_PASS\"\nchain_id = 1337",
            &env,
        )
        .unwrap();
        assert_eq!(address(&e), parse_address("a", ADDRESS).unwrap());
        assert_eq!(e.chain_id, Some(1337));
        assert_eq!(
            e.key_origin,
            KeyOrigin::File {
                path: dir.path().join("delegate.json"),
                passphrase: Some(PassphraseSource::Env("DELEGATE_PASS".into())),
            }
        );
        assert_eq!(e.transactions, xbr_chain::TxPolicy::default());
        // The passphrase file resolves against the configuration's directory.
        let pass = dir.path().join("pass");
        std::fs::write(&pass, "testpassword\n").unwrap();
        std::fs::set_permissions(&pass, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = ethereum(dir.path(), "private_key_passphrase_file = \"pass\"", &env).unwrap();
        assert_eq!(address(&e), parse_address("a", ADDRESS).unwrap());
        assert_eq!(e.chain_id, None);
    }

    #[test]
    fn keystore_errors_name_the_config_field() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::from([
            ("P".to_string(), "wrong".to_string()),
            ("OK".to_string(), "testpassword".to_string()),
        ]);
        let field = |extra: &str| {
            let e = ethereum(dir.path(), extra, &env).unwrap_err();
            (e.field().map(str::to_owned), e.to_string())
        };
        let (f, msg) = field("");
        assert_eq!(f.as_deref(), Some("ethereum.private_key_file"));
        assert!(
            msg.contains("ethereum.private_key_passphrase_file"),
            "{msg}"
        );
        let (f, msg) = field("private_key_passphrase_env = \"P\"");
        assert_eq!(f.as_deref(), Some("ethereum.private_key_file"));
        assert!(
            msg.contains("wrong passphrase") && !msg.contains("\"wrong\""),
            "{msg}"
        );
        let (f, _) =
            field("private_key_passphrase_env = \"P\"\nprivate_key_passphrase_credential = \"c\"");
        assert_eq!(
            f.as_deref(),
            Some("ethereum.private_key_passphrase_credential")
        );
        let (f, _) = field("private_key_passphrase_credential = \"c\"");
        assert_eq!(
            f.as_deref(),
            Some("ethereum.private_key_passphrase_credential")
        );
        let (f, _) = field("private_key_passphrase_env = \"OK\"\nchain_id = 0");
        assert_eq!(f.as_deref(), Some("ethereum.chain_id"));
        let (f, _) = field("private_key_passphrase_env = \"OK\"\nchain_id = \"mainnet\"");
        assert_eq!(f.as_deref(), Some("ethereum.chain_id"));
    }
}

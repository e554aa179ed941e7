//! Validation: raw layered values → [`Config`], naming the field and the expected form on every
//! error. One module per config section ([`transport`], [`auth`], [`ethereum`], [`market`]); the
//! value parsers they share, also used for user input by the admin API and the CLI, are in
//! [`parse`] and re-exported here. The top-level fields, `[store]`, `[admin]` and `[log]` are
//! validated below.

mod auth;
mod ethereum;
mod maker;
mod market;
mod parse;
mod problems;
mod transactions;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use ethereum::{contracts_from_file, read_contracts_file};
pub use parse::{parse_address, parse_address_str, parse_amount, parse_id, parse_id_str};

use self::parse::{invalid, key_file_error, missing, resolve, valid_uri};
use self::problems::Problems;
use super::raw::RawConfig;
use super::secret;
use super::{
    Admin, Config, ConfigError, DEFAULT_ADMIN_LISTEN, Log, LogFormat, Role, Store, Transport,
};

fn parse_role(raw: Option<&str>) -> Result<Role, ConfigError> {
    const FORM: &str = "one of \"seller\", \"buyer\", \"marketmaker\"";
    match raw.map(str::trim) {
        None => Err(missing("role", FORM)),
        Some("seller") => Ok(Role::Seller),
        Some("buyer") => Ok(Role::Buyer),
        Some("marketmaker" | "maker" | "market_maker") => Ok(Role::Marketmaker),
        Some(other) => Err(invalid("role", FORM, format!("{other:?}"))),
    }
}

/// Validates the raw layered values. `base` resolves relative paths; `env` supplies `STATE_DIRECTORY`,
/// and a keystore's passphrase variable or `CREDENTIALS_DIRECTORY`. Every section is validated
/// even after a failed one: the error lists every problem found ([`ConfigError::Many`] when more
/// than one).
pub fn validate(
    raw: RawConfig,
    base: &Path,
    source: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();
    let role = problems.take(parse_role(raw.role.as_deref()));
    let realm = problems.take(parse_realm(raw.realm.as_deref()));
    let transports = problems.take(parse_transports(&raw));
    let authentication = problems.take(auth::parse_authentication(&raw.authentication, base, env));
    // The sections that depend on the role are validated only when it is known.
    let ethereum =
        role.and_then(|r| problems.take(ethereum::parse_ethereum(&raw.ethereum, base, r, env)));
    let market = role.and_then(|r| problems.take(market::parse_market(&raw.market, r)));
    let store = parse_store(&raw, base, env);
    let admin = problems.take(parse_admin(&raw, base, &store));
    let log = problems.take(parse_log(&raw));
    problems.finish(|| Config {
        role: role.expect("validated"),
        realm: realm.expect("validated"),
        transports: transports.expect("validated"),
        authentication: authentication.expect("validated"),
        ethereum: ethereum.expect("validated"),
        market: market.expect("validated"),
        store,
        admin: admin.expect("validated"),
        log: log.expect("validated"),
        source: source.to_owned(),
    })
}

fn parse_realm(realm: Option<&str>) -> Result<String, ConfigError> {
    let realm = realm.ok_or_else(|| {
        missing(
            "realm",
            "the WAMP realm to join, e.g. \"realm1\" (or XBR_REALM)",
        )
    })?;
    if !valid_uri(realm) {
        return Err(invalid(
            "realm",
            "a WAMP URI like \"realm1\"",
            format!("{realm:?}"),
        ));
    }
    Ok(realm.to_owned())
}

/// Every `[[transports]]` entry (each bad one reported).
fn parse_transports(raw: &RawConfig) -> Result<Vec<Transport>, ConfigError> {
    if raw.transports.is_empty() {
        return Err(missing(
            "transports",
            "at least one [[transports]] entry with a url (or XBR_INSTANCE)",
        ));
    }
    let mut problems = Problems::default();
    let transports: Vec<_> = raw
        .transports
        .iter()
        .enumerate()
        .filter_map(|(i, t)| problems.take(transport::parse_transport(i, t)))
        .collect();
    problems.finish(|| transports)
}

fn parse_store(raw: &RawConfig, base: &Path, env: &BTreeMap<String, String>) -> Store {
    let state_dir = match (&raw.store.state_dir, env.get("STATE_DIRECTORY")) {
        (Some(d), _) => resolve(base, d),
        // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
        (None, Some(d)) => PathBuf::from(d.split(':').next().unwrap_or(d)),
        (None, None) => base.join("state"),
    };
    Store {
        path: raw
            .store
            .path
            .as_deref()
            .map(|p| resolve(&state_dir, p))
            .unwrap_or_else(|| state_dir.join("xbrd.sqlite")),
        state_dir,
    }
}

/// The role, the store and the admin address of `raw`, every problem of them reported.
pub fn locate_store(
    raw: &RawConfig,
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<super::StoreLocation, ConfigError> {
    let mut problems = Problems::default();
    let role = problems.take(parse_role(raw.role.as_deref()));
    let admin_listen = problems.take(admin_listen(raw.admin.listen.as_deref()));
    let store = parse_store(raw, base, env);
    problems.finish(|| super::StoreLocation {
        role: role.expect("validated"),
        store,
        admin_listen: admin_listen.expect("validated"),
    })
}

/// `admin.listen` (the default when unset).
pub fn admin_listen(raw: Option<&str>) -> Result<SocketAddr, ConfigError> {
    socket_addr("admin.listen", raw.unwrap_or(DEFAULT_ADMIN_LISTEN))
}

/// `[admin]`; the token file resolves against `base`, by default into the state directory.
fn parse_admin(raw: &RawConfig, base: &Path, store: &Store) -> Result<Admin, ConfigError> {
    let mut problems = Problems::default();
    let listen = problems.take(admin_listen(raw.admin.listen.as_deref()));
    let metrics_listen = problems.take(
        raw.admin
            .metrics_listen
            .as_deref()
            .map(|s| socket_addr("admin.metrics_listen", s))
            .transpose(),
    );
    if let (Some(l), Some(Some(m))) = (listen, metrics_listen)
        && l == m
    {
        problems.push(invalid(
            "admin.metrics_listen",
            "an address other than admin.listen",
            l.to_string(),
        ));
    }
    let token_file = raw
        .admin
        .token_file
        .as_deref()
        .map(|p| resolve(base, p))
        .unwrap_or_else(|| store.state_dir.join("admin.token"));
    if token_file.exists() {
        problems.take(
            secret::read_text_secret(&token_file).map_err(key_file_error("admin.token_file")),
        );
    }
    let chain_interval = problems.take(
        raw.admin
            .chain_interval
            .as_ref()
            .map(|s| parse::parse_duration("admin.chain_interval", s))
            .transpose(),
    );
    let balance_interval = problems.take(
        raw.admin
            .balance_interval
            .as_ref()
            .map(|s| parse::parse_duration("admin.balance_interval", s))
            .transpose(),
    );
    problems.finish(|| Admin {
        listen: listen.expect("validated"),
        token_file,
        metrics_listen: metrics_listen.expect("validated"),
        chain_interval: chain_interval
            .expect("validated")
            .unwrap_or(crate::metrics::chain_probe::DEFAULT_PERIOD),
        balance_interval: balance_interval
            .expect("validated")
            .unwrap_or(super::DEFAULT_BALANCE_INTERVAL),
    })
}

/// `[log]`.
fn parse_log(raw: &RawConfig) -> Result<Log, ConfigError> {
    let level = raw.log.level.clone().unwrap_or_else(|| "info".into());
    let mut problems = Problems::default();
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        problems.push(invalid(
            "log.level",
            "a level (error, warn, info, debug, trace) or filter directive like \"xbrd=debug,info\"",
            format!("{level:?}"),
        ));
    }
    let format = match raw.log.format.as_deref().map(str::trim) {
        None | Some("pretty") => Some(LogFormat::Pretty),
        Some("json") => Some(LogFormat::Json),
        Some(other) => {
            problems.push(invalid(
                "log.format",
                "\"pretty\" or \"json\"",
                format!("{other:?}"),
            ));
            None
        }
    };
    problems.finish(|| Log {
        level,
        format: format.expect("validated"),
    })
}

/// `field` as an IP:port socket address.
fn socket_addr(field: &str, raw: &str) -> Result<SocketAddr, ConfigError> {
    SocketAddr::from_str(raw.trim()).map_err(|_| {
        invalid(
            field,
            "an IP:port socket address like \"127.0.0.1:7480\"",
            format!("{raw:?}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAKER: &str = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9";

    /// A market maker's configuration with `maker` as its `market.maker` and token address.
    fn maker_config(dir: &Path, maker: &str) -> Result<Config, ConfigError> {
        maker_config_with(dir, maker, "")
    }

    /// [`maker_config`] with `extra` appended (further tables).
    fn maker_config_with(dir: &Path, maker: &str, extra: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(&format!(
            r#"role = "marketmaker"
realm = "xbr-market"
[[transports]]
url = "ws://127.0.0.1:1/ws"
[ethereum]
gateway = "http://127.0.0.1:2"
private_key = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743"
[ethereum.contracts]
token = "{maker}"
network = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550"
market = "0xe982E462b094850F12AF94d21D470e21bE9D0E9C"
channel = "0x59d3631c86BbE35EF041872d502F218A39FBa150"
[market]
maker = "{maker}"
{extra}"#
        ))
        .unwrap();
        validate(raw, dir, &dir.join("maker.toml"), &BTreeMap::new())
    }

    #[test]
    fn configured_addresses_are_checksum_checked() {
        let dir = tempfile::tempdir().unwrap();
        let ok = maker_config(dir.path(), MAKER).unwrap();
        let want = parse_address("a", MAKER).unwrap();
        assert_eq!(ok.market.maker, Some(want));
        // All lowercase carries no checksum: accepted.
        let lower = maker_config(dir.path(), &MAKER.to_lowercase()).unwrap();
        assert_eq!(
            (lower.market.maker, lower.ethereum.contracts.token),
            (Some(want), Some(want))
        );
        // One letter's case flipped: refused, naming the first field that has it and the
        // checksummed form.
        let typo = MAKER.replace("3E5e", "3e5e");
        let e = maker_config(dir.path(), &typo).unwrap_err();
        assert_eq!(e.field(), Some("ethereum.contracts.token"));
        let msg = e.to_string();
        assert!(
            msg.contains("fails the EIP-55 checksum") && msg.contains(MAKER),
            "{msg}"
        );
    }

    #[test]
    fn metrics_listen_is_an_opt_in_address_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let none = maker_config(dir.path(), MAKER).unwrap();
        assert_eq!(none.admin.metrics_listen, None);
        let set = maker_config_with(
            dir.path(),
            MAKER,
            "[admin]\nlisten = \"127.0.0.1:7480\"\nmetrics_listen = \"0.0.0.0:9480\"\n",
        )
        .unwrap();
        assert_eq!(
            set.admin.metrics_listen,
            Some("0.0.0.0:9480".parse().unwrap())
        );
        let bad = maker_config_with(dir.path(), MAKER, "[admin]\nmetrics_listen = \"9480\"\n");
        assert_eq!(bad.unwrap_err().field(), Some("admin.metrics_listen"));
        let same = maker_config_with(
            dir.path(),
            MAKER,
            "[admin]\nlisten = \"127.0.0.1:7480\"\nmetrics_listen = \"127.0.0.1:7480\"\n",
        );
        assert_eq!(same.unwrap_err().field(), Some("admin.metrics_listen"));
    }

    #[test]
    fn chain_interval_defaults_to_the_probe_period_and_takes_a_duration() {
        let dir = tempfile::tempdir().unwrap();
        let default = maker_config(dir.path(), MAKER).unwrap();
        assert_eq!(
            default.admin.chain_interval,
            std::time::Duration::from_secs(5)
        );
        let set = maker_config_with(dir.path(), MAKER, "[admin]\nchain_interval = \"15s\"\n");
        assert_eq!(
            set.unwrap().admin.chain_interval,
            std::time::Duration::from_secs(15)
        );
        let bad = maker_config_with(dir.path(), MAKER, "[admin]\nchain_interval = 0\n");
        assert_eq!(bad.unwrap_err().field(), Some("admin.chain_interval"));
    }

    #[test]
    fn balance_interval_defaults_to_15_s_and_takes_a_duration() {
        let dir = tempfile::tempdir().unwrap();
        let default = maker_config(dir.path(), MAKER).unwrap();
        assert_eq!(
            default.admin.balance_interval,
            std::time::Duration::from_secs(15)
        );
        let set = maker_config_with(dir.path(), MAKER, "[admin]\nbalance_interval = \"2s\"\n");
        assert_eq!(
            set.unwrap().admin.balance_interval,
            std::time::Duration::from_secs(2)
        );
        let bad = maker_config_with(dir.path(), MAKER, "[admin]\nbalance_interval = 0\n");
        assert_eq!(bad.unwrap_err().field(), Some("admin.balance_interval"));
    }
}

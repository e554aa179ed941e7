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
mod transactions;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use ethereum::{contracts_from_file, read_contracts_file};
pub use parse::{parse_address, parse_address_str, parse_amount, parse_id, parse_id_str};

use self::parse::{invalid, key_file_error, missing, resolve, valid_uri};
use super::raw::RawConfig;
use super::secret;
use super::{Admin, Config, ConfigError, DEFAULT_ADMIN_LISTEN, Log, LogFormat, Role, Store};

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
/// and a keystore's passphrase variable or `CREDENTIALS_DIRECTORY`.
pub fn validate(
    raw: RawConfig,
    base: &Path,
    source: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    let role = parse_role(raw.role.as_deref())?;
    let realm = raw.realm.clone().ok_or_else(|| {
        missing(
            "realm",
            "the WAMP realm to join, e.g. \"realm1\" (or XBR_REALM)",
        )
    })?;
    if !valid_uri(&realm) {
        return Err(invalid(
            "realm",
            "a WAMP URI like \"realm1\"",
            format!("{realm:?}"),
        ));
    }
    if raw.transports.is_empty() {
        return Err(missing(
            "transports",
            "at least one [[transports]] entry with a url (or XBR_INSTANCE)",
        ));
    }
    let transports = raw
        .transports
        .iter()
        .enumerate()
        .map(|(i, t)| transport::parse_transport(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let authentication = auth::parse_authentication(&raw.authentication, base)?;
    let ethereum = ethereum::parse_ethereum(&raw.ethereum, base, role, env)?;
    let market = market::parse_market(&raw.market, role)?;

    let state_dir = match (&raw.store.state_dir, env.get("STATE_DIRECTORY")) {
        (Some(d), _) => resolve(base, d),
        // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
        (None, Some(d)) => PathBuf::from(d.split(':').next().unwrap_or(d)),
        (None, None) => base.join("state"),
    };
    let store = Store {
        path: raw
            .store
            .path
            .as_deref()
            .map(|p| resolve(&state_dir, p))
            .unwrap_or_else(|| state_dir.join("xbrd.sqlite")),
        state_dir,
    };

    let listen = socket_addr(
        "admin.listen",
        raw.admin.listen.as_deref().unwrap_or(DEFAULT_ADMIN_LISTEN),
    )?;
    let metrics_listen = raw
        .admin
        .metrics_listen
        .as_deref()
        .map(|s| socket_addr("admin.metrics_listen", s))
        .transpose()?;
    if metrics_listen == Some(listen) {
        return Err(invalid(
            "admin.metrics_listen",
            "an address other than admin.listen",
            listen.to_string(),
        ));
    }
    let token_file = raw
        .admin
        .token_file
        .as_deref()
        .map(|p| resolve(base, p))
        .unwrap_or_else(|| store.state_dir.join("admin.token"));
    if token_file.exists() {
        secret::read_text_secret(&token_file).map_err(key_file_error("admin.token_file"))?;
    }
    let balance_interval = raw
        .admin
        .balance_interval
        .as_ref()
        .map(|s| parse::parse_duration("admin.balance_interval", s))
        .transpose()?
        .unwrap_or(super::DEFAULT_BALANCE_INTERVAL);
    let admin = Admin {
        listen,
        token_file,
        metrics_listen,
        balance_interval,
    };

    let level = raw.log.level.clone().unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        return Err(invalid(
            "log.level",
            "a level (error, warn, info, debug, trace) or filter directive like \"xbrd=debug,info\"",
            format!("{level:?}"),
        ));
    }
    let format = match raw.log.format.as_deref().map(str::trim) {
        None | Some("pretty") => LogFormat::Pretty,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(invalid(
                "log.format",
                "\"pretty\" or \"json\"",
                format!("{other:?}"),
            ));
        }
    };

    Ok(Config {
        role,
        realm,
        transports,
        authentication,
        ethereum,
        market,
        store,
        admin,
        log: Log { level, format },
        source: source.to_owned(),
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

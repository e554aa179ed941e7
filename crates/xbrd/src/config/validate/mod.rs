//! Validation: raw layered values → [`Config`], naming the field and the expected form on every error.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use alloy_primitives::{Address, U256};

use super::raw::{RawApiOffer, RawConfig, RawContracts, RawTransport, Scalar};
use super::secret::{self, KeyKind};
use super::*;

fn missing(field: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError::Missing {
        field: field.into(),
        expected: expected.into(),
    }
}

fn invalid(
    field: impl Into<String>,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        expected: expected.into(),
        got: got.into(),
    }
}

fn show(s: &Scalar) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Text(t) => format!("{t:?}"),
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

const AMOUNT_FORM: &str =
    "token base units as a decimal string (e.g. \"35000000000000000000\") or \"<n> XBR\"";

/// Parses an amount: base units (integer or decimal string) or `"<n> XBR"` (18 decimals).
pub fn parse_amount(field: &str, s: &Scalar) -> Result<U256, ConfigError> {
    let bad = || invalid(field, AMOUNT_FORM, show(s));
    match s {
        Scalar::Int(i) if *i >= 0 => Ok(U256::from(*i as u64)),
        Scalar::Int(_) | Scalar::Float(_) => Err(bad()),
        Scalar::Text(t) => {
            let t = t.trim();
            let (number, scale) = match t.len().checked_sub(3).map(|i| t.split_at(i)) {
                Some((n, unit)) if unit.eq_ignore_ascii_case("xbr") => (n.trim(), 18usize),
                _ => (t, 0usize),
            };
            let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
            let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
            if int_part.is_empty()
                || !digits_ok(int_part)
                || !digits_ok(frac_part)
                || frac_part.len() > scale
            {
                return Err(bad());
            }
            let padded = format!(
                "{int_part}{frac_part}{}",
                "0".repeat(scale - frac_part.len())
            );
            U256::from_str_radix(&padded, 10).map_err(|_| bad())
        }
    }
}

const DURATION_FORM: &str =
    "seconds as a number, or a duration string like \"10s\", \"500ms\", \"5m\"";

fn parse_duration(field: &str, s: &Scalar) -> Result<Duration, ConfigError> {
    let bad = || invalid(field, DURATION_FORM, show(s));
    let d = match s {
        Scalar::Int(i) if *i > 0 => Duration::from_secs(*i as u64),
        Scalar::Float(f) if f.is_finite() && *f > 0.0 => Duration::from_secs_f64(*f),
        Scalar::Text(t) => match t.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Duration::from_secs_f64(f),
            Ok(_) => return Err(bad()),
            Err(_) => humantime::parse_duration(t.trim()).map_err(|_| bad())?,
        },
        _ => return Err(bad()),
    };
    if d.is_zero() { Err(bad()) } else { Ok(d) }
}

fn parse_f64(
    field: &str,
    s: &Scalar,
    expected: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<f64, ConfigError> {
    let v = match s {
        Scalar::Int(i) => *i as f64,
        Scalar::Float(f) => *f,
        Scalar::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid(field, expected, show(s)))?,
    };
    if v.is_finite() && ok(v) {
        Ok(v)
    } else {
        Err(invalid(field, expected, show(s)))
    }
}

fn parse_i64(
    field: &str,
    s: &Scalar,
    expected: &str,
    ok: impl Fn(i64) -> bool,
) -> Result<i64, ConfigError> {
    let v = match s {
        Scalar::Int(i) => *i,
        Scalar::Text(t) => t
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(field, expected, show(s)))?,
        Scalar::Float(_) => return Err(invalid(field, expected, show(s))),
    };
    if ok(v) {
        Ok(v)
    } else {
        Err(invalid(field, expected, show(s)))
    }
}

const ADDRESS_FORM: &str = "an Ethereum address: 0x followed by 40 hex digits";

/// Parses `0x` + 40 hex digits.
pub fn parse_address(field: &str, s: &str) -> Result<Address, ConfigError> {
    let t = s.trim();
    let ok = t.len() == 42 && t.starts_with("0x") && t[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(invalid(field, ADDRESS_FORM, format!("{s:?}")));
    }
    Address::from_str(t).map_err(|_| invalid(field, ADDRESS_FORM, format!("{s:?}")))
}

/// Parses an address from user input (admin API paths, CLI), with a plain message on error.
pub fn parse_address_str(s: &str) -> Result<Address, String> {
    parse_address("address", s).map_err(|_| format!("expected {ADDRESS_FORM}, got {s:?}"))
}

/// Parses a UUID from user input (admin API paths), with a plain message on error.
pub fn parse_uuid_str(s: &str) -> Result<[u8; 16], String> {
    parse_uuid("api_id", s).map_err(|_| format!("expected {UUID_FORM}, got {s:?}"))
}

const UUID_FORM: &str = "a UUID like \"627f1b5c-58c2-43b1-8422-a34f7d3f5a04\"";

/// Parses a UUID (hyphens optional) into 16 bytes.
pub fn parse_uuid(field: &str, s: &str) -> Result<[u8; 16], ConfigError> {
    let digits: String = s.trim().chars().filter(|c| *c != '-').collect();
    let mut out = [0u8; 16];
    hex::decode_to_slice(&digits, &mut out)
        .map_err(|_| invalid(field, UUID_FORM, format!("{s:?}")))?;
    Ok(out)
}

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

fn parse_transport(i: usize, t: &RawTransport) -> Result<Transport, ConfigError> {
    let f = |name: &str| format!("transports[{i}].{name}");
    const URL_FORM: &str = "a router URL with scheme ws, wss, rs, rss or rs+unix (e.g. \"ws://127.0.0.1:8080/ws\", \"rs+unix:///run/crossbar.sock\")";
    let raw_url = t
        .url
        .as_deref()
        .ok_or_else(|| missing(f("url"), URL_FORM))?;
    let url = url::Url::parse(raw_url.trim())
        .map_err(|_| invalid(f("url"), URL_FORM, format!("{raw_url:?}")))?;
    if !matches!(url.scheme(), "ws" | "wss" | "rs" | "rss" | "rs+unix") {
        return Err(invalid(f("url"), URL_FORM, format!("{raw_url:?}")));
    }
    let serializer = match t.serializer.as_deref().map(str::trim) {
        None | Some("cbor") => Serializer::Cbor,
        Some("json") => Serializer::Json,
        Some("msgpack") => Serializer::Msgpack,
        Some(other) => {
            return Err(invalid(
                f("serializer"),
                "one of \"json\", \"msgpack\", \"cbor\"",
                format!("{other:?}"),
            ));
        }
    };
    let d = RetryPolicy::default();
    let retry = RetryPolicy {
        max_retries: match &t.max_retries {
            Some(s) => parse_i64(
                &f("max_retries"),
                s,
                "an integer >= -1 (-1 retries forever)",
                |v| v >= -1,
            )?,
            None => d.max_retries,
        },
        initial_retry_delay: match &t.initial_retry_delay {
            Some(s) => parse_f64(&f("initial_retry_delay"), s, "seconds > 0", |v| v > 0.0)?,
            None => d.initial_retry_delay,
        },
        retry_delay_growth: match &t.retry_delay_growth {
            Some(s) => parse_f64(&f("retry_delay_growth"), s, "a multiplier >= 1", |v| {
                v >= 1.0
            })?,
            None => d.retry_delay_growth,
        },
        retry_delay_jitter: match &t.retry_delay_jitter {
            Some(s) => parse_f64(
                &f("retry_delay_jitter"),
                s,
                "a fraction between 0 and 1",
                |v| (0.0..=1.0).contains(&v),
            )?,
            None => d.retry_delay_jitter,
        },
        max_retry_delay: match &t.max_retry_delay {
            Some(s) => parse_f64(&f("max_retry_delay"), s, "seconds > 0", |v| v > 0.0)?,
            None => d.max_retry_delay,
        },
    };
    if retry.max_retry_delay < retry.initial_retry_delay {
        return Err(invalid(
            f("max_retry_delay"),
            "seconds >= initial_retry_delay",
            retry.max_retry_delay.to_string(),
        ));
    }
    Ok(Transport {
        url,
        serializer,
        retry,
    })
}

fn key_file_error(field: &str) -> impl FnOnce(KeyFileError) -> ConfigError + '_ {
    move |source| ConfigError::KeyFile {
        field: field.to_owned(),
        source,
    }
}

fn parse_authentication(
    raw: &super::raw::RawAuthentication,
    base: &Path,
) -> Result<Authentication, ConfigError> {
    const FORM: &str = "one of \"anonymous\", \"ticket\", \"wampcra\", \"cryptosign\"";
    let file = |name: &str, value: &Option<String>, what: &str| -> Result<PathBuf, ConfigError> {
        value
            .as_deref()
            .map(|p| resolve(base, p))
            .ok_or_else(|| missing(format!("authentication.{name}"), what.to_string()))
    };
    let need_authid = |method: &str| -> Result<(), ConfigError> {
        if raw.authid.is_none() {
            return Err(missing(
                "authentication.authid",
                format!("the authid to log in with ({method})"),
            ));
        }
        Ok(())
    };
    let method = match raw.method.as_deref().map(str::trim) {
        None | Some("anonymous") => AuthMethod::Anonymous,
        Some("ticket") => {
            need_authid("ticket")?;
            let p = file(
                "ticket_file",
                &raw.ticket_file,
                "a file holding the ticket (mode 0600)",
            )?;
            AuthMethod::Ticket(
                secret::read_text_secret(&p)
                    .map_err(key_file_error("authentication.ticket_file"))?,
            )
        }
        Some("wampcra") => {
            need_authid("wampcra")?;
            let p = file(
                "secret_file",
                &raw.secret_file,
                "a file holding the WAMP-CRA secret (mode 0600)",
            )?;
            AuthMethod::Wampcra(
                secret::read_text_secret(&p)
                    .map_err(key_file_error("authentication.secret_file"))?,
            )
        }
        Some("cryptosign") => {
            let p = file(
                "private_key_file",
                &raw.private_key_file,
                "a file holding the Ed25519 seed: 64 hex digits or a tagged key file (mode 0600)",
            )?;
            AuthMethod::Cryptosign(
                secret::read_key_file(&p, KeyKind::Cryptosign)
                    .map_err(key_file_error("authentication.private_key_file"))?,
            )
        }
        Some(other) => return Err(invalid("authentication.method", FORM, format!("{other:?}"))),
    };
    Ok(Authentication {
        authid: raw.authid.clone(),
        authrole: raw.authrole.clone(),
        authextra: raw.authextra.clone(),
        method,
    })
}

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
fn parse_contracts(raw: &super::raw::RawEthereum, base: &Path) -> Result<Contracts, ConfigError> {
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
    let raw = super::raw::RawEthereum {
        contracts_file: Some(path.display().to_string()),
        ..Default::default()
    };
    parse_contracts(&raw, Path::new(""))
}

fn parse_ethereum(
    raw: &super::raw::RawEthereum,
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

fn parse_offer(i: usize, o: &RawApiOffer) -> Result<ApiOffer, ConfigError> {
    let f = |name: &str| format!("market.apis[{i}].{name}");
    let api_id = parse_uuid(
        &f("api_id"),
        o.api_id
            .as_deref()
            .ok_or_else(|| missing(f("api_id"), UUID_FORM))?,
    )?;
    let prefix = o
        .prefix
        .clone()
        .filter(|p| valid_uri(p))
        .ok_or_else(|| match &o.prefix {
            None => missing(
                f("prefix"),
                "the topic URI the data is published under, e.g. \"io.crossbar.example\"",
            ),
            Some(p) => invalid(
                f("prefix"),
                "a WAMP URI of dot-separated components",
                format!("{p:?}"),
            ),
        })?;
    let price = parse_amount(
        &f("price"),
        o.price
            .as_ref()
            .ok_or_else(|| missing(f("price"), AMOUNT_FORM))?,
    )?;
    let rotation = match (&o.rotation_interval, &o.rotation_count) {
        (Some(s), None) => Rotation::Interval(parse_duration(&f("rotation_interval"), s)?),
        (None, Some(s)) => Rotation::Count(parse_i64(
            &f("rotation_count"),
            s,
            "a number of payloads >= 1",
            |v| v >= 1,
        )? as u64),
        (None, None) => {
            return Err(missing(
                f("rotation_interval"),
                "exactly one of rotation_interval (e.g. \"10s\") or rotation_count (e.g. 100)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(invalid(
                f("rotation_count"),
                "exactly one of rotation_interval or rotation_count",
                "both",
            ));
        }
    };
    Ok(ApiOffer {
        api_id,
        prefix,
        price,
        rotation,
        categories: o.categories.clone(),
    })
}

/// A loose WAMP URI check: non-empty dot-separated components without whitespace or `#`.
fn valid_uri(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|c| !c.is_empty() && !c.chars().any(|ch| ch.is_whitespace() || ch == '#'))
}

fn parse_market(raw: &super::raw::RawMarket, role: Role) -> Result<Market, ConfigError> {
    let maker = raw
        .maker
        .as_deref()
        .map(|s| parse_address("market.maker", s))
        .transpose()?;
    let member = raw
        .member
        .as_deref()
        .map(|s| parse_address("market.member", s))
        .transpose()?;
    let market_id = raw
        .market_id
        .as_deref()
        .map(|s| parse_uuid("market.market_id", s))
        .transpose()?;
    let max_price = raw
        .max_price
        .as_ref()
        .map(|s| parse_amount("market.max_price", s))
        .transpose()?;
    for (i, t) in raw.topics.iter().enumerate() {
        if !valid_uri(t) {
            return Err(invalid(
                format!("market.topics[{i}]"),
                "a WAMP URI (prefix)",
                format!("{t:?}"),
            ));
        }
    }
    let apis = raw
        .apis
        .iter()
        .enumerate()
        .map(|(i, o)| parse_offer(i, o))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::new();
    for (i, a) in apis.iter().enumerate() {
        if !seen.insert(a.api_id) {
            return Err(invalid(
                format!("market.apis[{i}].api_id"),
                "an api_id not used by another offer",
                format_uuid(&a.api_id),
            ));
        }
    }
    let maker_form = "the market maker's address, 0x + 40 hex digits (or XBR_MARKET_MAKER_ADR)";
    match role {
        Role::Seller => {
            if maker.is_none() {
                return Err(missing("market.maker", maker_form));
            }
            if apis.is_empty() {
                return Err(missing(
                    "market.apis",
                    "at least one [[market.apis]] offer (api_id, prefix, price, rotation_interval|rotation_count)",
                ));
            }
        }
        Role::Buyer => {
            if maker.is_none() {
                return Err(missing("market.maker", maker_form));
            }
            match max_price {
                None => return Err(missing("market.max_price", AMOUNT_FORM)),
                Some(p) if p.is_zero() => {
                    return Err(invalid("market.max_price", "an amount > 0", "0"));
                }
                Some(_) => {}
            }
            if raw.topics.is_empty() {
                return Err(missing(
                    "market.topics",
                    "a list of topic URIs to subscribe to, e.g. [\"io.crossbar.example\"]",
                ));
            }
        }
        Role::Marketmaker => {}
    }
    let sample_feed = match &raw.sample_feed {
        Some(feed) if feed.enabled.unwrap_or(true) => {
            if role != Role::Seller {
                return Err(invalid(
                    "market.sample_feed",
                    "no sample feed unless role = \"seller\"",
                    role.to_string(),
                ));
            }
            let api_id = match feed.api_id.as_deref() {
                Some(s) => parse_uuid("market.sample_feed.api_id", s)?,
                None => apis[0].api_id,
            };
            if !apis.iter().any(|a| a.api_id == api_id) {
                return Err(invalid(
                    "market.sample_feed.api_id",
                    "the api_id of one of the [[market.apis]]",
                    format_uuid(&api_id),
                ));
            }
            let interval = match &feed.interval {
                Some(s) => parse_duration("market.sample_feed.interval", s)?,
                None => Duration::from_secs(1),
            };
            Some(SampleFeed { api_id, interval })
        }
        _ => None,
    };
    Ok(Market {
        maker,
        member,
        market_id,
        max_price,
        topics: raw.topics.clone(),
        apis,
        sample_feed,
    })
}

/// Validates the raw layered values. `base` resolves relative paths; `env` supplies `STATE_DIRECTORY`.
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
        .map(|(i, t)| parse_transport(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let authentication = parse_authentication(&raw.authentication, base)?;
    let ethereum = parse_ethereum(&raw.ethereum, base, role)?;
    let market = parse_market(&raw.market, role)?;

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

    let listen_raw = raw.admin.listen.as_deref().unwrap_or(DEFAULT_ADMIN_LISTEN);
    let listen = SocketAddr::from_str(listen_raw.trim()).map_err(|_| {
        invalid(
            "admin.listen",
            "an IP:port socket address like \"127.0.0.1:7480\"",
            format!("{listen_raw:?}"),
        )
    })?;
    let token_file = raw
        .admin
        .token_file
        .as_deref()
        .map(|p| resolve(base, p))
        .unwrap_or_else(|| store.state_dir.join("admin.token"));
    if token_file.exists() {
        secret::read_text_secret(&token_file).map_err(key_file_error("admin.token_file"))?;
    }
    let admin = Admin { listen, token_file };

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        let t = |s: &str| parse_amount("f", &Scalar::Text(s.into()));
        assert_eq!(t("35 XBR").unwrap(), U256::from(35u128 * 10u128.pow(18)));
        assert_eq!(t("0.5xbr").unwrap(), U256::from(5u128 * 10u128.pow(17)));
        assert_eq!(
            t("35000000000000000000").unwrap(),
            U256::from(35u128 * 10u128.pow(18))
        );
        assert_eq!(parse_amount("f", &Scalar::Int(7)).unwrap(), U256::from(7));
        for bad in ["", "-1", "1.5", "abc", "1.0000000000000000001 XBR", "XBR"] {
            let e = t(bad).unwrap_err().to_string();
            assert!(
                e.contains("`f`") && e.contains("decimal string"),
                "{bad}: {e}"
            );
        }
        assert!(parse_amount("f", &Scalar::Float(1.0)).is_err());
    }

    #[test]
    fn durations() {
        let d = |s: Scalar| parse_duration("f", &s);
        assert_eq!(
            d(Scalar::Text("10s".into())).unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(
            d(Scalar::Text("500ms".into())).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(d(Scalar::Int(3)).unwrap(), Duration::from_secs(3));
        assert_eq!(d(Scalar::Float(0.25)).unwrap(), Duration::from_millis(250));
        assert!(d(Scalar::Int(0)).is_err());
        assert!(d(Scalar::Text("soon".into())).is_err());
    }

    #[test]
    fn addresses_and_uuids() {
        assert!(parse_address("a", "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9").is_ok());
        for bad in [
            "3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9",
            "0x123",
            "0xZZ5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9",
        ] {
            assert!(parse_address("a", bad).is_err(), "{bad}");
        }
        let id = parse_uuid("u", "627f1b5c-58c2-43b1-8422-a34f7d3f5a04").unwrap();
        assert_eq!(format_uuid(&id), "627f1b5c-58c2-43b1-8422-a34f7d3f5a04");
        assert!(parse_uuid("u", "627f1b5c").is_err());
    }
}

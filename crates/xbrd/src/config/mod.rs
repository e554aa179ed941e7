//! Daemon configuration: a TOML file layered with environment variables, validated into typed values.
//!
//! Precedence, lowest first:
//! 1. the TOML file given with `-c`;
//! 2. the Autobahn|Python example variables (see [`autobahn_env`]);
//! 3. `XBRD__SECTION__KEY` variables, e.g. `XBRD__ADMIN__LISTEN=127.0.0.1:7481`, `XBRD__REALM=realm1`.
//!
//! Relative paths in the file are resolved against the file's directory. Validation names the offending field and
//! the expected form ([`ConfigError`]); the daemon exits with code 2 on any of them.

pub mod raw;
pub mod secret;
pub mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy_primitives::{Address, U256};
use serde::Serialize;
use xbr_core::{ApiId, MarketId};

pub use secret::{KeyFileError, Secret};
pub use validate::validate;

/// Environment variable prefix for overrides: `XBRD__SECTION__KEY`.
pub const ENV_PREFIX: &str = "XBRD";

/// The Autobahn|Python example variables honoured, and the field each one sets.
pub mod autobahn_env {
    /// Router URL; replaces the transport list with one transport of that URL (default retry settings).
    pub const INSTANCE: &str = "XBR_INSTANCE";
    /// `realm`.
    pub const REALM: &str = "XBR_REALM";
    /// `market.maker`.
    pub const MARKET_MAKER_ADR: &str = "XBR_MARKET_MAKER_ADR";
    /// `ethereum.private_key`, when `role = "seller"`.
    pub const SELLER_PRIVKEY: &str = "XBR_SELLER_PRIVKEY";
    /// `ethereum.private_key`, when `role = "buyer"`.
    pub const BUYER_PRIVKEY: &str = "XBR_BUYER_PRIVKEY";
    /// `ethereum.contracts.<name>` from `XBR_DEBUG_<NAME>_ADDR` (the reference's contract-address overrides).
    pub const CONTRACT_ADDRS: [(&str, &str); 6] = [
        ("XBR_DEBUG_TOKEN_ADDR", "token"),
        ("XBR_DEBUG_NETWORK_ADDR", "network"),
        ("XBR_DEBUG_DOMAIN_ADDR", "domain"),
        ("XBR_DEBUG_CATALOG_ADDR", "catalog"),
        ("XBR_DEBUG_MARKET_ADDR", "market"),
        ("XBR_DEBUG_CHANNEL_ADDR", "channel"),
    ];
}

/// Which XBR role this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Seller delegate: encrypts with rotating keys, offers and sells them.
    Seller,
    /// Buyer delegate: buys keys on demand and decrypts.
    Buyer,
    /// Market maker: brokers sales over payment channels.
    Marketmaker,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Seller => "seller",
            Role::Buyer => "buyer",
            Role::Marketmaker => "marketmaker",
        })
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The role.
    pub role: Role,
    /// The WAMP realm to join.
    pub realm: String,
    /// Transports, tried in turn (round-robin) like Autobahn's Component.
    pub transports: Vec<Transport>,
    /// WAMP authentication.
    pub authentication: Authentication,
    /// Ethereum gateway, delegate key and contracts.
    pub ethereum: Ethereum,
    /// Market settings for the role.
    pub market: Market,
    /// Persistent state.
    pub store: Store,
    /// Admin HTTP API.
    pub admin: Admin,
    /// Logging.
    pub log: Log,
    /// The file the configuration was read from.
    pub source: PathBuf,
}

/// WAMP serializer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Serializer {
    /// `wamp.2.json`.
    Json,
    /// `wamp.2.msgpack`.
    Msgpack,
    /// `wamp.2.cbor`.
    Cbor,
}

/// One transport (Autobahn Component `transports=` entry).
#[derive(Debug, Clone, Serialize)]
pub struct Transport {
    /// `ws://`, `wss://`, `rs://`, `rss://` or `rs+unix:///path` URL.
    pub url: url::Url,
    /// Serializer to offer.
    pub serializer: Serializer,
    /// Retry settings.
    pub retry: RetryPolicy,
}

/// Re-connection settings; Autobahn's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetryPolicy {
    /// `-1` retries forever.
    pub max_retries: i64,
    /// Seconds before the first retry (default 1.5).
    pub initial_retry_delay: f64,
    /// Multiplier per retry (default 1.5).
    pub retry_delay_growth: f64,
    /// Fraction of the delay added or subtracted at random (default 0.1).
    pub retry_delay_jitter: f64,
    /// Upper bound in seconds (default 300).
    pub max_retry_delay: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: -1,
            initial_retry_delay: 1.5,
            retry_delay_growth: 1.5,
            retry_delay_jitter: 0.1,
            max_retry_delay: 300.0,
        }
    }
}

/// WAMP authentication (the secrets are loaded from files at validation time).
#[derive(Debug, Clone)]
pub struct Authentication {
    /// `authid` (required for ticket and wampcra).
    pub authid: Option<String>,
    /// Requested `authrole`.
    pub authrole: Option<String>,
    /// Extra authentication data sent in HELLO.
    pub authextra: BTreeMap<String, serde_json::Value>,
    /// The method and its credential.
    pub method: AuthMethod,
}

/// An authentication method with its credential.
#[derive(Debug, Clone)]
pub enum AuthMethod {
    /// No credential.
    Anonymous,
    /// Ticket from `ticket_file`.
    Ticket(Secret<String>),
    /// WAMP-CRA secret from `secret_file`.
    Wampcra(Secret<String>),
    /// Ed25519 seed from `private_key_file`.
    Cryptosign(Secret<[u8; 32]>),
}

impl AuthMethod {
    /// The WAMP authmethod name.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Anonymous => "anonymous",
            AuthMethod::Ticket(_) => "ticket",
            AuthMethod::Wampcra(_) => "wampcra",
            AuthMethod::Cryptosign(_) => "cryptosign",
        }
    }
}

/// `[ethereum]`.
#[derive(Debug, Clone)]
pub struct Ethereum {
    /// JSON-RPC gateway URL.
    pub gateway: url::Url,
    /// The delegate's (or market maker's) secp256k1 key.
    pub private_key: Secret<[u8; 32]>,
    /// Contract addresses.
    pub contracts: Contracts,
    /// The chain id the gateway must serve (`chain_id`): checked when the daemon connects; a
    /// gateway on another chain is refused and no transaction is ever sent to it. `None`: not
    /// pinned (accepted for dev setups, with a warning at every start).
    pub chain_id: Option<u64>,
    /// Where the key came from (shown by `xbrd config check`; never the key or the passphrase).
    pub key_origin: KeyOrigin,
    /// How transactions are priced, replaced and awaited (`[ethereum.transactions]`).
    pub transactions: xbr_chain::TxPolicy,
}

/// Where `[ethereum]`'s key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `private_key` (inline, from the environment).
    Inline,
    /// `private_key_file`: a raw key file (`passphrase: None`) or a keystore opened with the
    /// passphrase from that source.
    File {
        /// The key file.
        path: PathBuf,
        /// The keystore's passphrase source.
        passphrase: Option<crate::eth_key::PassphraseSource>,
    },
}

/// XBR contract addresses.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Contracts {
    /// XBRToken.
    pub token: Option<Address>,
    /// XBRNetwork.
    pub network: Option<Address>,
    /// XBRDomain.
    pub domain: Option<Address>,
    /// XBRCatalog.
    pub catalog: Option<Address>,
    /// XBRMarket.
    pub market: Option<Address>,
    /// XBRChannel.
    pub channel: Option<Address>,
}

/// `[market]`.
#[derive(Debug, Clone)]
pub struct Market {
    /// The market maker's address (seller, buyer).
    pub maker: Option<Address>,
    /// The on-chain member the delegate acts for (shown in balances).
    pub member: Option<Address>,
    /// Market id (UUID), when set.
    pub market_id: Option<MarketId>,
    /// Buyer: highest price paid per key, in token base units.
    pub max_price: Option<U256>,
    /// Buyer: topics (URI prefixes) to subscribe to.
    pub topics: Vec<String>,
    /// Seller: the APIs offered.
    pub apis: Vec<ApiOffer>,
    /// Seller: built-in sample feed for demos.
    pub sample_feed: Option<SampleFeed>,
    /// Buyer: the seller delegates (`market.sellers`) and API ids (`market.apis`) it buys
    /// from; both empty: any (a warning at start).
    pub buy_from: xbr_market::AllowList,
    /// Maker: the largest amount `open_channel` opens a channel for, in token base units
    /// (`market.max_channel_amount`, default [`xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT`]);
    /// `None` for the other roles.
    pub max_channel_amount: Option<U256>,
    /// Maker: how the chain's channel logs are scanned (`[market.scan]`; defaults for the other roles).
    pub scan: xbr_market::maker::ScanConfig,
    /// Maker: how channels are closed on chain (`[market.close]`; defaults for the other roles).
    pub close: xbr_market::maker::CloseConfig,
}

/// A seller's API offer (`SimpleSeller.add`).
#[derive(Debug, Clone, Serialize)]
pub struct ApiOffer {
    /// 16-byte API id (UUID).
    pub api_id: ApiId,
    /// URI prefix under which the data is published.
    pub prefix: String,
    /// Price per key in token base units.
    #[serde(serialize_with = "serialize_decimal")]
    pub price: U256,
    /// When keys rotate.
    pub rotation: Rotation,
    /// Offer categories.
    pub categories: BTreeMap<String, String>,
}

/// Key rotation schedule (exactly one of interval or count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// Rotate every interval.
    Interval(#[serde(with = "duration_secs")] Duration),
    /// Rotate after this many payloads.
    Count(u64),
}

/// The seller's demo feed.
#[derive(Debug, Clone, Copy)]
pub struct SampleFeed {
    /// The API published to.
    pub api_id: ApiId,
    /// Publish period.
    pub interval: Duration,
}

/// `[store]`.
#[derive(Debug, Clone, Serialize)]
pub struct Store {
    /// State directory (default `$STATE_DIRECTORY`, else `state` beside the config file).
    pub state_dir: PathBuf,
    /// SQLite database (default `<state_dir>/xbrd.sqlite`).
    pub path: PathBuf,
}

/// `[admin]`.
#[derive(Debug, Clone, Serialize)]
pub struct Admin {
    /// Listen address (default `127.0.0.1:7480`).
    pub listen: SocketAddr,
    /// Bearer token file for `/v1/*` and `/metrics` (default `<state_dir>/admin.token`; created 0600 by `run` if missing).
    pub token_file: PathBuf,
    /// Opt-in listener serving `/metrics` alone WITHOUT a token (for a scrape network only).
    pub metrics_listen: Option<SocketAddr>,
    /// How often the chain is probed for `/ready` and the chain gauges (default 5 s).
    #[serde(with = "duration_secs")]
    pub chain_interval: Duration,
    /// How often the balance sampler reads the daemon's own balances into the dashboard's
    /// history and the balance gauges (default [`DEFAULT_BALANCE_INTERVAL`]).
    #[serde(with = "duration_secs")]
    pub balance_interval: Duration,
}

/// Default `[admin] balance_interval`.
pub const DEFAULT_BALANCE_INTERVAL: Duration = Duration::from_secs(15);

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize)]
pub struct Log {
    /// An `EnvFilter` directive, e.g. `info` or `xbrd=debug,info`.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
}

/// Default admin listen address.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:7480";

/// A configuration that cannot be used. Every variant names the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("cannot load configuration {path}: {message}")]
    Load {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A field is missing.
    #[error("config field `{field}` is missing: expected {expected}")]
    Missing {
        /// Dotted field name, e.g. `market.apis[0].price`.
        field: String,
        /// The expected form.
        expected: String,
    },
    /// A field has a bad value.
    #[error("config field `{field}` is invalid: expected {expected}, got {got}")]
    Invalid {
        /// Dotted field name.
        field: String,
        /// The expected form.
        expected: String,
        /// What was found (never a secret).
        got: String,
    },
    /// A key or secret file is unusable.
    #[error("config field `{field}`: {source}")]
    KeyFile {
        /// Dotted field name.
        field: String,
        /// Why.
        source: KeyFileError,
    },
    /// Several problems (validation goes on after the first; never nested, never one).
    #[error("{} problems in the configuration:{}", .0.len(), bullets(.0))]
    Many(Vec<ConfigError>),
}

/// Each error on a line of its own.
fn bullets(all: &[ConfigError]) -> String {
    all.iter().map(|e| format!("\n  - {e}")).collect()
}

impl ConfigError {
    /// Every problem this error reports: itself, or each of [`ConfigError::Many`].
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Many(all) => all.iter().collect(),
            one => vec![one],
        }
    }

    /// The field this error is about, if any (of several, the first found: validation goes in
    /// the file's section order).
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Load { .. } => None,
            ConfigError::Many(all) => all.first().and_then(ConfigError::field),
            ConfigError::Missing { field, .. }
            | ConfigError::Invalid { field, .. }
            | ConfigError::KeyFile { field, .. } => Some(field),
        }
    }
}

/// Loads, layers and validates the configuration at `path`, reading the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// Like [`load`] with an explicit environment (for tests).
pub fn load_with_env(path: &Path, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let raw = layer::read_layers(path, env)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    validate(raw, &base, path, env)
}

mod layer;

/// What the operator commands (`xbrd backup`, `xbrd restore`) need of a configuration, read
/// without opening any key file: a store can be backed up by whoever may read it, keys or not.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// The role (whose invariants a restored store must hold).
    pub role: Role,
    /// The store.
    pub store: Store,
    /// Where the daemon's admin API listens (a running daemon answers there).
    pub admin_listen: SocketAddr,
}

/// The [`StoreLocation`] of the configuration at `path` (file layered with the process environment).
pub fn locate_store(path: &Path) -> Result<StoreLocation, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let raw = layer::read_layers(path, &env)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    validate::locate_store(&raw, &base, &env)
}

/// The admin API address of the configuration at `path` (file layered with the process
/// environment), validating nothing else: what `xbrd health` probes, cheap enough for a container
/// health check every few seconds (no key file or keystore is opened).
pub fn admin_listen(path: &Path) -> Result<SocketAddr, ConfigError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let raw = layer::read_layers(path, &env)?;
    validate::admin_listen(raw.admin.listen.as_deref())
}

/// Renders an amount as a decimal string (amounts never travel as floats).
pub fn serialize_decimal<S: serde::Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

mod duration_secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

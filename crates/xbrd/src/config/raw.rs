//! The configuration as written (TOML + environment), before validation. Every field is optional here so that
//! validation, not deserialisation, reports what is missing, naming the field.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Accepts a TOML integer, float or string where a number or amount is expected (env values arrive as strings).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string, e.g. `"35 XBR"`, `"10s"` or `"-1"`.
    Text(String),
}

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub role: Option<String>,
    pub realm: Option<String>,
    #[serde(default)]
    pub transports: Vec<RawTransport>,
    #[serde(default)]
    pub authentication: RawAuthentication,
    #[serde(default)]
    pub ethereum: RawEthereum,
    #[serde(default)]
    pub market: RawMarket,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub log: RawLog,
}

/// One `[[transports]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransport {
    pub url: Option<String>,
    pub serializer: Option<String>,
    pub max_retries: Option<Scalar>,
    pub initial_retry_delay: Option<Scalar>,
    pub retry_delay_growth: Option<Scalar>,
    pub retry_delay_jitter: Option<Scalar>,
    pub max_retry_delay: Option<Scalar>,
}

/// `[authentication]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthentication {
    pub method: Option<String>,
    pub authid: Option<String>,
    pub authrole: Option<String>,
    pub ticket_file: Option<String>,
    pub secret_file: Option<String>,
    pub private_key_file: Option<String>,
    #[serde(default)]
    pub authextra: BTreeMap<String, serde_json::Value>,
    /// The cryptosign key as a systemd credential (`$CREDENTIALS_DIRECTORY/<name>`), instead of
    /// `private_key_file`.
    pub private_key_credential: Option<String>,
}

/// `[ethereum]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEthereum {
    pub gateway: Option<String>,
    pub private_key_file: Option<String>,
    /// Inline key: meant for the environment (`XBR_SELLER_PRIVKEY`, `XBRD__ETHEREUM__PRIVATE_KEY`), not files.
    pub private_key: Option<String>,
    pub contracts_file: Option<String>,
    #[serde(default)]
    pub contracts: RawContracts,
    /// The chain id the gateway must serve (the pin).
    pub chain_id: Option<Scalar>,
    /// Passphrase of a keystore `private_key_file`: at most one of these three.
    pub private_key_passphrase_file: Option<String>,
    pub private_key_passphrase_env: Option<String>,
    pub private_key_passphrase_credential: Option<String>,
    #[serde(default)]
    pub transactions: RawTransactions,
    /// The key file as a systemd credential (`$CREDENTIALS_DIRECTORY/<name>`), instead of
    /// `private_key_file`.
    pub private_key_credential: Option<String>,
}

/// `[ethereum.transactions]`: xbr-chain's `TxPolicy`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransactions {
    pub max_fee_gwei: Option<Scalar>,
    pub max_priority_fee_gwei: Option<Scalar>,
    pub confirmations: Option<Scalar>,
    pub replace_after: Option<Scalar>,
    pub fee_bump_percent: Option<Scalar>,
    pub max_replacements: Option<Scalar>,
    pub receipt_timeout: Option<Scalar>,
}

/// `[ethereum.contracts]` (also the shape of a contracts file).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawContracts {
    #[serde(alias = "XBRToken", alias = "xbrtoken")]
    pub token: Option<String>,
    #[serde(alias = "XBRNetwork", alias = "xbrnetwork")]
    pub network: Option<String>,
    #[serde(alias = "XBRDomain", alias = "xbrdomain")]
    pub domain: Option<String>,
    #[serde(alias = "XBRCatalog", alias = "xbrcatalog")]
    pub catalog: Option<String>,
    #[serde(alias = "XBRMarket", alias = "xbrmarket")]
    pub market: Option<String>,
    #[serde(alias = "XBRChannel", alias = "xbrchannel")]
    pub channel: Option<String>,
    #[serde(alias = "XBRTypes", alias = "xbrtypes")]
    pub types: Option<String>,
    /// Anything else the deploy step writes (chain id, deployer, …) is ignored.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// `[market]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    pub maker: Option<String>,
    pub member: Option<String>,
    pub market_id: Option<String>,
    pub max_price: Option<Scalar>,
    #[serde(default)]
    pub topics: Vec<String>,
    /// A seller's offers (tables), or the API ids a buyer buys from (strings).
    #[serde(default)]
    pub apis: Vec<RawApi>,
    pub sample_feed: Option<RawSampleFeed>,
    /// Buyer: the seller delegates it buys from (empty: any).
    #[serde(default)]
    pub sellers: Vec<String>,
    /// Maker: the largest channel `open_channel` opens (an amount).
    pub max_channel_amount: Option<Scalar>,
    /// Maker: how the chain's logs are scanned.
    pub scan: Option<RawScan>,
    /// Maker: how channels are closed on chain.
    pub close: Option<RawClose>,
}

/// `[market.scan]`: xbr-market's `ScanConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScan {
    pub max_range: Option<Scalar>,
    pub confirmations: Option<Scalar>,
    pub rescan: Option<Scalar>,
}

/// `[market.close]`: xbr-market's `CloseConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClose {
    pub retry_min: Option<Scalar>,
    pub retry_max: Option<Scalar>,
    pub poll: Option<Scalar>,
    pub resubmit_after: Option<Scalar>,
    pub reply_wait: Option<Scalar>,
}

/// One `market.apis` entry: an offer table (seller) or an API id (buyer). Hand-written rather
/// than `#[serde(untagged)]` so that a mistyped offer field is still reported by name.
#[derive(Debug)]
pub enum RawApi {
    /// `"<uuid>"`: an API the buyer buys from.
    Id(String),
    /// `[[market.apis]]`: a seller's offer.
    Offer(RawApiOffer),
}

impl<'de> Deserialize<'de> for RawApi {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawApi;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an offer table (seller) or an API id string (buyer)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawApi, E> {
                Ok(RawApi::Id(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawApi, A::Error> {
                RawApiOffer::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawApi::Offer)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// One `[[market.apis]]` offer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApiOffer {
    pub api_id: Option<String>,
    pub prefix: Option<String>,
    pub price: Option<Scalar>,
    pub rotation_interval: Option<Scalar>,
    pub rotation_count: Option<Scalar>,
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
}

/// `[market.sample_feed]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSampleFeed {
    pub enabled: Option<bool>,
    pub api_id: Option<String>,
    pub interval: Option<Scalar>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub state_dir: Option<String>,
    pub path: Option<String>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
    pub token_file: Option<String>,
    pub metrics_listen: Option<String>,
    pub chain_interval: Option<Scalar>,
    pub balance_interval: Option<Scalar>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

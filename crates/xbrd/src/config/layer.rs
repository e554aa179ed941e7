//! Reading the layers (file, Autobahn variables, `XBRD__` variables) with the `config` crate.

use std::collections::BTreeMap;
use std::path::Path;

use config::{Environment, File, FileFormat, Map, Source, Value, ValueKind};

use super::raw::RawConfig;
use super::{ConfigError, ENV_PREFIX, autobahn_env};

/// The Autobahn example variables as a configuration source (between the file and `XBRD__` variables).
#[derive(Debug, Clone)]
struct AutobahnEnv {
    values: Map<String, Value>,
}

impl AutobahnEnv {
    fn new(env: &BTreeMap<String, String>, role: Option<&str>) -> Self {
        let origin = Some("environment".to_string());
        let text = |v: &str| Value::new(origin.as_ref(), ValueKind::String(v.to_owned()));
        let mut values = Map::new();
        if let Some(url) = env.get(autobahn_env::INSTANCE) {
            let mut transport = Map::new();
            transport.insert("url".to_string(), text(url));
            let table = Value::new(origin.as_ref(), ValueKind::Table(transport));
            values.insert(
                "transports".to_string(),
                Value::new(origin.as_ref(), ValueKind::Array(vec![table])),
            );
        }
        if let Some(realm) = env.get(autobahn_env::REALM) {
            values.insert("realm".to_string(), text(realm));
        }
        if let Some(maker) = env.get(autobahn_env::MARKET_MAKER_ADR) {
            values.insert("market.maker".to_string(), text(maker));
        }
        let key_var = match role {
            Some("seller") => Some(autobahn_env::SELLER_PRIVKEY),
            Some("buyer") => Some(autobahn_env::BUYER_PRIVKEY),
            _ => None,
        };
        if let Some(key) = key_var.and_then(|var| env.get(var)) {
            values.insert("ethereum.private_key".to_string(), text(key));
        }
        for (var, name) in autobahn_env::CONTRACT_ADDRS {
            if let Some(addr) = env.get(var) {
                values.insert(format!("ethereum.contracts.{name}"), text(addr));
            }
        }
        AutobahnEnv { values }
    }
}

impl Source for AutobahnEnv {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.values.clone())
    }
}

fn xbrd_env(env: &BTreeMap<String, String>) -> Environment {
    let vars: Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Environment::with_prefix(ENV_PREFIX)
        .prefix_separator("__")
        .separator("__")
        .source(Some(vars))
}

fn load_error(path: &Path, e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Load {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Reads the three layers into the raw (unvalidated) configuration.
pub(super) fn read_layers(
    path: &Path,
    env: &BTreeMap<String, String>,
) -> Result<RawConfig, ConfigError> {
    if !path.is_file() {
        return Err(load_error(path, "no such file"));
    }
    let file = || File::from(path).format(FileFormat::Toml).required(true);
    // First pass: the role decides which Autobahn key variable applies.
    let first = config::Config::builder()
        .add_source(file())
        .add_source(xbrd_env(env))
        .build()
        .map_err(|e| load_error(path, e))?;
    let role = first.get_string("role").ok();
    let layered = config::Config::builder()
        .add_source(file())
        .add_source(AutobahnEnv::new(env, role.as_deref()))
        .add_source(xbrd_env(env))
        .build()
        .map_err(|e| load_error(path, e))?;
    layered
        .try_deserialize::<RawConfig>()
        .map_err(|e| load_error(path, e))
}

//! Config and status: the dicts of `xbr.marketmaker.get_config`, `get_status` and `status`.

use std::collections::BTreeMap;

use wamp_proto::{Dict, Value};
use xbr_core::address::format_address;

use super::{Fields, opt, read_address};
use crate::error::MarketResult;
use crate::types::{Address, MarketId};

/// The subset of `get_config` the roles need, plus what the maker publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerConfigInfo {
    /// Current time (ns).
    pub now: u64,
    /// `w3.net.version`.
    pub chain: u64,
    /// EIP-712 chain id of every channel signature.
    pub verifying_chain_id: u64,
    /// EIP-712 verifying contract of every channel signature.
    pub verifying_contract: Address,
    /// Contract addresses (`xbrtoken`, `xbrnetwork`, `xbrcatalog`, `xbrmarket`, `xbrchannel`).
    pub contracts: BTreeMap<String, Address>,
    /// Market owner.
    pub owner: Address,
    /// Market id.
    pub market: MarketId,
    /// Market maker address.
    pub marketmaker: Address,
    /// EULA url and hash.
    pub eula_url: String,
    /// EULA hash.
    pub eula_hash: String,
}

impl MakerConfigInfo {
    /// The `get_config` dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("now".into(), Value::from(self.now));
        d.insert("chain".into(), Value::from(self.chain));
        d.insert(
            "verifying_chain_id".into(),
            Value::from(self.verifying_chain_id),
        );
        d.insert(
            "verifying_contract_adr".into(),
            Value::from(format_address(&self.verifying_contract)),
        );
        let contracts: Dict = self
            .contracts
            .iter()
            .map(|(k, a)| (k.clone(), Value::from(format_address(a))))
            .collect();
        d.insert("contracts".into(), Value::Dict(contracts));
        let mut eula = Dict::new();
        eula.insert("url".into(), Value::from(self.eula_url.as_str()));
        eula.insert("hash".into(), Value::from(self.eula_hash.as_str()));
        eula.insert("text".into(), Value::Null);
        d.insert("eula".into(), Value::Dict(eula));
        d.insert("coin".into(), Value::Null);
        d.insert("owner".into(), Value::from(format_address(&self.owner)));
        d.insert("market".into(), Value::from(self.market.to_string()));
        d.insert(
            "marketmaker".into(),
            Value::from(format_address(&self.marketmaker)),
        );
        Value::Dict(d)
    }

    /// Parses the `get_config` dict (clients use only the chain id and verifying contract; the
    /// rest is read where present).
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        const W: &str = "get_config";
        let f = Fields::of(W, v)?;
        let addr_or_zero =
            |k: &str| opt(f.get(k), |v| read_address(v, W, k)).map(Option::unwrap_or_default);
        let contracts = match f.get("contracts") {
            Some(Value::Dict(d)) => d
                .iter()
                .filter_map(|(k, v)| read_address(v, W, k).ok().map(|a| (k.clone(), a)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let eula = f.get("eula").and_then(Value::as_dict);
        Ok(Self {
            now: f.get("now").and_then(Value::as_u64).unwrap_or(0),
            chain: f.get("chain").and_then(Value::as_u64).unwrap_or(0),
            verifying_chain_id: f.u64("verifying_chain_id")?,
            verifying_contract: f.address("verifying_contract_adr")?,
            contracts,
            owner: addr_or_zero("owner")?,
            market: f
                .get("market")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<MarketId>().ok())
                .unwrap_or_default(),
            marketmaker: addr_or_zero("marketmaker")?,
            eula_url: eula
                .and_then(|e| e.get("url"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            eula_hash: eula
                .and_then(|e| e.get("hash"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

super::dict_payload!(MakerConfigInfo);

/// The `get_status` result: time, chain and the current block (hash and gas limit are not
/// tracked and sent as zero, as the roles never read them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MakerStatus {
    /// Current time (ns).
    pub now: u64,
    /// `w3.net.version`.
    pub chain: u64,
    /// Current block number (0 without a chain).
    pub block_number: u64,
}

impl MakerStatus {
    /// The `get_status` dict.
    pub fn to_value(&self) -> Value {
        let mut block = Dict::new();
        block.insert("number".into(), Value::from(self.block_number));
        block.insert("hash".into(), Value::Bytes(vec![0; 32]));
        block.insert("gas_limit".into(), Value::from(0u64));
        let mut d = Dict::new();
        d.insert("now".into(), Value::from(self.now));
        d.insert("chain".into(), Value::from(self.chain));
        d.insert("block".into(), Value::Dict(block));
        d.insert("status".into(), Value::from(1u64));
        Value::Dict(d)
    }

    /// Parses the `get_status` dict (the block number is required, the rest read where present).
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        const W: &str = "get_status";
        let f = Fields::of(W, v)?;
        Ok(Self {
            now: f.get("now").and_then(Value::as_u64).unwrap_or(0),
            chain: f.get("chain").and_then(Value::as_u64).unwrap_or(0),
            block_number: Fields::of(W, f.at("block"))?.u64("number")?,
        })
    }
}

super::dict_payload!(MakerStatus);

/// The `status` result: the maker runs, at this block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunningStatus {
    /// Current block number (0 without a chain).
    pub current_block_no: u64,
}

impl RunningStatus {
    /// The `status` dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("status".into(), Value::from("RUNNING"));
        d.insert(
            "current_block_no".into(),
            Value::from(self.current_block_no),
        );
        d.insert("accounts".into(), Value::Dict(Dict::new()));
        Value::Dict(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips() {
        let c = MakerConfigInfo {
            now: 1,
            chain: 5777,
            verifying_chain_id: 5777,
            verifying_contract: Address::repeat_byte(0xc8),
            contracts: [("xbrtoken".to_string(), Address::repeat_byte(1))].into(),
            owner: Address::repeat_byte(2),
            market: MarketId([0xa1; 16]),
            marketmaker: Address::repeat_byte(6),
            eula_url: "u".into(),
            eula_hash: "h".into(),
        };
        assert_eq!(MakerConfigInfo::from_value(&c.to_value()).unwrap(), c);
    }

    #[test]
    fn status_round_trips_and_needs_the_block_number() {
        let s = MakerStatus {
            now: 7,
            chain: 5777,
            block_number: 42,
        };
        assert_eq!(MakerStatus::from_value(&s.to_value()).unwrap(), s);
        let e = MakerStatus::from_value(&Value::Dict(Dict::new())).unwrap_err();
        assert_eq!(e.uri, crate::error::uri::INVALID_ARGUMENT);
        assert_eq!(e.message, "get_status: expected a dict");
    }
}

//! Status and configuration: `status`, `get_status`, `get_config`.

use wamp_proto::{Dict, Value};

use super::MarketMaker;
use crate::peer::now_ns;
use crate::wire::MakerConfigInfo;

impl MarketMaker {
    /// `get_config`.
    pub fn get_config(&self) -> MakerConfigInfo {
        MakerConfigInfo {
            now: now_ns(),
            chain: self.cfg.chain,
            verifying_chain_id: self.cfg.domain.chain_id,
            verifying_contract: self.cfg.domain.verifying_contract,
            contracts: self.cfg.contracts.clone(),
            owner: self.cfg.market_owner,
            market: self.cfg.market_oid,
            marketmaker: self.address,
            eula_url: self.cfg.eula_url.clone(),
            eula_hash: self.cfg.eula_hash.clone(),
        }
    }

    pub(super) async fn block_number(&self) -> u64 {
        match &self.chain {
            Some(c) => c.block_number().await.unwrap_or(0),
            None => 0,
        }
    }

    /// `status`.
    pub async fn status(&self) -> Value {
        let mut d = Dict::new();
        d.insert("status".into(), Value::from("RUNNING"));
        d.insert(
            "current_block_no".into(),
            Value::from(self.block_number().await),
        );
        d.insert("accounts".into(), Value::Dict(Dict::new()));
        Value::Dict(d)
    }

    /// `get_status`.
    pub async fn get_status(&self) -> Value {
        let mut block = Dict::new();
        block.insert("number".into(), Value::from(self.block_number().await));
        block.insert("hash".into(), Value::Bytes(vec![0; 32]));
        block.insert("gas_limit".into(), Value::from(0u64));
        let mut d = Dict::new();
        d.insert("now".into(), Value::from(now_ns()));
        d.insert("chain".into(), Value::from(self.cfg.chain));
        d.insert("block".into(), Value::Dict(block));
        d.insert("status".into(), Value::from(1u64));
        Value::Dict(d)
    }
}

//! Status and configuration: `status`, `get_status`, `get_config`.

use super::MarketMaker;
use crate::peer::now_ns;
use crate::wire::{MakerConfigInfo, MakerStatus, RunningStatus};

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
    pub async fn status(&self) -> RunningStatus {
        RunningStatus {
            current_block_no: self.block_number().await,
        }
    }

    /// `get_status`.
    pub async fn get_status(&self) -> MakerStatus {
        MakerStatus {
            now: now_ns(),
            chain: self.cfg.chain,
            block_number: self.block_number().await,
        }
    }
}

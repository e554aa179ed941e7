//! Read-only queries the `xbrd chain` commands need beyond [`SimpleBlockchain`]'s core reads:
//! a member's entry in a market (`XBRMarket.getMarketActor`). Nothing here sends a transaction.

use alloy_primitives::{Address, U256};
use serde::Serialize;
use xbr_core::MarketId;

use crate::bindings::XBRMarket;
use crate::blockchain::SimpleBlockchain;
use crate::error::Result;
use crate::types::ActorType;

/// A member's entry as one actor type in a market, from `XBRMarket.getMarketActor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActorStatus {
    /// Provider or consumer (a provider-consumer has one entry of each).
    pub actor_type: ActorType,
    /// Block number at which the actor joined.
    pub joined: U256,
    /// The security it deposited when joining (XBR base units).
    pub security: U256,
    /// The actor metadata multihash given when joining (may be empty).
    pub meta: String,
}

impl SimpleBlockchain {
    /// The entry of `actor` as `actor_type` (provider or consumer) in `market_id`, or `None`
    /// when it has not joined as that type.
    pub async fn market_actor(
        &self,
        market_id: MarketId,
        actor: Address,
        actor_type: ActorType,
    ) -> Result<Option<ActorStatus>> {
        let call = "XBRMarket.getMarketActor";
        let c = self.addresses().market;
        if !self.is_actor(market_id, actor, actor_type).await? {
            return Ok(None);
        }
        let market = XBRMarket::new(c, self.gateway().provider().clone());
        let r = market
            .getMarketActor(market_id.into(), actor, actor_type.as_u8())
            .call()
            .await
            .map_err(|e| self.gateway().contract_error(call, c, e))?;
        Ok(Some(ActorStatus {
            actor_type,
            joined: r._0,
            security: r._1,
            meta: r._2,
        }))
    }
}

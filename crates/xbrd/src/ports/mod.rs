//! The seams between the admin API and the parts it reports on: the role ([`RoleApi`]) and the chain
//! ([`ChainApi`]). The daemon implements them over xbr-market and xbr-chain; tests implement them directly.
//!
//! Ports speak in domain terms: [`views`] are what they report, [`RoleError`] and [`ChainError`] why
//! they failed; the admin layer maps those to HTTP (`admin::error`).

pub mod error;
pub mod views;

pub use error::{ChainError, RoleError};

use alloy_primitives::{Address, U256};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use xbr_core::ApiId;

use self::views::{
    ApiKeysView, ChannelClosed, ChannelView, DecryptedEvent, KeysView, PublishReceipt,
    PublishRequest, TransactionPage, TransactionQuery,
};
use crate::config::Role;

/// An address the daemon holds or acts for, with what it is (`delegate`, `member`, `marketmaker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnAddress {
    /// What the address is.
    pub label: &'static str,
    /// The address.
    pub address: Address,
}

/// What the admin API asks of the running role. Methods that do not apply to a role keep the default,
/// which answers [`RoleError::NotSupported`].
pub trait RoleApi: Send + Sync {
    /// The role.
    fn role(&self) -> Role;

    /// Addresses shown in `/v1/balances`.
    fn own_addresses(&self) -> Vec<OwnAddress>;

    /// Seller: keys per API.
    fn keys(&self) -> BoxFuture<'_, Result<KeysView, RoleError>> {
        let role = self.role();
        Box::pin(async move { Err(RoleError::not_supported("keys", role)) })
    }

    /// Seller: rotate the key of an API now.
    fn rotate_key(&self, api_id: ApiId) -> BoxFuture<'_, Result<ApiKeysView, RoleError>> {
        let _ = api_id;
        let role = self.role();
        Box::pin(async move { Err(RoleError::not_supported("key rotation", role)) })
    }

    /// Channels this role holds or brokers, with off-chain balances.
    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, RoleError>>;

    /// Sales or purchases.
    fn transactions(
        &self,
        query: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, RoleError>>;

    /// Seller: encrypt and publish.
    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<PublishReceipt, RoleError>> {
        let _ = req;
        let role = self.role();
        Box::pin(async move { Err(RoleError::not_supported("publish", role)) })
    }

    /// Buyer: a stream of decrypted events.
    fn events(&self) -> Result<broadcast::Receiver<DecryptedEvent>, RoleError> {
        Err(RoleError::not_supported("events", self.role()))
    }

    /// Seller, buyer: close the own channel now (a final close at the current off-chain state).
    fn close_channel(&self) -> BoxFuture<'_, Result<ChannelClosed, RoleError>> {
        let role = self.role();
        Box::pin(async move { Err(RoleError::not_supported("closing a channel", role)) })
    }
}

/// Chain id and head block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Chain id.
    pub chain_id: u64,
    /// Latest block number.
    pub block: u64,
}

/// On-chain balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnChainBalance {
    /// Wei.
    pub eth: U256,
    /// XBR base units.
    pub xbr: U256,
}

/// XBR network membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Registration block.
    pub registered: U256,
    /// EULA.
    pub eula: String,
    /// Profile.
    pub profile: String,
    /// Level, e.g. `ACTIVE`, `VERIFIED`.
    pub level: String,
}

/// What the admin API and readiness probe ask of the chain.
pub trait ChainApi: Send + Sync {
    /// Chain id and block; errors say why the gateway cannot be reached.
    fn head(&self) -> BoxFuture<'_, Result<ChainHead, ChainError>>;
    /// ETH and XBR of an address.
    fn balances(&self, address: Address) -> BoxFuture<'_, Result<OnChainBalance, ChainError>>;
    /// Membership, or `None` when not a member.
    fn member(&self, address: Address) -> BoxFuture<'_, Result<Option<Membership>, ChainError>>;
}

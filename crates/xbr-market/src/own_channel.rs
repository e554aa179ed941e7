//! A seller's or buyer's own channel at start: found through the market maker, its off-chain
//! seq/balance adopted into the role's store (the maker's view wins), with the maker's EIP-712
//! domain. Shared by [`crate::seller`] and [`crate::buyer`].

use std::sync::Arc;

use tracing::warn;

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::MakerClient;
use crate::sig::Domain;
use crate::store::{BuyerStore, SellerStore, StoreResult, blocking};
use crate::types::{Address, ChannelType, LocalChannel};

/// A role's own channel: its type and how the role's store keeps it.
pub(crate) struct ChannelRecord<S: ?Sized> {
    ty: ChannelType,
    read: fn(&S) -> StoreResult<Option<LocalChannel>>,
    write: fn(&S, &LocalChannel) -> StoreResult<()>,
}

impl ChannelRecord<dyn SellerStore> {
    /// The seller's paying channel.
    pub(crate) fn paying() -> Self {
        Self {
            ty: ChannelType::Paying,
            read: |s| s.seller_channel(),
            write: |s, c| s.set_seller_channel(c),
        }
    }
}

impl ChannelRecord<dyn BuyerStore> {
    /// The buyer's payment channel.
    pub(crate) fn payment() -> Self {
        Self {
            ty: ChannelType::Payment,
            read: |s| s.buyer_channel(),
            write: |s, c| s.set_buyer_channel(c),
        }
    }
}

/// Reads the active channel of `record`'s type for `delegate`, its balance and the maker's domain, and
/// adopts the maker's seq/balance into `store`. A channel without balance left is an error
/// (`xbr.error.not_started`).
pub(crate) async fn adopt<S: ?Sized + Send + Sync + 'static>(
    maker: &MakerClient,
    delegate: &Address,
    store: &Arc<S>,
    record: ChannelRecord<S>,
) -> MarketResult<(LocalChannel, Domain)> {
    let ty = record.ty;
    let name = match ty {
        ChannelType::Payment => "payment",
        ChannelType::Paying => "paying",
    };
    let config = maker.get_config().await?;
    let domain = Domain {
        chain_id: config.verifying_chain_id,
        verifying_contract: config.verifying_contract,
    };
    let ch = maker
        .get_active_channel(ty, delegate)
        .await?
        .ok_or_else(|| {
            MarketError::new(uri::NOT_STARTED, format!("no active {name} channel found"))
        })?;
    let bal = maker.get_balance(ty, &ch.channel_oid).await?;
    if bal.remaining.is_zero() {
        return Err(MarketError::new(
            uri::NOT_STARTED,
            format!("no off-chain balance remaining on {name} channel"),
        ));
    }
    let channel = LocalChannel {
        channel_oid: ch.channel_oid,
        market_oid: ch.market_oid,
        seq: bal.seq,
        balance: bal.remaining,
    };
    let stored = blocking(store, record.read).await?;
    if let Some(st) = stored
        .as_ref()
        .filter(|s| s.channel_oid == channel.channel_oid)
        && (st.seq != channel.seq || st.balance != channel.balance)
    {
        warn!(
            stored_seq = st.seq,
            maker_seq = channel.seq,
            "{name} channel state differs from the maker's; adopting the maker's"
        );
    }
    let (write, c2) = (record.write, channel.clone());
    blocking(store, move |s| write(s, &c2)).await?;
    Ok((channel, domain))
}

//! A seller's or buyer's own channel at start: found through the market maker, its off-chain
//! seq/balance adopted into the role's store (the maker's view wins), with the maker's EIP-712
//! domain; and its final close at the current state ([`final_close`]). Shared by
//! [`crate::seller`] and [`crate::buyer`].

use std::sync::Arc;

use tracing::warn;

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::MakerClient;
use crate::sig::{ChannelState as SignedState, Domain, OFF_CHAIN_CLOSE_AT};
use crate::store::{BuyerStore, SellerStore, StoreResult, blocking};
use crate::types::{Address, ChannelType, LocalChannel, U256};
use crate::wire::{CloseChannelRequest, CloseChannelResult};
use xbr_core::eth::EthPrivateKey;

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
/// settles the role's stored seq/balance against the maker's (see [`settle`]). A channel without
/// balance left is an error (`xbr.error.not_started`).
///
/// The caller holds the role's sale lock, so no sale of its own moves the channel meanwhile.
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
    if (bal.remaining + bal.inflight).is_zero() {
        return Err(MarketError::new(
            uri::NOT_STARTED,
            format!("no off-chain balance remaining on {name} channel"),
        ));
    }
    let stored = blocking(store, record.read)
        .await?
        .filter(|s| s.channel_oid == ch.channel_oid);
    let maker_view = MakerView {
        seq: bal.seq,
        remaining: bal.remaining,
        inflight: bal.inflight,
    };
    let channel = match settle(stored.as_ref(), &maker_view) {
        Some(own) => own.clone(),
        None => {
            let (seq, balance) = maker_view.confirmed();
            if let Some(st) = &stored {
                warn!(
                    stored_seq = st.seq,
                    maker_seq = bal.seq,
                    maker_inflight = %bal.inflight,
                    "{name} channel state differs from the maker's; adopting the maker's"
                );
            }
            LocalChannel {
                channel_oid: ch.channel_oid,
                market_oid: ch.market_oid,
                seq,
                balance,
            }
        }
    };
    let (write, c2) = (record.write, channel.clone());
    blocking(store, move |s| write(s, &c2)).await?;
    Ok((channel, domain))
}

/// The maker's view of a channel as `get_*_channel_balance` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MakerView {
    pub seq: u64,
    pub remaining: U256,
    pub inflight: U256,
}

impl MakerView {
    /// The maker's confirmed position: before its sale in flight, if one is (the maker has at
    /// most one sale in flight per channel).
    pub(crate) fn confirmed(&self) -> (u64, U256) {
        if self.inflight.is_zero() {
            (self.seq, self.remaining)
        } else {
            (self.seq.saturating_sub(1), self.remaining + self.inflight)
        }
    }
}

/// Whether the role keeps its own stored state (`Some`) or takes the maker's confirmed one
/// (`None`). It keeps its own when it equals the maker's, and while the maker has a sale in
/// flight, when it stands just before that sale or just after it (the role recorded it and the
/// maker has not heard back yet): the maker resolves that sale with the role, and adopting its
/// seq now would make the role refuse the sale or record it twice.
pub(crate) fn settle<'a>(
    stored: Option<&'a LocalChannel>,
    maker: &MakerView,
) -> Option<&'a LocalChannel> {
    let own = stored?;
    let (confirmed_seq, confirmed_balance) = maker.confirmed();
    let at_confirmed = own.seq == confirmed_seq && own.balance == confirmed_balance;
    let after_pending =
        !maker.inflight.is_zero() && own.seq == maker.seq && own.balance == maker.remaining;
    (at_confirmed || after_pending).then_some(own)
}

/// Closes `ch` for good at its current (seq, balance): the delegate `key` signs the final close
/// and the maker's `close_channel` counter-signs and settles it. The caller holds the role's sale
/// lock, so the state signed is the last one.
pub(crate) async fn final_close(
    maker: &MakerClient,
    key: &EthPrivateKey,
    domain: &Domain,
    ch: &LocalChannel,
) -> MarketResult<CloseChannelResult> {
    // Sign the close at a recent block: the contract accepts `closeAt` only within
    // PRESIGNED_TXN_MAX_AGE blocks of the head (the reference's fixed 1 expires at block 1441).
    let close_at = match maker.get_block_number().await? {
        0 => OFF_CHAIN_CLOSE_AT,
        block => block,
    };
    let state = SignedState {
        close_at,
        market_oid: ch.market_oid,
        channel_oid: ch.channel_oid,
        seq: ch.seq,
        balance: ch.balance,
        is_final: true,
    };
    let signature = domain.sign(key, &state)?;
    let req = CloseChannelRequest {
        channel_oid: ch.channel_oid,
        verifying_chain_id: domain.chain_id,
        current_block_number: close_at,
        verifying_contract: domain.verifying_contract,
        closing_balance: ch.balance,
        closing_seq: ch.seq,
        closing_is_final: true,
        delegate_signature: signature,
    };
    maker.close_channel(&req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChannelId, MarketId};

    fn local(seq: u64, balance: u64) -> LocalChannel {
        LocalChannel {
            channel_oid: ChannelId([1; 16]),
            market_oid: MarketId([2; 16]),
            seq,
            balance: U256::from(balance),
        }
    }

    fn view(seq: u64, remaining: u64, inflight: u64) -> MakerView {
        MakerView {
            seq,
            remaining: U256::from(remaining),
            inflight: U256::from(inflight),
        }
    }

    #[test]
    fn nothing_stored_takes_the_confirmed_position() {
        assert_eq!(view(5, 90, 10).confirmed(), (4, U256::from(100)));
        assert_eq!(view(5, 90, 0).confirmed(), (5, U256::from(90)));
        assert!(settle(None, &view(5, 90, 0)).is_none());
    }

    #[test]
    fn a_sale_in_flight_at_the_maker_does_not_move_the_role() {
        let before = local(4, 100);
        let after = local(5, 90);
        assert!(settle(Some(&before), &view(5, 90, 10)).is_some());
        assert!(settle(Some(&after), &view(5, 90, 10)).is_some());
        // Without the sale in flight only the equal state is kept.
        assert!(settle(Some(&before), &view(5, 90, 0)).is_none());
        assert!(settle(Some(&after), &view(5, 90, 0)).is_some());
    }

    #[test]
    fn a_role_ahead_or_behind_takes_the_maker_state() {
        assert!(settle(Some(&local(7, 70)), &view(5, 90, 0)).is_none());
        assert!(settle(Some(&local(3, 110)), &view(5, 90, 10)).is_none());
        assert!(settle(Some(&local(5, 80)), &view(5, 90, 0)).is_none());
    }
}

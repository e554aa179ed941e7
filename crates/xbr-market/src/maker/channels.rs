//! Channels: mirrored from the chain (`XBRChannel.Opened`, found by [`super::scan`] or read by
//! id), opened through the maker (`open_channel`), and the channel queries (`get_*_channel`, balances, by delegate or actor).

use wamp_proto::{Dict, Value};
use xbr_core::eip712::recover_typed;

use super::{ChainChannel, MarketMaker, channel_kind};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::now_ns;
use crate::store::blocking;
use crate::types::{Address, Channel, ChannelId, ChannelState, ChannelType, U256};
use crate::wire::{Balance, OpenChannelRequest, v_bytes};

impl MarketMaker {
    /// Records a channel first seen on chain (seq 1, remaining = amount). `true` if new.
    pub async fn mirror_channel(&self, c: &ChainChannel) -> MarketResult<bool> {
        let ch = Channel {
            channel_oid: c.channel_oid,
            channel_type: c.channel_type,
            market_oid: c.market_oid,
            member_oid: None,
            timestamp: now_ns(),
            open_at: U256::from(c.open_at),
            marketmaker: c.marketmaker,
            actor: c.actor,
            delegate: c.delegate,
            recipient: c.recipient,
            amount: c.amount,
            timeout: c.timeout,
            state: ChannelState::Open,
            seq: 1,
            remaining: c.amount,
            inflight: U256::ZERO,
            close: None,
        };
        Ok(blocking(&self.store, move |s| s.insert_channel(&ch)).await?)
    }

    /// Reads the given channels from the chain and mirrors those of this market and maker that
    /// are new (seq 1, remaining = amount); how many were new. Unknown ids are skipped.
    pub async fn sync_channels(&self, channel_oids: &[ChannelId]) -> MarketResult<usize> {
        let chain = self.chain()?;
        let mut new = 0;
        for oid in channel_oids {
            if let Some(c) = chain.channel(*oid).await?
                && c.market_oid == self.cfg.market_oid
                && c.marketmaker == self.address
                && self.mirror_channel(&c).await?
            {
                new += 1;
            }
        }
        Ok(new)
    }

    /// `open_channel`: verifies the member's ChannelOpen, submits `openChannel` and records the
    /// channel (seq 1).
    pub async fn open_channel(&self, req: OpenChannelRequest) -> MarketResult<Value> {
        let chain = self.chain()?;
        let msg = req.open_message();
        let signer = recover_typed(&msg, &req.signature).map_err(|e| {
            MarketError::new(
                uri::INVALID_SIGNATURE,
                format!("channel open signature: {e}"),
            )
        })?;
        if signer != req.member {
            return Err(MarketError::new(
                uri::INVALID_SIGNATURE,
                "channel open not signed by the member",
            ));
        }
        if req.market_oid != self.cfg.market_oid || req.marketmaker != self.address {
            return Err(MarketError::invalid_argument(
                "open_channel: not this market or market maker",
            ));
        }
        if req.verifying_chain_id != self.cfg.domain.chain_id
            || req.verifying_contract != self.cfg.domain.verifying_contract
        {
            return Err(MarketError::invalid_argument(
                "open_channel: wrong verifying chain or contract",
            ));
        }
        let (tx, opened) = chain.open_channel(req.clone()).await?;
        self.mirror_channel(&opened).await?;
        let mut d = Dict::new();
        d.insert("transaction".into(), v_bytes(tx));
        d.insert("channel_oid".into(), v_bytes(req.channel_oid));
        d.insert("market_oid".into(), v_bytes(req.market_oid));
        Ok(Value::Dict(d))
    }

    /// `get_payment_channel` / `get_paying_channel`.
    pub async fn get_channel(&self, ty: ChannelType, oid: ChannelId) -> MarketResult<Channel> {
        blocking(&self.store, move |s| s.channel(&oid))
            .await?
            .filter(|c| c.channel_type == ty)
            .ok_or_else(|| {
                MarketError::no_such_object(format!("no such {} channel", channel_kind(ty)))
            })
    }

    /// `get_payment_channel_balance` / `get_paying_channel_balance`.
    pub async fn get_balance(&self, ty: ChannelType, oid: ChannelId) -> MarketResult<Balance> {
        let c = self.get_channel(ty, oid).await?;
        Ok(Balance {
            remaining: c.remaining,
            inflight: c.inflight,
            seq: c.seq,
        })
    }

    /// `get_active_payment_channel` / `get_active_paying_channel`: the first open channel of the
    /// delegate with remaining > 0.
    pub async fn get_active_channel(
        &self,
        ty: ChannelType,
        delegate: Address,
    ) -> MarketResult<Option<Channel>> {
        let v = blocking(&self.store, move |s| s.channels_by_delegate(&delegate, ty)).await?;
        Ok(v.into_iter()
            .find(|c| c.state == ChannelState::Open && !c.remaining.is_zero()))
    }

    /// `get_channels_by_delegate`.
    pub async fn get_channels_by_delegate(
        &self,
        delegate: Address,
        ty: ChannelType,
        filter_open: bool,
    ) -> MarketResult<Vec<ChannelId>> {
        let v = blocking(&self.store, move |s| s.channels_by_delegate(&delegate, ty)).await?;
        Ok(channel_oids(v, filter_open))
    }

    /// `get_channels_by_actor` (paying channels are looked up by recipient).
    pub async fn get_channels_by_actor(
        &self,
        member: Address,
        ty: ChannelType,
        filter_open: bool,
    ) -> MarketResult<Vec<ChannelId>> {
        let v = blocking(&self.store, move |s| s.channels_by_member(&member, ty)).await?;
        Ok(channel_oids(v, filter_open))
    }
}

/// The ids of `channels`, only the open ones if `filter_open`.
fn channel_oids(channels: Vec<Channel>, filter_open: bool) -> Vec<ChannelId> {
    channels
        .into_iter()
        .filter(|c| !filter_open || c.state == ChannelState::Open)
        .map(|c| c.channel_oid)
        .collect()
}

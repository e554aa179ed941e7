//! The `XBRChannel` lifecycle logs of one market (`Opened`, `Closing`, `Closed`) over a bounded
//! block range, in one `eth_getLogs` call, decoded and in chain order.

use alloy_primitives::{B256, FixedBytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, Log};
use alloy_sol_types::SolEvent;
use xbr_core::{ChannelId, MarketId};

use crate::bindings::XBRChannel;
use crate::blockchain::{SimpleBlockchain, channel_opened};
use crate::error::Result;
use crate::types::{ChannelOpened, ChannelType};

/// A `Closing` or `Closed` log: how the channel's tokens are split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSettlement {
    /// The channel id.
    pub channel_id: ChannelId,
    /// The market.
    pub market_id: MarketId,
    /// Payment or paying.
    pub ctype: ChannelType,
    /// Tokens paid out to the recipient.
    pub payout: U256,
    /// The market's fee.
    pub fee: U256,
    /// Tokens refunded to the actor.
    pub refund: U256,
    /// `timeoutAt` (Closing) or `closedAt` (Closed).
    pub at: U256,
    /// The block the event was mined in (`None` for a pending log).
    pub block_number: Option<u64>,
}

/// One lifecycle log of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelEvent {
    /// `XBRChannel.Opened`.
    Opened(ChannelOpened),
    /// `XBRChannel.Closing`: a non-final close started the channel's timeout.
    Closing(ChannelSettlement),
    /// `XBRChannel.Closed`: the channel is settled.
    Closed(ChannelSettlement),
}

impl ChannelEvent {
    /// The channel the log is about.
    pub fn channel_id(&self) -> ChannelId {
        match self {
            Self::Opened(o) => o.channel_id,
            Self::Closing(s) | Self::Closed(s) => s.channel_id,
        }
    }
}

impl SimpleBlockchain {
    /// The `Opened`, `Closing` and `Closed` logs of `market_id` in blocks
    /// `from_block..=to_block` (one `eth_getLogs` call: keep the range bounded), in chain order.
    /// Logs of other events or that do not decode are skipped.
    pub async fn channel_events(
        &self,
        market_id: MarketId,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<ChannelEvent>> {
        let filter = Filter::new()
            .address(self.addresses().channel)
            .event_signature(vec![
                XBRChannel::Opened::SIGNATURE_HASH,
                XBRChannel::Closing::SIGNATURE_HASH,
                XBRChannel::Closed::SIGNATURE_HASH,
            ])
            .topic1(market_topic(market_id))
            .from_block(from_block)
            .to_block(to_block);
        let mut logs = self
            .gateway()
            .provider()
            .get_logs(&filter)
            .await
            .map_err(|e| self.gateway().rpc_error("eth_getLogs", e))?;
        logs.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(logs.iter().filter_map(decode).collect())
    }
}

/// The topic of an indexed market id: a `bytes16` topic is the value left-aligned in 32 bytes.
pub(crate) fn market_topic(market_id: MarketId) -> B256 {
    let mut topic = B256::ZERO;
    topic[..16].copy_from_slice(market_id.as_bytes());
    topic
}

/// A channel lifecycle log, or `None` for any other log.
fn decode(log: &Log) -> Option<ChannelEvent> {
    let block = log.block_number;
    match *log.topic0()? {
        XBRChannel::Opened::SIGNATURE_HASH => {
            let e = log.log_decode::<XBRChannel::Opened>().ok()?.inner.data;
            Some(ChannelEvent::Opened(channel_opened(e, block)))
        }
        XBRChannel::Closing::SIGNATURE_HASH => {
            let e = log.log_decode::<XBRChannel::Closing>().ok()?.inner.data;
            let split = [e.payout, e.fee, e.refund, e.timeoutAt];
            Some(ChannelEvent::Closing(settlement(
                e.ctype,
                (e.marketId, e.channelId),
                split,
                block,
            )))
        }
        XBRChannel::Closed::SIGNATURE_HASH => {
            let e = log.log_decode::<XBRChannel::Closed>().ok()?.inner.data;
            let split = [e.payout, e.fee, e.refund, e.closedAt];
            Some(ChannelEvent::Closed(settlement(
                e.ctype,
                (e.marketId, e.channelId),
                split,
                block,
            )))
        }
        _ => None,
    }
}

/// A settlement from a `Closing`/`Closed` log's fields: `[payout, fee, refund, at]`.
fn settlement(
    ctype: u8,
    (market_id, channel_id): (FixedBytes<16>, FixedBytes<16>),
    [payout, fee, refund, at]: [U256; 4],
    block_number: Option<u64>,
) -> ChannelSettlement {
    ChannelSettlement {
        channel_id: channel_id.into(),
        market_id: market_id.into(),
        ctype: ChannelType::from(ctype),
        payout,
        fee,
        refund,
        at,
        block_number,
    }
}

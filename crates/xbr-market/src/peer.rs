//! How the roles reach each other: a [`Caller`] (WAMP CALL), a [`Publisher`] (WAMP PUBLISH), and
//! the typed [`MakerClient`] the seller and buyer use to call `xbr.marketmaker.*` through them.
//!
//! The roles never see a socket: the wamp-client adapter implements these traits over a session,
//! and tests implement them in process ([`crate::local::LocalBus`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use wamp_proto::{Dict, Value};

use crate::error::{MarketError, MarketResult};
use crate::types::{Address, ChannelType, Offer, Oid};
use crate::wire::{
    self, Balance, BuyKeyRequest, BuyReceipt, ChannelInfo, CloseChannelRequest, CloseChannelResult,
    MakerConfigInfo, Payload, PlaceOfferRequest, Quote, v_bytes,
};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes WAMP calls. A failed call yields the callee's error URI and message.
pub trait Caller: Send + Sync + 'static {
    /// Calls `procedure` with positional `args` and keyword `kwargs`.
    fn call<'a>(
        &'a self,
        procedure: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<Payload>>;
}

/// Publishes WAMP events.
pub trait Publisher: Send + Sync + 'static {
    /// Publishes to `topic`.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<()>>;
}

/// A publisher that drops every event (roles without an event sink).
pub struct NoEvents;

impl Publisher for NoEvents {
    fn publish<'a>(
        &'a self,
        _: &'a str,
        _: Vec<Value>,
        _: Dict,
    ) -> BoxFuture<'a, MarketResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The current time in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Prefix of the market maker's procedures and topics.
pub const MAKER_PREFIX: &str = "xbr.marketmaker.";

/// Typed calls to `xbr.marketmaker.*` (what the reference seller and buyer call, spec §11).
#[derive(Clone)]
pub struct MakerClient {
    caller: Arc<dyn Caller>,
}

impl MakerClient {
    /// A client calling through `caller`.
    pub fn new(caller: Arc<dyn Caller>) -> Self {
        Self { caller }
    }

    async fn call(&self, name: &str, args: Vec<Value>, kwargs: Dict) -> MarketResult<Payload> {
        let uri = format!("{MAKER_PREFIX}{name}");
        self.caller.call(&uri, args, kwargs).await
    }

    /// `get_config`.
    pub async fn get_config(&self) -> MarketResult<MakerConfigInfo> {
        let r = self.call("get_config", vec![], Dict::new()).await?;
        MakerConfigInfo::from_value(wire::first(&r))
    }

    /// `get_status`: the current block number.
    pub async fn get_block_number(&self) -> MarketResult<u64> {
        let r = self.call("get_status", vec![], Dict::new()).await?;
        let block = wire::Fields::of("get_status", wire::first(&r))?.at("block");
        wire::Fields::of("get_status", block)?.u64("number")
    }

    /// `get_active_payment_channel` / `get_active_paying_channel`.
    pub async fn get_active_channel(
        &self,
        ty: ChannelType,
        delegate: &Address,
    ) -> MarketResult<Option<ChannelInfo>> {
        let name = match ty {
            ChannelType::Payment => "get_active_payment_channel",
            ChannelType::Paying => "get_active_paying_channel",
        };
        let r = self
            .call(name, vec![v_bytes(delegate.as_slice())], Dict::new())
            .await?;
        ChannelInfo::from_value(wire::first(&r))
    }

    /// `get_payment_channel_balance` / `get_paying_channel_balance`.
    pub async fn get_balance(&self, ty: ChannelType, channel_oid: &Oid) -> MarketResult<Balance> {
        let name = match ty {
            ChannelType::Payment => "get_payment_channel_balance",
            ChannelType::Paying => "get_paying_channel_balance",
        };
        let r = self
            .call(name, vec![v_bytes(channel_oid)], Dict::new())
            .await?;
        Balance::from_value(wire::first(&r))
    }

    /// `place_offer`.
    pub async fn place_offer(&self, req: &PlaceOfferRequest) -> MarketResult<Offer> {
        let (args, kwargs) = req.to_call();
        let r = self.call("place_offer", args, kwargs).await?;
        wire::offer_from_value(wire::first(&r))
    }

    /// `get_quote`.
    pub async fn get_quote(&self, key_id: &Oid) -> MarketResult<Quote> {
        let r = self
            .call("get_quote", vec![v_bytes(key_id)], Dict::new())
            .await?;
        Quote::from_value(wire::first(&r))
    }

    /// `buy_key`.
    pub async fn buy_key(&self, req: &BuyKeyRequest) -> MarketResult<BuyReceipt> {
        let r = self.call("buy_key", req.to_args(), Dict::new()).await?;
        BuyReceipt::from_value(wire::first(&r))
    }

    /// `close_channel`.
    pub async fn close_channel(
        &self,
        req: &CloseChannelRequest,
    ) -> MarketResult<CloseChannelResult> {
        let r = self
            .call("close_channel", req.to_args(), Dict::new())
            .await?;
        CloseChannelResult::from_value(wire::first(&r))
    }
}

/// Turns a WAMP ERROR (uri, args) into a [`MarketError`]: the message is the first positional
/// argument if it is a string (as the reference sends it).
pub fn error_from_wamp(uri: &str, args: &[Value]) -> MarketError {
    let message = args
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    MarketError::from_uri(uri.to_string(), message)
}

/// The positional args a [`MarketError`] is sent with: `[message]`.
pub fn error_args(e: &MarketError) -> Vec<Value> {
    vec![Value::from(e.message.as_str())]
}

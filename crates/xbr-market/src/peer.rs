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
use crate::maker::Procedure;
use crate::types::{Address, ChannelId, ChannelType, KeyId, Offer, U256};
use crate::wire::{
    self, Balance, BuyKeyRequest, BuyReceipt, ChannelInfo, CloseChannelRequest, CloseChannelResult,
    MakerConfigInfo, MakerStatus, Payload, PlaceOfferRequest, Quote, WireMessage, v_bytes,
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

/// Prefix of a seller's procedures and topics (`xbr.provider.<provider_id>.`).
pub const PROVIDER_PREFIX: &str = "xbr.provider.";

/// The procedures a seller registers under `xbr.provider.<provider_id>.` and the maker calls
/// (the seller's counterpart of [`crate::maker::Procedure`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderProcedure {
    /// `sell` (spec §2.4): the maker buys a key for a buyer.
    Sell,
    /// `close_channel` (spec §2.5): the maker asks the seller to counter-sign a close.
    CloseChannel,
}

impl ProviderProcedure {
    /// Every provider procedure, in registration order.
    pub const ALL: &'static [ProviderProcedure] = &[Self::Sell, Self::CloseChannel];

    /// The procedure's name, e.g. `sell`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sell => "sell",
            Self::CloseChannel => "close_channel",
        }
    }

    /// The procedure's URI for one seller, e.g. `xbr.provider.<provider_id>.sell`.
    pub fn uri(self, provider_id: &str) -> String {
        format!("{PROVIDER_PREFIX}{provider_id}.{}", self.name())
    }
}

impl std::str::FromStr for ProviderProcedure {
    type Err = MarketError;

    /// Parses a name (`sell`); anything else is `wamp.error.no_such_procedure`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                MarketError::new(
                    crate::error::uri::NO_SUCH_PROCEDURE,
                    format!("{PROVIDER_PREFIX}*.{s}"),
                )
            })
    }
}

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

    async fn call(&self, procedure: Procedure, (args, kwargs): Payload) -> MarketResult<Payload> {
        self.caller.call(procedure.uri(), args, kwargs).await
    }

    /// Calls `procedure` with `request` and parses its result.
    async fn request<Res: WireMessage>(
        &self,
        procedure: Procedure,
        request: Payload,
    ) -> MarketResult<Res> {
        let (args, kwargs) = self.call(procedure, request).await?;
        Res::from_payload(&args, &kwargs)
    }

    /// `get_config`.
    pub async fn get_config(&self) -> MarketResult<MakerConfigInfo> {
        self.request(Procedure::GetConfig, Payload::default()).await
    }

    /// `get_status`: the current block number.
    pub async fn get_block_number(&self) -> MarketResult<u64> {
        let status: MakerStatus = self
            .request(Procedure::GetStatus, Payload::default())
            .await?;
        Ok(status.block_number)
    }

    /// `get_active_payment_channel` / `get_active_paying_channel`.
    pub async fn get_active_channel(
        &self,
        ty: ChannelType,
        delegate: &Address,
    ) -> MarketResult<Option<ChannelInfo>> {
        let r = self
            .call(
                Procedure::active_channel(ty),
                wire::result1(v_bytes(delegate.as_slice())),
            )
            .await?;
        ChannelInfo::from_value(wire::first(&r))
    }

    /// `get_payment_channel_balance` / `get_paying_channel_balance`.
    pub async fn get_balance(
        &self,
        ty: ChannelType,
        channel_oid: &ChannelId,
    ) -> MarketResult<Balance> {
        self.request(
            Procedure::channel_balance(ty),
            wire::result1(v_bytes(channel_oid)),
        )
        .await
    }

    /// `place_offer`.
    pub async fn place_offer(&self, req: &PlaceOfferRequest) -> MarketResult<Offer> {
        self.request(Procedure::PlaceOffer, req.to_payload()).await
    }

    /// `get_quote`.
    pub async fn get_quote(&self, key_id: &KeyId) -> MarketResult<Quote> {
        self.request(Procedure::GetQuote, wire::result1(v_bytes(key_id)))
            .await
    }

    /// `buy_key`.
    pub async fn buy_key(&self, req: &BuyKeyRequest) -> MarketResult<BuyReceipt> {
        self.request(Procedure::BuyKey, req.to_payload()).await
    }

    /// `close_channel`.
    pub async fn close_channel(
        &self,
        req: &CloseChannelRequest,
    ) -> MarketResult<CloseChannelResult> {
        self.request(Procedure::CloseChannel, req.to_payload())
            .await
    }
}

/// Turns a WAMP ERROR (uri, args) into a [`MarketError`]: the message is the first positional
/// argument if it is a string (as the reference sends it).
pub fn error_from_wamp(uri: &str, args: &[Value], kwargs: &Dict) -> MarketError {
    let message = args
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let error = MarketError::from_uri(uri.to_string(), message);
    let seq = kwargs.get(POSITION_SEQ).and_then(Value::as_u64);
    let remaining = kwargs
        .get(POSITION_REMAINING)
        .and_then(Value::as_bytes)
        .filter(|b| b.len() == 32)
        .map(U256::from_be_slice);
    match (seq, remaining) {
        (Some(seq), Some(remaining)) => error.with_position(seq, remaining),
        _ => error,
    }
}

/// Keyword argument of an ERROR carrying the refusing party's seq ([`MarketError::position`]).
pub const POSITION_SEQ: &str = "channel_seq";
/// Keyword argument of an ERROR carrying the refusing party's remaining (32 bytes, big-endian).
pub const POSITION_REMAINING: &str = "remaining";

/// The positional args a [`MarketError`] is sent with: `[message]`.
pub fn error_args(e: &MarketError) -> Vec<Value> {
    vec![Value::from(e.message.as_str())]
}

/// The keyword args a [`MarketError`] is sent with: its channel position, if any.
pub fn error_kwargs(e: &MarketError) -> Dict {
    let mut kwargs = Dict::new();
    if let Some(p) = e.position {
        kwargs.insert(POSITION_SEQ.into(), Value::from(p.seq));
        kwargs.insert(
            POSITION_REMAINING.into(),
            wire::v_bytes(p.remaining.to_be_bytes::<32>()),
        );
    }
    kwargs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_procedures_have_per_seller_uris() {
        assert_eq!(
            ProviderProcedure::Sell.uri("seller-1"),
            "xbr.provider.seller-1.sell"
        );
        assert_eq!(
            ProviderProcedure::CloseChannel.uri("s"),
            "xbr.provider.s.close_channel"
        );
        for &p in ProviderProcedure::ALL {
            assert_eq!(p.name().parse::<ProviderProcedure>().unwrap(), p);
        }
        let e = "buy".parse::<ProviderProcedure>().unwrap_err();
        assert_eq!(e.uri, crate::error::uri::NO_SUCH_PROCEDURE);
        assert_eq!(e.message, "xbr.provider.*.buy");
    }
}

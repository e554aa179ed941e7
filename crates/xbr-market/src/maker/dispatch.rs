//! WAMP payloads onto the maker's typed methods: one exhaustive `match` over [`Procedure`], so a
//! new procedure does not compile until it is dispatched.

use wamp_proto::{Dict, Value};

use super::authenticator::AuthRequest;
use super::{AuthorizeRequest, CallerId, MarketMaker, Procedure};
use crate::error::{MarketError, MarketResult};
use crate::types::ChannelType;
use crate::wire::{
    self, Args, BuyKeyRequest, CloseChannelRequest, OpenChannelRequest, Payload, PlaceOfferRequest,
    result1, v_bytes,
};

/// The fixed gas price `get_gas_price` answers (as the reference).
const GAS_PRICE: u64 = 10_000_000_000;

/// The single `bN` argument of the lookups by id.
fn one_id<T: From<[u8; 16]>>(p: Procedure, args: &[Value], name: &str) -> MarketResult<T> {
    Args::new(p.name(), args, 1, 1)?.id(0, name)
}

impl MarketMaker {
    /// Handles `procedure` with WAMP positional/keyword args. `caller` is the caller as the
    /// router disclosed it (a bare session id for in-process calls): the changing procedures
    /// check it first ([`super::guard`]); its session id is recorded with offers.
    pub async fn dispatch(
        &self,
        procedure: Procedure,
        args: &[Value],
        kwargs: &Dict,
        caller: impl Into<CallerId>,
    ) -> MarketResult<Payload> {
        use Procedure as P;
        let caller: CallerId = caller.into();
        let no_args = || Args::new(procedure.name(), args, 0, 1).map(|_| ());
        let value = match procedure {
            P::Status => {
                no_args()?;
                self.status().await.to_value()
            }
            P::GetConfig => {
                no_args()?;
                self.get_config().to_value()
            }
            P::GetStatus => self.get_status().await.to_value(),
            P::GetGasPrice => Value::from(GAS_PRICE),
            P::PlaceOffer => {
                let req = PlaceOfferRequest::from_call(args, kwargs)?;
                self.check_place_offer(&caller, &req).await?;
                wire::offer_to_value(&self.place_offer(req, caller.session).await?)
            }
            P::GetOffer => {
                let offer_id = one_id(procedure, args, "offer_id")?;
                wire::offer_to_value(&self.get_offer(offer_id).await?)
            }
            P::RevokeOffer => {
                let key_id = one_id(procedure, args, "key_id")?;
                self.check_revoke_offer(&caller, key_id).await?;
                wire::offer_to_value(&self.revoke_offer(key_id).await?)
            }
            P::QueryOffers => {
                let q = wire::offer_query_from_call(args, kwargs)?;
                let offers = self.query_offers(q).await?;
                Value::List(offers.iter().map(wire::offer_to_value).collect())
            }
            P::GetQuote => {
                let key_id = one_id(procedure, args, "key_id")?;
                self.get_quote(key_id).await?.to_value()
            }
            P::BuyKey => {
                let req = BuyKeyRequest::from_args(args)?;
                self.check_channel_party(&caller, "buy_key", req.channel_oid)
                    .await?;
                self.buy_key(req).await?.to_value()
            }
            P::OpenChannel => {
                let req = OpenChannelRequest::from_args(args)?;
                self.check_open_channel(&caller, &req)?;
                self.open_channel(req).await?
            }
            P::CloseChannel => {
                let req = CloseChannelRequest::from_args(args)?;
                self.check_channel_party(&caller, "close_channel", req.channel_oid)
                    .await?;
                self.close_channel(req).await?.to_value()
            }
            P::GetPaymentChannel | P::GetPayingChannel => {
                let ty = channel_type_of(procedure);
                let oid = one_id(procedure, args, "channel_oid")?;
                wire::channel_to_value(&self.get_channel(ty, oid).await?)
            }
            P::GetPaymentChannelBalance | P::GetPayingChannelBalance => {
                let ty = channel_type_of(procedure);
                let oid = one_id(procedure, args, "channel_oid")?;
                self.get_balance(ty, oid).await?.to_value()
            }
            P::GetActivePaymentChannel | P::GetActivePayingChannel => {
                let a = Args::new(procedure.name(), args, 1, 1)?;
                let c = self
                    .get_active_channel(channel_type_of(procedure), a.address(0, "delegate_adr")?)
                    .await?;
                c.as_ref()
                    .map(wire::channel_to_value)
                    .unwrap_or(Value::Null)
            }
            P::GetChannelsByDelegate | P::GetChannelsByActor => {
                let a = Args::new(procedure.name(), args, 2, 3)?;
                let who = a.address(0, "address")?;
                let ty = ChannelType::from_u64(a.u64(1, "channel_type")?)
                    .ok_or_else(|| MarketError::invalid_argument("channel_type must be 1 or 2"))?;
                let open = match a.at(2) {
                    Value::Bool(b) => *b,
                    _ => kwargs
                        .get("filter_open")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                };
                let oids = if procedure == P::GetChannelsByDelegate {
                    self.get_channels_by_delegate(who, ty, open).await?
                } else {
                    self.get_channels_by_actor(who, ty, open).await?
                };
                Value::List(oids.iter().map(v_bytes).collect())
            }
            P::Authenticate => self
                .authenticate(AuthRequest::from_args(args)?)
                .await?
                .to_value(),
            P::Logout => {
                no_args()?;
                self.logout(caller.session).await?.to_value()
            }
            P::Authorize => self
                .authorize(&AuthorizeRequest::from_args(args)?)
                .await?
                .to_value(),
        };
        Ok(result1(value))
    }
}

/// The channel type a per-type procedure is about (payment for the `*_payment_*` ones).
fn channel_type_of(p: Procedure) -> ChannelType {
    let payment = matches!(
        p,
        Procedure::GetPaymentChannel
            | Procedure::GetPaymentChannelBalance
            | Procedure::GetActivePaymentChannel
    );
    if payment {
        ChannelType::Payment
    } else {
        ChannelType::Paying
    }
}

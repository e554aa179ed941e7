//! The maker's caller checks (caller disclosure): before [`MarketMaker::dispatch`] runs a
//! changing procedure, the disclosed caller must be entitled to it. Under
//! [`CallerPolicy::Authenticated`]:
//!
//! | procedure | allowed for |
//! |---|---|
//! | `place_offer` | the member the offer's delegate belongs to (and `provider_id`, if given, is that delegate's) |
//! | `revoke_offer` | the member the offer's seller delegate belongs to |
//! | `buy_key` | the payment channel's actor, or the member its delegate belongs to |
//! | `open_channel` | the member the channel is for (`member_adr`), up to `max_channel_amount` |
//! | `close_channel` | the channel's actor, or the member its delegate belongs to |
//!
//! The maker's own role (`xbrmm`) may do everything; anybody else is refused with
//! `wamp.error.not_authorized`. A delegate D belongs to member M when D is M, or the maker knows
//! a channel with delegate D whose actor is M (or, for a paying channel, whose recipient is M).
//! The reads are open to every caller. The amount cap of `open_channel` holds for every caller.

use super::MarketMaker;
use super::caller::{CallerId, CallerPolicy, Principal, provider_address};
use crate::error::{MarketError, MarketResult, uri};
use crate::store::blocking;
use crate::types::{Address, Channel, ChannelId, ChannelType, KeyId};
use crate::wire::{OpenChannelRequest, PlaceOfferRequest};

/// The default of [`super::MakerConfig::max_channel_amount`]: 1000 XBR (18 decimals).
pub const DEFAULT_MAX_CHANNEL_AMOUNT: u128 = 1_000 * 10u128.pow(18);

fn not_authorized(message: String) -> MarketError {
    MarketError::new(uri::NOT_AUTHORIZED, message)
}

/// Whether `channel` binds `delegate` to `member` (see the module doc).
fn binds(channel: &Channel, delegate: Address, member: Address) -> bool {
    channel.delegate == delegate
        && (channel.actor == member
            || (channel.channel_type == ChannelType::Paying && channel.recipient == member))
}

impl MarketMaker {
    /// The member whose entitlement a changing call `what` is checked against; `None` when no
    /// check applies (policy [`CallerPolicy::Unchecked`], or the maker's own role).
    fn checked_member(&self, caller: &CallerId, what: &str) -> MarketResult<Option<Address>> {
        if self.cfg.callers == CallerPolicy::Unchecked {
            return Ok(None);
        }
        match Principal::of_caller(caller) {
            Principal::Member(m) => Ok(Some(m)),
            Principal::Operator => Ok(None),
            Principal::Anonymous => Err(not_authorized(format!(
                "{what}: the caller (authrole {:?}, authid {:?}) is not an authenticated market member",
                caller.authrole.as_deref().unwrap_or("undisclosed"),
                caller.authid.as_deref().unwrap_or("undisclosed"),
            ))),
        }
    }

    /// Whether `delegate` belongs to `member` by the maker's channel records (see the module
    /// doc).
    pub async fn delegate_belongs_to(
        &self,
        delegate: Address,
        member: Address,
    ) -> MarketResult<bool> {
        if delegate == member {
            return Ok(true);
        }
        let channels = blocking(&self.store, move |s| {
            let mut all = s.channels_by_delegate(&delegate, ChannelType::Payment)?;
            all.extend(s.channels_by_delegate(&delegate, ChannelType::Paying)?);
            Ok(all)
        })
        .await?;
        Ok(channels.iter().any(|c| binds(c, delegate, member)))
    }

    async fn require_delegate_of(
        &self,
        what: &str,
        delegate: Address,
        member: Address,
    ) -> MarketResult<()> {
        if self.delegate_belongs_to(delegate, member).await? {
            return Ok(());
        }
        Err(not_authorized(format!(
            "{what}: delegate {delegate} does not belong to the calling member {member}"
        )))
    }

    /// `place_offer`: by the member of the offer's delegate, under that delegate's provider id.
    pub(super) async fn check_place_offer(
        &self,
        caller: &CallerId,
        req: &PlaceOfferRequest,
    ) -> MarketResult<()> {
        let Some(member) = self.checked_member(caller, "place_offer")? else {
            return Ok(());
        };
        self.require_delegate_of("place_offer", req.delegate, member)
            .await?;
        match &req.provider_id {
            Some(pid) if provider_address(pid) != Some(req.delegate) => {
                Err(not_authorized(format!(
                    "place_offer: provider_id {pid} is not the provider id of delegate {}",
                    req.delegate
                )))
            }
            _ => Ok(()),
        }
    }

    /// `revoke_offer`: by the member of the offer's seller delegate (an unknown key passes, and
    /// `revoke_offer` answers that it has no such offer).
    pub(super) async fn check_revoke_offer(
        &self,
        caller: &CallerId,
        key_id: KeyId,
    ) -> MarketResult<()> {
        let Some(member) = self.checked_member(caller, "revoke_offer")? else {
            return Ok(());
        };
        let offer = blocking(&self.store, move |s| s.offer_by_key(&key_id)).await?;
        match offer {
            Some(o) => {
                self.require_delegate_of("revoke_offer", o.seller, member)
                    .await
            }
            None => Ok(()),
        }
    }

    /// `buy_key` and `close_channel`: by the channel's actor or the member of its delegate (an
    /// unknown channel passes, and the procedure answers that it has no such channel).
    pub(super) async fn check_channel_party(
        &self,
        caller: &CallerId,
        what: &str,
        channel_oid: ChannelId,
    ) -> MarketResult<()> {
        let Some(member) = self.checked_member(caller, what)? else {
            return Ok(());
        };
        let Some(ch) = blocking(&self.store, move |s| s.channel(&channel_oid)).await? else {
            return Ok(());
        };
        if ch.actor == member || self.delegate_belongs_to(ch.delegate, member).await? {
            return Ok(());
        }
        Err(not_authorized(format!(
            "{what}: the calling member {member} is neither the actor ({}) of channel {channel_oid} nor the member of its delegate ({})",
            ch.actor, ch.delegate
        )))
    }

    /// `open_channel`: at most `max_channel_amount`, and (checked callers) only for the calling
    /// member itself.
    pub(super) fn check_open_channel(
        &self,
        caller: &CallerId,
        req: &OpenChannelRequest,
    ) -> MarketResult<()> {
        if req.amount > self.cfg.max_channel_amount {
            return Err(not_authorized(format!(
                "open_channel: amount {} exceeds the maker's cap of {}",
                req.amount, self.cfg.max_channel_amount
            )));
        }
        match self.checked_member(caller, "open_channel")? {
            Some(member) if member != req.member => Err(not_authorized(format!(
                "open_channel: the channel is for member {}, not for the calling member {member}",
                req.member
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;

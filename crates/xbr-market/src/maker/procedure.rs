//! The maker's procedures as one enum: the list below is the only place a procedure is named;
//! the URI table ([`Procedure::uri`]), the registration list ([`Procedure::ALL`]) and the
//! dispatch ([`super::MarketMaker::dispatch`], an exhaustive `match`) all derive from it.

use std::fmt;
use std::str::FromStr;

use crate::error::{MarketError, uri};
use crate::peer::MAKER_PREFIX;
use crate::types::ChannelType;

macro_rules! procedures {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// One `xbr.marketmaker.<name>` procedure.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Procedure {
            $($(#[$doc])* $variant,)+
        }

        impl Procedure {
            /// Every procedure, in registration order.
            pub const ALL: &'static [Procedure] = &[$(Procedure::$variant,)+];

            /// The procedure's name, e.g. `buy_key`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Procedure::$variant => $name,)+
                }
            }

            /// The procedure's URI, e.g. `xbr.marketmaker.buy_key`.
            pub fn uri(self) -> &'static str {
                match self {
                    $(Procedure::$variant => concat!("xbr.marketmaker.", $name),)+
                }
            }
        }
    };
}

procedures! {
    /// Liveness and the current block.
    Status = "status",
    /// The market's chain, contracts and addresses.
    GetConfig = "get_config",
    /// The current time, chain and block.
    GetStatus = "get_status",
    /// A fixed gas price (as the reference).
    GetGasPrice = "get_gas_price",
    /// A seller offers a key.
    PlaceOffer = "place_offer",
    /// An offer by id.
    GetOffer = "get_offer",
    /// Ends an offer now.
    RevokeOffer = "revoke_offer",
    /// Offers matching a filter.
    QueryOffers = "query_offers",
    /// The price of a key.
    GetQuote = "get_quote",
    /// A buyer buys a key (the four-signature exchange).
    BuyKey = "buy_key",
    /// Opens a channel on chain.
    OpenChannel = "open_channel",
    /// A delegate closes its channel.
    CloseChannel = "close_channel",
    /// A payment channel.
    GetPaymentChannel = "get_payment_channel",
    /// A paying channel.
    GetPayingChannel = "get_paying_channel",
    /// A payment channel's off-chain balance.
    GetPaymentChannelBalance = "get_payment_channel_balance",
    /// A paying channel's off-chain balance.
    GetPayingChannelBalance = "get_paying_channel_balance",
    /// A delegate's open payment channel with funds.
    GetActivePaymentChannel = "get_active_payment_channel",
    /// A delegate's open paying channel with funds.
    GetActivePayingChannel = "get_active_paying_channel",
    /// The channels of a delegate.
    GetChannelsByDelegate = "get_channels_by_delegate",
    /// The channels of a member (paying channels by recipient).
    GetChannelsByActor = "get_channels_by_actor",
    /// The market realm's dynamic authenticator (called by the router, spec §8.5).
    Authenticate = "authenticator.authenticate",
    /// A member session forgets its key and is ended.
    Logout = "authenticator.logout",
    // Authorization (issue 12).
    /// The router's dynamic authorizer of the `user` role ([`super::authorizer`]).
    Authorize = "authorizer.authorize",
}

impl Procedure {
    /// `get_payment_channel` / `get_paying_channel`.
    pub fn channel(ty: ChannelType) -> Self {
        match ty {
            ChannelType::Payment => Self::GetPaymentChannel,
            ChannelType::Paying => Self::GetPayingChannel,
        }
    }

    /// `get_payment_channel_balance` / `get_paying_channel_balance`.
    pub fn channel_balance(ty: ChannelType) -> Self {
        match ty {
            ChannelType::Payment => Self::GetPaymentChannelBalance,
            ChannelType::Paying => Self::GetPayingChannelBalance,
        }
    }

    /// `get_active_payment_channel` / `get_active_paying_channel`.
    pub fn active_channel(ty: ChannelType) -> Self {
        match ty {
            ChannelType::Payment => Self::GetActivePaymentChannel,
            ChannelType::Paying => Self::GetActivePayingChannel,
        }
    }
}

impl fmt::Display for Procedure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

impl FromStr for Procedure {
    type Err = MarketError;

    /// Parses a name (`buy_key`) or a full URI (`xbr.marketmaker.buy_key`); anything else is
    /// `wamp.error.no_such_procedure`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.strip_prefix(MAKER_PREFIX).unwrap_or(s);
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                MarketError::new(uri::NO_SUCH_PROCEDURE, format!("{MAKER_PREFIX}{name}"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_uris_and_parsing_agree() {
        assert_eq!(Procedure::ALL.len(), 23);
        for &p in Procedure::ALL {
            assert_eq!(p.uri(), format!("{MAKER_PREFIX}{}", p.name()));
            assert_eq!(p.name().parse::<Procedure>().unwrap(), p);
            assert_eq!(p.uri().parse::<Procedure>().unwrap(), p);
            assert_eq!(p.to_string(), p.uri());
        }
        assert_eq!(Procedure::BuyKey.uri(), "xbr.marketmaker.buy_key");
        let e = "sell_key".parse::<Procedure>().unwrap_err();
        assert_eq!(e.uri, uri::NO_SUCH_PROCEDURE);
        assert_eq!(e.message, "xbr.marketmaker.sell_key");
    }

    #[test]
    fn channel_type_picks_the_payment_or_paying_variant() {
        assert_eq!(
            Procedure::channel(ChannelType::Paying).name(),
            "get_paying_channel"
        );
        assert_eq!(
            Procedure::channel_balance(ChannelType::Payment).name(),
            "get_payment_channel_balance"
        );
        assert_eq!(
            Procedure::active_channel(ChannelType::Paying).name(),
            "get_active_paying_channel"
        );
    }
}

//! Errors of the market roles: every error carries the WAMP error URI the reference uses for it,
//! so the adapters can answer a call with exactly that URI.

use std::borrow::Cow;

use crate::store::StoreError;
use crate::types::U256;

/// The error URIs of the reference implementation (spec §2.4, §2.5, §3.4, §3A).
pub mod uri {
    /// The maker's address in a `sell`/`close_channel` is not the one the seller trusts.
    pub const UNEXPECTED_MARKETMAKER_ADR: &str = "xbr.error.unexpected_marketmaker_adr";
    /// The seller's `close_channel` was called by someone else.
    pub const UNEXPECTED_DELEGATE_ADR: &str = "xbr.error.unexpected_delegate_adr";
    /// The channel is not the seller's active paying channel.
    pub const UNEXPECTED_CHANNEL_OID: &str = "xbr.error.unexpected_channel_oid";
    /// The seq is not the expected one.
    pub const UNEXPECTED_CHANNEL_SEQ: &str = "xbr.error.unexpected_channel_seq";
    /// The balance is not the expected one.
    pub const UNEXPECTED_CHANNEL_BALANCE: &str = "xbr.error.unexpected_channel_balance";
    /// A signature does not recover to the expected signer.
    pub const INVALID_SIGNATURE: &str = "xbr.error.invalid_signature";
    /// The quoted price is above the buyer's maximum.
    pub const MAX_PRICE_EXCEEDED: &str = "xbr.error.max_price_exceeded";
    /// The buyer's channel cannot pay the price.
    pub const INSUFFICIENT_BALANCE: &str = "xbr.error.insufficient_balance";
    /// The channel was closed (buyer auto-close or maker report).
    pub const CHANNEL_CLOSED: &str = "xbr.error.channel_closed";
    /// A seq/remaining mismatch in a receipt, or a transaction that does not fit the channel.
    pub const INVALID_TRANSACTION: &str = "xbr.error.invalid_transaction";
    /// Unsealing a key or decrypting a payload failed.
    pub const DECRYPTION_FAILED: &str = "xbr.error.decryption_failed";
    /// The decrypted payload is not valid CBOR.
    pub const DESERIALIZATION_FAILED: &str = "xbr.error.deserialization_failed";
    /// The amount offered is below the price.
    pub const INSUFFICIENT_AMOUNT: &str = "xbr.error.insufficient_amount";
    /// The payment channel cannot pay the price.
    pub const INSUFFICIENT_PAYMENT_BALANCE: &str = "xbr.error.insufficient_payment_balance";
    /// The seller's paying channel cannot earn the price.
    pub const INSUFFICIENT_PAYING_BALANCE: &str = "xbr.error.insufficient_paying_balance";
    /// The seller failed to sell (not an application error).
    pub const TRANSACTION_FAILED: &str = "xbr.error.transaction_failed";
    /// The offer has expired.
    pub const OFFER_EXPIRED: &str = "xbr.error.offer_expired";
    /// No such channel (close).
    pub const INVALID_CHANNEL: &str = "xbr.error.invalid_channel";
    /// The channel is not open.
    pub const CHANNEL_NOT_OPEN: &str = "xbr.error.channel_not_open";
    /// A record that does not exist.
    pub const NO_SUCH_OBJECT: &str = "crossbar.error.no_such_object";
    /// Bad positional or keyword arguments.
    pub const INVALID_ARGUMENT: &str = "wamp.error.invalid_argument";
    /// An unexpected internal failure (the reference's generic callee error).
    pub const RUNTIME_ERROR: &str = "wamp.error.runtime_error";
    /// The procedure is not registered.
    pub const NO_SUCH_PROCEDURE: &str = "wamp.error.no_such_procedure";
    /// The role is not started (or is stopping).
    pub const NOT_STARTED: &str = "xbr.error.not_started";
    /// A chain transaction failed or was rejected.
    pub const CHAIN_ERROR: &str = "xbr.error.chain_error";
    /// A duplicate offer.
    pub const DUPLICATE_OFFER: &str = "xbr.error.duplicate_offer";
    /// A sale is unresolved on the channel (its seller's answer is not known yet); retry the same
    /// request later.
    pub const SALE_PENDING: &str = "xbr.error.sale_pending";
    /// Too many requests are in flight; retry later.
    pub const BUSY: &str = "xbr.error.busy";
    /// Prefix of the errors that are not a callee's answer (the call never reached a callee, or
    /// its outcome is unknown): `xbr.error.transport.<kind>`.
    pub const TRANSPORT: &str = "xbr.error.transport";
    /// The buyer does not buy from the offer's seller or API (not on its allow-list).
    pub const OFFER_NOT_ALLOWED: &str = "xbr.error.offer_not_allowed";

    // Authorization (issue 12).
    /// The caller may not do this (the maker's caller checks; the router's own refusals).
    pub const NOT_AUTHORIZED: &str = "wamp.error.not_authorized";
}

/// Where a party stands on a channel: its off-chain seq and remaining. Sent with a refusal (as
/// the ERROR's keyword arguments `channel_seq` and `remaining`) so the other party can re-sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelPosition {
    /// The last seq the party recorded.
    pub seq: u64,
    /// The off-chain remaining after that seq.
    pub remaining: U256,
}

/// An error with the WAMP error URI it is reported under and a human-readable message (sent as
/// the single positional argument of the WAMP ERROR, as the reference does).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{uri}: {message}")]
pub struct MarketError {
    /// The error URI, e.g. `xbr.error.invalid_signature`.
    pub uri: Cow<'static, str>,
    /// What went wrong.
    pub message: String,
    /// The refusing party's channel position, when the refusal is about seq or balance.
    pub position: Option<ChannelPosition>,
}

impl MarketError {
    /// An error under a static URI.
    pub fn new(uri: &'static str, message: impl Into<String>) -> Self {
        Self {
            uri: Cow::Borrowed(uri),
            message: message.into(),
            position: None,
        }
    }

    /// The same error telling the other party where this one stands on the channel.
    pub fn with_position(self, seq: u64, remaining: U256) -> Self {
        Self {
            position: Some(ChannelPosition { seq, remaining }),
            ..self
        }
    }

    /// An error under a URI received from a peer.
    pub fn from_uri(uri: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            uri: Cow::Owned(uri.into()),
            message: message.into(),
            position: None,
        }
    }

    /// `wamp.error.invalid_argument`.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(uri::INVALID_ARGUMENT, message)
    }

    /// `crossbar.error.no_such_object`.
    pub fn no_such_object(message: impl Into<String>) -> Self {
        Self::new(uri::NO_SUCH_OBJECT, message)
    }

    /// `wamp.error.runtime_error`.
    pub fn runtime(message: impl Into<String>) -> Self {
        Self::new(uri::RUNTIME_ERROR, message)
    }

    /// `xbr.error.transport.<kind>`: the call did not get a callee's answer.
    pub fn transport(kind: &str, message: impl Into<String>) -> Self {
        Self::from_uri(format!("{}.{kind}", uri::TRANSPORT), message)
    }

    /// True if this error has the given URI.
    pub fn is(&self, uri: &str) -> bool {
        self.uri == uri
    }

    /// True for a transport failure ([`Self::transport`]) rather than a callee's answer: the
    /// one place that reads the URI's structure, so callers test a kind, not a prefix.
    pub fn is_transport(&self) -> bool {
        self.uri
            .strip_prefix(uri::TRANSPORT)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    }

    /// True for an error the roles did not produce themselves: WAMP's own `wamp.error.*`
    /// (no such procedure, timeout, canceled …) or a transport failure.
    pub fn is_wamp_or_transport(&self) -> bool {
        self.uri.starts_with("wamp.error.") || self.is_transport()
    }
}

impl From<StoreError> for MarketError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => MarketError::new(uri::INVALID_TRANSACTION, m),
            StoreError::NotFound(what) => MarketError::no_such_object(format!("no such {what}")),
            other => MarketError::runtime(format!("store: {other}")),
        }
    }
}

/// Result alias for role operations.
pub type MarketResult<T> = Result<T, MarketError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_are_told_apart_from_answers() {
        let e = MarketError::transport("failed", "connection lost");
        assert_eq!(e.uri, "xbr.error.transport.failed");
        assert!(e.is_transport());
        assert!(!MarketError::new(uri::TRANSACTION_FAILED, "no").is_transport());
        assert!(!MarketError::from_uri("xbr.error.transportation", "no").is_transport());
    }
}

//! Failures by error URI: `xbrd_failures_total{operation, uri}`. Both labels are `&'static str`
//! taken from fixed lists, so nothing a caller sends becomes a label value: `operation` is a
//! procedure's short name (the maker's `xbr.marketmaker.*`, the seller's `sell` and
//! `close_channel`) or `event` (a data event the buyer did not decrypt); `uri` is one of
//! [`KNOWN_URIS`], `xbr.error.transport` for any transport failure, or `other`.

use prometheus_client::encoding::EncodeLabelSet;
use xbr_market::error::uri;

/// Labels of the failure counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// What failed: a procedure's short name, or `event`.
    pub operation: &'static str,
    /// The error URI ([`uri_label`]).
    pub uri: &'static str,
}

/// The `operation` of a data event that was not decrypted.
pub const EVENT: &str = "event";

/// The `uri` of an error URI not in [`KNOWN_URIS`].
pub const OTHER: &str = "other";

/// The error URIs kept as label values: the market's own (spec §2-§3A) and WAMP's predefined
/// ones (WAMP spec, "Predefined URIs", plus Crossbar.io's usual ones).
pub const KNOWN_URIS: &[&str] = &[
    uri::UNEXPECTED_MARKETMAKER_ADR,
    uri::UNEXPECTED_DELEGATE_ADR,
    uri::UNEXPECTED_CHANNEL_OID,
    uri::UNEXPECTED_CHANNEL_SEQ,
    uri::UNEXPECTED_CHANNEL_BALANCE,
    uri::INVALID_SIGNATURE,
    uri::MAX_PRICE_EXCEEDED,
    uri::INSUFFICIENT_BALANCE,
    uri::CHANNEL_CLOSED,
    uri::INVALID_TRANSACTION,
    uri::DECRYPTION_FAILED,
    uri::DESERIALIZATION_FAILED,
    uri::INSUFFICIENT_AMOUNT,
    uri::INSUFFICIENT_PAYMENT_BALANCE,
    uri::INSUFFICIENT_PAYING_BALANCE,
    uri::TRANSACTION_FAILED,
    uri::OFFER_EXPIRED,
    uri::INVALID_CHANNEL,
    uri::CHANNEL_NOT_OPEN,
    uri::NO_SUCH_OBJECT,
    uri::NOT_STARTED,
    uri::CHAIN_ERROR,
    uri::DUPLICATE_OFFER,
    uri::SALE_PENDING,
    uri::BUSY,
    uri::OFFER_NOT_ALLOWED,
    uri::TRANSPORT,
    "wamp.error.invalid_uri",
    "wamp.error.no_such_procedure",
    "wamp.error.procedure_already_exists",
    "wamp.error.no_such_registration",
    "wamp.error.no_such_subscription",
    "wamp.error.invalid_argument",
    "wamp.error.invalid_payload",
    "wamp.error.runtime_error",
    "wamp.error.system_shutdown",
    "wamp.error.not_authorized",
    "wamp.error.authorization_failed",
    "wamp.error.no_such_realm",
    "wamp.error.no_such_role",
    "wamp.error.canceled",
    "wamp.error.timeout",
    "wamp.error.unavailable",
    "wamp.error.no_eligible_callee",
    "wamp.error.option_not_allowed",
    "wamp.error.network_failure",
    "wamp.error.payload_size_exceeded",
    "wamp.error.protocol_violation",
];

/// The label value of an error URI: itself when known, `xbr.error.transport` for any
/// `xbr.error.transport.<kind>`, else [`OTHER`].
pub fn uri_label(error: &xbr_market::MarketError) -> &'static str {
    if error.is_transport() {
        return uri::TRANSPORT;
    }
    KNOWN_URIS
        .iter()
        .find(|known| error.is(known))
        .copied()
        .unwrap_or(OTHER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use xbr_market::MarketError;

    #[test]
    fn known_uris_are_kept_and_anything_else_is_other() {
        for known in KNOWN_URIS {
            assert_eq!(uri_label(&MarketError::from_uri(*known, "x")), *known);
        }
        let transport = MarketError::transport("lost", "connection lost");
        assert_eq!(uri_label(&transport), "xbr.error.transport");
        for chosen in [
            "com.example.error.whatever",
            "xbr.error.busy.",
            "wamp.error.",
            "",
            "xbr.error.transportation",
        ] {
            assert_eq!(uri_label(&MarketError::from_uri(chosen, "x")), OTHER);
        }
    }
}

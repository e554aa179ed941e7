//! Conversion between WAMP payloads ([`Value`] positional args and keyword dicts) and the typed
//! requests and results of the market procedures, in the exact order and types of the
//! reference (spec §2.4, §2.5, §3.3, §3A.2).
//!
//! One module per request family; every message implements [`WireMessage`]:
//!
//! | module | messages |
//! |---|---|
//! | [`fields`] | the shared readers/writers, [`Args`], [`Fields`], the field [`Codec`]s |
//! | [`offers`] | `place_offer`, the offer dict, `query_offers` |
//! | [`buy`] | `get_quote`, `buy_key` and its receipt |
//! | [`sell`] | the seller's `sell` and its receipt |
//! | [`channels`] | `open_channel`, the channel dict, balances |
//! | [`close`] | the maker's and the seller's `close_channel` |
//! | [`config`] | `get_config`, `get_status`, `status` |
//!
//! Readers are tolerant where the reference is: amounts are accepted as 32-byte big-endian
//! strings, as integers of any size (u64, u128, tag-2 bignums) and as the integer `0` / empty
//! bytes. Everything else that does not fit is rejected with `wamp.error.invalid_argument`,
//! naming the argument; nothing panics.

use wamp_proto::{Dict, Value};

use crate::error::MarketResult;

pub mod buy;
pub mod channels;
pub mod close;
pub mod config;
pub mod fields;
pub mod offers;
pub mod sell;

pub use buy::{BuyKeyRequest, BuyReceipt, Quote};
pub use channels::{Balance, ChannelInfo, OpenChannelRequest, channel_to_value};
pub use close::{
    CloseChannelRequest, CloseChannelResult, ProviderCloseReceipt, ProviderCloseRequest,
};
pub use config::{MakerConfigInfo, MakerStatus, RunningStatus};
pub use fields::{
    Addr, Amount, AmountInt, AmountOrZero, Args, Bytes, Codec, Fields, Flag, FlagOrFalse, Id, Int,
    IntOrZero, OptAddr, OptBytes, OptId, RawBytes, Seq, Sig, read_address, read_bytes_n, read_id,
    read_seq, read_sig, read_u64, read_u256, v_bytes, v_u256_bytes, v_u256_int, v_u256_or_zero,
};
pub(crate) use fields::{args_payload, dict_message, dict_payload, positional_message};
use fields::{opt, read_categories, read_str, v_categories, v_opt_bytes, v_opt_u64};
pub use offers::{PlaceOfferRequest, offer_from_value, offer_query_from_call, offer_to_value};
pub use sell::{SellReceipt, SellRequest};

/// A positional-args + kwargs pair, as sent in a CALL or returned in a RESULT.
pub type Payload = (Vec<Value>, Dict);

/// A message of the market protocol as a WAMP payload: a request is its positional args (and
/// kwargs), a result or event is one dict as the single positional argument.
pub trait WireMessage: Sized {
    /// The payload to send.
    fn to_payload(&self) -> Payload;
    /// Parses a received payload (`wamp.error.invalid_argument` naming the bad argument).
    fn from_payload(args: &[Value], kwargs: &Dict) -> MarketResult<Self>;
}

/// A payload of one positional argument: a single-value result, or a one-argument call.
pub fn result1(v: Value) -> Payload {
    (vec![v], Dict::new())
}

/// The first positional result (Null if none).
pub fn first(p: &Payload) -> &Value {
    static NULL: Value = Value::Null;
    p.0.first().unwrap_or(&NULL)
}

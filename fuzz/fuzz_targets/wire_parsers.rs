//! Every parser of `xbr_market::wire` on arbitrary args and kwargs: must never panic, every
//! refusal is a `MarketError` under a proper URI, and whatever parses is written back by the
//! message's own writer into a payload that parses to the same message.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wamp_proto::{Dict, Value};
use xbr_market::MarketResult;
use xbr_market::wire::{
    self, Balance, BuyKeyRequest, BuyReceipt, ChannelInfo, CloseChannelRequest, CloseChannelResult,
    MakerConfigInfo, MakerStatus, OpenChannelRequest, PlaceOfferRequest, ProviderCloseReceipt,
    ProviderCloseRequest, Quote, SellReceipt, SellRequest, WireMessage,
};
use xbrd_fuzz::{ValueGen, assert_refusal_uri};

/// Checks one parse: a refusal has a proper URI; a message survives its writer and the parser.
fn check<T: std::fmt::Debug + PartialEq>(
    parsed: MarketResult<T>,
    write: impl Fn(&T) -> (Vec<Value>, Dict),
    parse: impl Fn(&[Value], &Dict) -> MarketResult<T>,
) {
    match parsed {
        Err(e) => assert_refusal_uri(&e),
        Ok(msg) => {
            let (args, kwargs) = write(&msg);
            let again = parse(&args, &kwargs).expect("a written message parses");
            assert_eq!(again, msg, "round trip through {args:?} {kwargs:?}");
        }
    }
}

/// [`check`] for a [`WireMessage`], through its typed payload and its generic one.
fn check_message<T: WireMessage + std::fmt::Debug + PartialEq>(
    parsed: MarketResult<T>,
    args: &[Value],
    kwargs: &Dict,
) {
    check(parsed, T::to_payload, T::from_payload);
    check(
        T::from_payload(args, kwargs),
        T::to_payload,
        T::from_payload,
    );
}

fn one(v: Value) -> (Vec<Value>, Dict) {
    wire::result1(v)
}

fn first(args: &[Value]) -> &Value {
    args.first().unwrap_or(&Value::Null)
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let mut g = ValueGen::new(&mut u, Vec::new());
    let (args, kwargs) = (g.args()?, g.kwargs()?);
    let (a, k, v) = (&args[..], &kwargs, first(&args));

    check_message(BuyKeyRequest::from_args(a), a, k);
    check_message(SellRequest::from_args(a), a, k);
    check_message(CloseChannelRequest::from_args(a), a, k);
    check_message(ProviderCloseRequest::from_args(a), a, k);
    check_message(PlaceOfferRequest::from_call(a, k), a, k);
    check_message(BuyReceipt::from_value(v), a, k);
    check_message(SellReceipt::from_value(v), a, k);
    check_message(Quote::from_value(v), a, k);
    check_message(Balance::from_value(v), a, k);
    check_message(CloseChannelResult::from_value(v), a, k);
    check_message(ProviderCloseReceipt::from_value(v), a, k);
    check_message(wire::offer_from_value(v), a, k);
    check(
        OpenChannelRequest::from_args(a),
        |r| (r.to_args(), Dict::new()),
        |a, _| OpenChannelRequest::from_args(a),
    );
    check(
        MakerConfigInfo::from_value(v),
        |c| one(c.to_value()),
        |a, _| MakerConfigInfo::from_value(first(a)),
    );
    check(
        MakerStatus::from_value(v),
        |s| one(s.to_value()),
        |a, _| MakerStatus::from_value(first(a)),
    );
    // Read-only parsers (the maker never writes these back).
    if let Err(e) = ChannelInfo::from_value(v) {
        assert_refusal_uri(&e);
    }
    if let Err(e) = wire::offer_query_from_call(a, k) {
        assert_refusal_uri(&e);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

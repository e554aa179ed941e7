//! Calls the market maker's procedures with arbitrary args and kwargs: must never panic, and
//! every refusal is a `MarketError` under a proper URI. Each input gets a fresh maker on the
//! in-memory store (a buyer's payment channel, a seller's paying channel, an offer) on a chain
//! stub, and makes up to four calls on it: arbitrary values for any procedure, or a `buy_key`
//! that continues the stored payment channel with some fields changed (re-signed or not),
//! against a seller scripted from the input.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wamp_proto::{Dict, Value};
use xbr_market::error::{MarketError, uri};
use xbr_market::maker::Procedure;
use xbr_market::maker::testing::{Fixture, SellerScript};
use xbr_market::types::{ChannelId, KeyId, U256};
use xbrd_fuzz::{ValueGen, assert_refusal_uri, runtime};

/// A `buy_key` continuing the stored payment channel, with fields changed as the input says.
fn buy_request(f: &Fixture, g: &mut ValueGen) -> Result<Vec<Value>> {
    let mut req = f.request();
    for _ in 0..g.u.int_in_range(0..=3)? {
        match g.u.int_in_range(0..=6)? {
            0 => req.channel_seq = req.channel_seq.wrapping_add(g.u.int_in_range(0..=3)?),
            1 => req.channel_seq = g.u.arbitrary()?,
            2 => req.amount = U256::from(g.u.arbitrary::<u64>()?),
            3 => {
                req.balance = req
                    .balance
                    .wrapping_sub(U256::from(g.u.int_in_range(0..=2u8)?))
            }
            4 => req.key_id = KeyId(g.u.arbitrary()?),
            5 => req.channel_oid = ChannelId(g.u.arbitrary()?),
            _ => req.buyer_pubkey = g.u.arbitrary()?,
        }
    }
    // Only a seq of 32 bits can be signed (EIP712ChannelClose's uint32).
    if g.u.arbitrary()? && u32::try_from(req.channel_seq).is_ok() {
        Fixture::resign(&mut req);
    }
    Ok(req.to_args())
}

fn script(u: &mut Unstructured) -> Result<SellerScript> {
    let busy = MarketError::new(uri::BUSY, "busy");
    Ok(match u.int_in_range(0..=4)? {
        0 => SellerScript::WrongSigner,
        1 => SellerScript::WrongKey,
        2 => SellerScript::Fail(busy),
        3 => SellerScript::RecordThenFail(MarketError::transport("lost", "reply lost")),
        _ => SellerScript::Honest,
    })
}

async fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let f = Fixture::on_quiet_chain(1000, 1000, u.int_in_range(0..=20)?).await;
    for _ in 0..4 {
        if u.is_empty() {
            break;
        }
        *f.seller.script.lock().unwrap() = script(&mut u)?;
        let p = *u.choose(Procedure::ALL)?;
        let mut g = ValueGen::new(&mut u, Vec::new());
        let (args, kwargs) = if p == Procedure::BuyKey && g.u.arbitrary()? {
            (buy_request(&f, &mut g)?, Dict::new())
        } else {
            (g.args()?, g.kwargs()?)
        };
        if let Err(e) = f.maker.dispatch(p, &args, &kwargs, 1).await {
            assert_refusal_uri(&e);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = runtime().block_on(run(data));
});

//! Calls the market maker's procedures with arbitrary args and kwargs: must never panic, and
//! every refusal is a `MarketError` under a proper URI. Each input gets a fresh maker on the
//! in-memory store (a buyer's payment channel, a seller's paying channel, an offer), either
//! trusting its callers on a chain stub or checking them (`CallerPolicy::Authenticated`), and
//! makes up to four calls on it, each from a caller the input picks (a member, the operator, an
//! undisclosed session, or any authid/authrole): arbitrary values for any procedure, or a typed
//! request built around the fixture's state with fields changed (`buy_key` continuing the
//! payment channel, re-signed or not, against a seller scripted from the input; `close_channel`
//! of either channel signed by its delegate or another key; `place_offer`; `open_channel`
//! signed by its member).
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wamp_proto::{Dict, Value};
use xbr_core::eip712::sign_typed;
use xbr_market::error::{MarketError, uri};
use xbr_market::maker::testing::{
    BUYER_KEY, Fixture, KEY_ID, MAKER_KEY, MARKET, OTHER_KEY, PAYING, PAYMENT, SELLER_KEY,
    SellerScript, domain, key,
};
use xbr_market::maker::{CallerId, Procedure};
use xbr_market::peer::now_ns;
use xbr_market::sig::ChannelState;
use xbr_market::types::{ApiId, ChannelId, ChannelType, KeyId, MarketId, Signature, U256};
use xbr_market::wire::{CloseChannelRequest, OpenChannelRequest, PlaceOfferRequest};
use xbrd_fuzz::{ValueGen, address, assert_refusal_uri, pick, runtime};

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

/// A `close_channel` of one of the fixture's channels (or another), at its position or near it,
/// signed by its delegate, another key, or not at all.
fn close_request(f: &Fixture, g: &mut ValueGen) -> Result<Vec<Value>> {
    let (channel_oid, delegate) = match g.u.int_in_range(0..=2)? {
        0 => (PAYMENT, BUYER_KEY),
        1 => (PAYING, SELLER_KEY),
        _ => (ChannelId(g.u.arbitrary()?), OTHER_KEY),
    };
    let (seq, remaining) = f
        .store
        .channel(&channel_oid)
        .ok()
        .flatten()
        .map_or((0, U256::ZERO), |c| (c.seq, c.remaining));
    let seq = pick(g, &[seq, seq + 1], |g| {
        g.u.arbitrary::<u32>().map(u64::from)
    })?;
    let balance = pick(
        g,
        &[remaining, remaining.saturating_sub(U256::from(1))],
        |g| Ok(U256::from(g.u.arbitrary::<u64>()?)),
    )?;
    let close_at = pick(g, &[0, 1, 100], |g| g.u.arbitrary())?;
    let dom = domain();
    let chain_id = pick(g, &[dom.chain_id], |g| g.u.arbitrary())?;
    let state = ChannelState {
        close_at,
        market_oid: MARKET,
        channel_oid,
        seq,
        balance,
        is_final: g.u.arbitrary()?,
    };
    let signer = pick(g, &[delegate], |_| Ok(OTHER_KEY))?;
    let signature = match dom.sign(&key(signer), &state) {
        Ok(s) if g.u.ratio(7, 8)? => s,
        _ => Signature(g.u.arbitrary()?),
    };
    let req = CloseChannelRequest {
        channel_oid,
        verifying_chain_id: chain_id,
        current_block_number: close_at,
        verifying_contract: dom.verifying_contract,
        closing_balance: balance,
        closing_seq: seq,
        closing_is_final: state.is_final,
        delegate_signature: signature,
    };
    Ok(req.to_args())
}

/// A `place_offer` of the fixture's key or another, by either delegate or anyone.
fn offer_request(g: &mut ValueGen) -> Result<(Vec<Value>, Dict)> {
    let seller = key(SELLER_KEY);
    let delegates = [seller.address(), key(BUYER_KEY).address()];
    let some = |g: &mut ValueGen| -> Result<Option<u64>> {
        Ok(match g.u.arbitrary()? {
            true => Some(g.u.arbitrary()?),
            false => None,
        })
    };
    let req = PlaceOfferRequest {
        key_id: pick(g, &[KEY_ID], |g| Ok(KeyId(g.u.arbitrary()?)))?,
        api_id: pick(g, &[ApiId([0x62; 16])], |g| Ok(ApiId(g.u.arbitrary()?)))?,
        uri: pick(g, &["io.crossbar.example"], |_| Ok(""))?.to_string(),
        valid_from: pick(g, &[now_ns()], |g| g.u.arbitrary())?,
        delegate: pick(g, &delegates, address)?,
        signature: Signature(g.u.arbitrary()?),
        price: some(g)?.map(U256::from),
        categories: None,
        expires: some(g)?,
        copies: some(g)?,
        provider_id: match g.u.int_in_range(0..=2)? {
            0 => Some(seller.provider_id()),
            1 => Some(g.u.arbitrary()?),
            _ => None,
        },
    };
    Ok(req.to_call())
}

/// An `open_channel` for this market, signed by its member (or not), fields changed.
fn open_request(g: &mut ValueGen) -> Result<Vec<Value>> {
    let dom = domain();
    let member = key(pick(g, &[OTHER_KEY, BUYER_KEY], |_| Ok(SELLER_KEY))?);
    let ty = pick(g, &[ChannelType::Payment, ChannelType::Paying], |_| {
        Ok(ChannelType::Payment)
    })?;
    let mut req = OpenChannelRequest {
        member: member.address(),
        market_oid: pick(g, &[MARKET], |g| Ok(MarketId(g.u.arbitrary()?)))?,
        channel_oid: ChannelId(g.u.arbitrary()?),
        verifying_chain_id: pick(g, &[dom.chain_id], |g| g.u.arbitrary())?,
        current_block_number: g.u.arbitrary()?,
        verifying_contract: dom.verifying_contract,
        channel_type: ty,
        delegate: key(BUYER_KEY).address(),
        marketmaker: pick(g, &[key(MAKER_KEY).address()], address)?,
        recipient: key(OTHER_KEY).address(),
        amount: U256::from(g.u.arbitrary::<u64>()?),
        signature: Signature([0; 65]),
    };
    let msg = req.open_message();
    req.signature = match g.u.ratio(7, 8)? {
        true => sign_typed(&member, &msg),
        false => Signature(g.u.arbitrary()?),
    };
    Ok(req.to_args())
}

/// The caller as the router would disclose it.
fn caller(g: &mut ValueGen) -> Result<CallerId> {
    let session = g.u.arbitrary()?;
    Ok(match g.u.int_in_range(0..=4)? {
        0 => {
            let who = g.u.choose(&[SELLER_KEY, BUYER_KEY, OTHER_KEY, MAKER_KEY])?;
            CallerId::member(session, key(who).address())
        }
        1 => CallerId::member(session, address(g)?),
        2 => CallerId::operator(session),
        3 => CallerId::from(session),
        _ => CallerId {
            session,
            authid: g.u.arbitrary()?,
            authrole: g.u.arbitrary()?,
        },
    })
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
    let price = u.int_in_range(0..=20)?;
    let f = match u.arbitrary()? {
        true => Fixture::checked(1000, 1000, price).await,
        false => Fixture::on_quiet_chain(1000, 1000, price).await,
    };
    for _ in 0..4 {
        if u.is_empty() {
            break;
        }
        *f.seller.script.lock().unwrap() = script(&mut u)?;
        let p = *u.choose(Procedure::ALL)?;
        let mut g = ValueGen::new(&mut u, Vec::new());
        let typed = g.u.arbitrary::<bool>()?;
        let (args, kwargs) = match p {
            Procedure::BuyKey if typed => (buy_request(&f, &mut g)?, Dict::new()),
            Procedure::CloseChannel if typed => (close_request(&f, &mut g)?, Dict::new()),
            Procedure::PlaceOffer if typed => offer_request(&mut g)?,
            Procedure::OpenChannel if typed => (open_request(&mut g)?, Dict::new()),
            _ => (g.args()?, g.kwargs()?),
        };
        let caller = caller(&mut g)?;
        if let Err(e) = f.maker.dispatch(p, &args, &kwargs, caller).await {
            assert_refusal_uri(&e);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = runtime().block_on(run(data));
});

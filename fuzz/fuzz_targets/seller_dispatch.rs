//! Calls the seller's `sell` and `close_channel` (through `Seller::dispatch`, as the router's
//! INVOCATION would) with arbitrary args: must never panic, and every refusal is a
//! `MarketError` under a proper URI. One started seller per process (its key series, its
//! paying channel mirrored by an in-process maker); each input makes up to four calls: arbitrary
//! values, or a request built around the seller's current position with fields changed, signed
//! by the maker's key or not. Sales that pass every check are recorded, so the channel moves on
//! from input to input as it would in a long-running seller.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::arbitrary::Result;
use libfuzzer_sys::fuzz_target;
use wamp_proto::Value;
use xbr_core::at_rest::Kek;
use xbr_core::keyseries::RotationPolicy;
use xbr_market::local::LocalBus;
use xbr_market::maker::testing::{Fixture, MAKER_KEY, SELLER_KEY, domain, key};
use xbr_market::peer::{MakerClient, ProviderProcedure};
use xbr_market::sig::{self, ChannelState, OFF_CHAIN_CLOSE_AT};
use xbr_market::store::{MemoryStore, SellerStore};
use xbr_market::types::{ApiId, ChannelId, KeyId, Signature, U256};
use xbr_market::wire::{ProviderCloseRequest, SellRequest};
use xbr_market::{ApiSpec, Seller, SellerConfig};
use xbrd_fuzz::{ValueGen, address, assert_refusal_uri, pick, runtime};

/// The price of the seller's API.
const PRICE: u64 = 35;

struct SellerFixture {
    seller: Seller,
    key_id: KeyId,
}

async fn setup() -> SellerFixture {
    // The maker fixture mirrors a paying channel of the seller's key (SELLER_KEY).
    let maker = Fixture::new(1000, u64::MAX, PRICE).await;
    let bus = LocalBus::new();
    bus.register_maker(maker.shared_maker());
    let mut cfg = SellerConfig::new(
        key(MAKER_KEY).address(),
        key(SELLER_KEY),
        Kek::from_bytes([7; 32]),
    );
    cfg.offer_retry_delay = Duration::from_millis(1);
    let store: Arc<dyn SellerStore> = Arc::new(MemoryStore::new());
    let seller = Seller::new(cfg, store, MakerClient::new(bus.clone()), bus.clone());
    seller
        .add(ApiSpec {
            api_id: ApiId([0x62; 16]),
            prefix: "io.crossbar.example".into(),
            price: U256::from(PRICE),
            policy: RotationPolicy::Count(u64::MAX),
            categories: None,
        })
        .expect("api added");
    seller.start().await.expect("seller started");
    let key_id = seller.api_keys()[0].current_key_id.expect("a current key");
    SellerFixture { seller, key_id }
}

/// The maker's signature of `state` (when it can be signed: a seq fits 32 bits), or 65 bytes
/// from the input.
fn maker_signature(g: &mut ValueGen, state: &ChannelState) -> Result<Signature> {
    let signed = match g.u.ratio(3, 4)? {
        true => domain().sign(&key(MAKER_KEY), state).ok(),
        false => None,
    };
    match signed {
        Some(s) => Ok(s),
        None => Ok(Signature(g.u.arbitrary()?)),
    }
}

/// A `sell` around the seller's position: the next seq at the price, or something near it.
fn sell_request(fx: &SellerFixture, g: &mut ValueGen) -> Result<Vec<Value>> {
    let ch = fx.seller.channel().expect("started");
    let maker = key(MAKER_KEY).address();
    let price = U256::from(PRICE);
    let market_maker_adr = pick(g, &[maker], address)?;
    let key_id = pick(g, &[fx.key_id], |g| Ok(KeyId(g.u.arbitrary()?)))?;
    let channel_oid = pick(g, &[ch.channel_oid], |g| Ok(ChannelId(g.u.arbitrary()?)))?;
    let seqs = [ch.seq + 1, ch.seq, ch.seq.saturating_sub(1), ch.seq + 2];
    let channel_seq = pick(g, &seqs, |g| g.u.arbitrary())?;
    let amounts = [price, price - U256::from(1), U256::ZERO];
    let amount = pick(g, &amounts, |g| {
        Ok(price + U256::from(g.u.arbitrary::<u8>()?))
    })?;
    let continued = ch.balance.checked_sub(amount).unwrap_or_default();
    let balance = pick(g, &[continued], |g| Ok(U256::from(g.u.arbitrary::<u64>()?)))?;
    let state = sig::off_chain(ch.market_oid, channel_oid, channel_seq, balance);
    let req = SellRequest {
        key_id,
        buyer_pubkey: g.u.arbitrary()?,
        channel_oid,
        channel_seq,
        amount,
        balance,
        signature: maker_signature(g, &state)?,
        market_maker_adr,
    };
    Ok(req.to_args())
}

/// A `close_channel` of the seller's position, or something near it.
fn close_request(fx: &SellerFixture, g: &mut ValueGen) -> Result<Vec<Value>> {
    let ch = fx.seller.channel().expect("started");
    let maker = key(MAKER_KEY).address();
    let market_maker_adr = pick(g, &[maker], address)?;
    let channel_oid = pick(g, &[ch.channel_oid], |g| Ok(ChannelId(g.u.arbitrary()?)))?;
    let seq = pick(g, &[ch.seq, ch.seq + 1], |g| g.u.arbitrary())?;
    let balance = pick(g, &[ch.balance], |g| {
        Ok(U256::from(g.u.arbitrary::<u64>()?))
    })?;
    let close_at = pick(g, &[OFF_CHAIN_CLOSE_AT, 100], |g| g.u.arbitrary())?;
    let is_final = g.u.arbitrary()?;
    let state = ChannelState {
        close_at,
        market_oid: ch.market_oid,
        channel_oid,
        seq,
        balance,
        is_final,
    };
    let req = ProviderCloseRequest {
        market_maker_adr,
        channel_oid,
        channel_seq: seq,
        channel_balance: balance,
        channel_is_final: is_final,
        marketmaker_signature: maker_signature(g, &state)?,
        close_at,
    };
    Ok(req.to_args())
}

async fn run(fx: &SellerFixture, data: &[u8]) -> Result<()> {
    let mut u = libfuzzer_sys::arbitrary::Unstructured::new(data);
    for _ in 0..4 {
        if u.is_empty() {
            break;
        }
        let mut g = ValueGen::new(&mut u, vec![fx.key_id.0.to_vec()]);
        let procedure = match g.u.arbitrary()? {
            true => ProviderProcedure::Sell,
            false => ProviderProcedure::CloseChannel,
        };
        let args = match (g.u.arbitrary()?, procedure) {
            (true, ProviderProcedure::Sell) => sell_request(fx, &mut g)?,
            (true, ProviderProcedure::CloseChannel) => close_request(fx, &mut g)?,
            (false, _) => g.args()?,
        };
        if let Err(e) = fx.seller.dispatch(procedure, &args).await {
            assert_refusal_uri(&e);
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    static FIXTURE: OnceLock<SellerFixture> = OnceLock::new();
    let fx = FIXTURE.get_or_init(|| runtime().block_on(setup()));
    let _ = runtime().block_on(run(fx, data));
});

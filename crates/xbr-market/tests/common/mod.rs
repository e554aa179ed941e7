//! Shared set-up of the in-process market: the spec §4.6 vector values (chain 5777, contract,
//! market and channel ids, the deterministic dev-chain keys).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use wamp_proto::Serializer;
use xbr_core::at_rest::Kek;
use xbr_core::eth::EthPrivateKey;
use xbr_core::keyseries::RotationPolicy;
use xbr_market::local::LocalBus;
use xbr_market::maker::ChainChannel;
use xbr_market::peer::{Caller, MakerClient, Publisher};
use xbr_market::sig::Domain;
use xbr_market::types::{Address, ChannelId, ChannelType, U256};
use xbr_market::{
    ApiSpec, Buyer, BuyerConfig, BuyerStore, MakerConfig, MakerStore, MarketMaker, MemoryStore,
    Seller, SellerConfig, SellerStore,
};

pub const CHAIN_ID: u64 = 5777;
pub const CONTRACT: &str = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550";
pub const MARKET: &str = "a1b8d6741ae8492017fafd8d4f8b67a2";
pub const PAYMENT: &str = "7a4d8b968f5f4e5f9f0e3d5c2b1a0f11";
pub const PAYING: &str = "0b3c1f0e6a614a0c8a5d2f7d0c9e1b22";
pub const API: &str = "627f1b5c58c243b18422a34f7d3f5a04";
pub const KEY2: &str = "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c";
pub const KEY4: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";
pub const KEY5: &str = "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd";
pub const KEY6: &str = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52";
pub const KEY7: &str = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a53";

pub fn hex16<T: From<[u8; 16]>>(s: &str) -> T {
    let raw: [u8; 16] = alloy_primitives::hex::decode(s)
        .unwrap()
        .try_into()
        .unwrap();
    T::from(raw)
}

pub fn hex(s: &str) -> Vec<u8> {
    alloy_primitives::hex::decode(s).unwrap()
}

pub fn key(s: &str) -> EthPrivateKey {
    EthPrivateKey::from_hex(s).unwrap()
}

pub fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

pub fn domain() -> Domain {
    Domain {
        chain_id: CHAIN_ID,
        verifying_contract: xbr_core::address::parse_address(CONTRACT).unwrap(),
    }
}

pub fn maker_config() -> MakerConfig {
    MakerConfig {
        key: key(KEY6),
        market_oid: hex16(MARKET),
        market_owner: key(KEY2).address(),
        domain: domain(),
        chain: CHAIN_ID,
        contracts: Default::default(),
        eula_url: "https://example.invalid/eula".into(),
        eula_hash: "QmEula".into(),
        callers: xbr_market::maker::CallerPolicy::Unchecked,
        max_channel_amount: xbr_market::types::U256::from(
            xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT,
        ),
        realm: None,
    }
}

pub fn payment_channel(oid: ChannelId, delegate: Address, amount: U256) -> ChainChannel {
    ChainChannel {
        channel_oid: oid,
        channel_type: ChannelType::Payment,
        market_oid: hex16(MARKET),
        open_at: 100,
        actor: key(KEY2).address(),
        delegate,
        marketmaker: key(KEY6).address(),
        recipient: key(KEY2).address(),
        amount,
        timeout: 0,
    }
}

pub fn paying_channel(oid: ChannelId, delegate: Address, amount: U256) -> ChainChannel {
    ChainChannel {
        channel_type: ChannelType::Paying,
        recipient: delegate,
        ..payment_channel(oid, delegate, amount)
    }
}

/// A market on one bus: maker with the §4.6 channels, a seller (count rotation) and a buyer.
pub struct Market {
    pub bus: Arc<LocalBus>,
    pub maker: Arc<MarketMaker>,
    pub maker_store: Arc<dyn MakerStore>,
    pub seller: Seller,
    pub seller_store: Arc<dyn SellerStore>,
    pub buyer: Buyer,
    pub buyer_store: Arc<dyn BuyerStore>,
    pub kek: [u8; 32],
}

pub fn kek(b: &[u8; 32]) -> Kek {
    Kek::from_bytes(*b)
}

pub fn seller_for(
    bus: &Arc<LocalBus>,
    store: Arc<dyn SellerStore>,
    kek_bytes: &[u8; 32],
    spec: ApiSpec,
) -> Seller {
    let mut cfg = SellerConfig::new(key(KEY6).address(), key(KEY4), kek(kek_bytes));
    cfg.offer_retry_delay = Duration::from_millis(10);
    let caller: Arc<dyn Caller> = bus.clone();
    let events: Arc<dyn Publisher> = bus.clone();
    let seller = Seller::new(cfg, store, MakerClient::new(caller), events);
    seller.add(spec).unwrap();
    seller
}

pub fn buyer_for(
    bus: &Arc<LocalBus>,
    store: Arc<dyn BuyerStore>,
    kek_bytes: &[u8; 32],
    buyer_key: &str,
    max_price: U256,
) -> Buyer {
    buyer_with_config(bus, store, buyer_config(kek_bytes, buyer_key, max_price))
}

/// The buyer config of [`buyer_for`] (buys from any seller and API).
pub fn buyer_config(kek_bytes: &[u8; 32], buyer_key: &str, max_price: U256) -> BuyerConfig {
    BuyerConfig {
        market_maker: key(KEY6).address(),
        key: key(buyer_key),
        max_price,
        kek: kek(kek_bytes),
        auto_close: true,
        allow: Default::default(),
    }
}

pub fn buyer_with_config(
    bus: &Arc<LocalBus>,
    store: Arc<dyn BuyerStore>,
    cfg: BuyerConfig,
) -> Buyer {
    let caller: Arc<dyn Caller> = bus.clone();
    Buyer::new(cfg, store, MakerClient::new(caller))
}

pub fn api_spec(price: U256, count: u64) -> ApiSpec {
    ApiSpec {
        api_id: hex16(API),
        prefix: "io.crossbar.example".into(),
        price,
        policy: RotationPolicy::Count(count),
        categories: None,
    }
}

/// Builds (not starts) the market; the maker mirrors a 500 XBR payment channel of the buyer
/// (key 5) and a 1000 XBR paying channel of the seller (key 4).
pub async fn market(bus: Arc<LocalBus>, price: U256, count: u64, payment_amount: U256) -> Market {
    let maker_store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let maker = Arc::new(MarketMaker::new(
        maker_config(),
        maker_store.clone(),
        bus.clone(),
        bus.clone(),
        None,
    ));
    maker
        .mirror_channel(&payment_channel(
            hex16(PAYMENT),
            key(KEY5).address(),
            payment_amount,
        ))
        .await
        .unwrap();
    maker
        .mirror_channel(&paying_channel(
            hex16(PAYING),
            key(KEY4).address(),
            xbr(1000),
        ))
        .await
        .unwrap();
    bus.register_maker(maker.clone());
    let kek = [7u8; 32];
    let seller_store: Arc<dyn SellerStore> = Arc::new(MemoryStore::new());
    let seller = seller_for(&bus, seller_store.clone(), &kek, api_spec(price, count));
    bus.register_seller(&seller);
    let buyer_store: Arc<dyn BuyerStore> = Arc::new(MemoryStore::new());
    let buyer = buyer_for(&bus, buyer_store.clone(), &kek, KEY5, xbr(100));
    Market {
        bus,
        maker,
        maker_store,
        seller,
        seller_store,
        buyer,
        buyer_store,
        kek,
    }
}

/// The maker's (seq, remaining, inflight) of a channel.
pub fn maker_view(store: &Arc<dyn MakerStore>, oid: &str) -> (u64, U256, U256) {
    let c = store.channel(&hex16(oid)).unwrap().unwrap();
    (c.seq, c.remaining, c.inflight)
}

/// [`market`] over a CBOR bus (keys of one payload each, 500 XBR to pay with), the seller started.
pub async fn started_market(price: U256) -> Market {
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        price,
        1,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m
}

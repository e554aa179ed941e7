//! The market end to end on the real peers: ganache with the XBR contracts (deployed and
//! bootstrapped by xbr-chain) and Crossbar.io; maker, seller and buyer as separate WAMP sessions
//! with SQLite stores. The seller and the buyer are restarted mid-stream.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use tokio::sync::mpsc;
use wamp_client::{PublishOptions, Session};
use wamp_proto::{Dict, Serializer, Value};
use xbr_chain::{ChannelState as ChainState, MarketDescription};
use xbr_core::at_rest::Kek;
use xbr_core::eip712::{EIP712ChannelOpen, sign_typed};
use xbr_core::keyseries::RotationPolicy;
use xbr_core::{ApiId, ChannelId, KeyId};
use xbr_market::adapter::event_args;
use xbr_market::adapter::session::{SessionPeer, register_maker, register_seller, subscribe_buyer};
use xbr_market::error::uri;
use xbr_market::peer::{Caller, Publisher};
use xbr_market::sig;
use xbr_market::types::{ChannelType, SaleStatus};
use xbr_market::wire::{BuyKeyRequest, OpenChannelRequest};
use xbr_market::{
    ApiSpec, Buyer, BuyerConfig, BuyerStore, MarketError, Seller, SellerConfig, SellerStore,
    SqliteStore,
};
use xbrd_testkit::{Crossbar, GANACHE_KEYS};

mod real_peers;
use real_peers::{ChainMarket, MARKET, Maker, key, maker_client, session, xbr};

const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
const PAYING: ChannelId = ChannelId([0xc1; 16]);
const API: ApiId = ApiId([0x62; 16]);
/// A second API whose keys cost more than the paying channel holds at the end.
const API2: ApiId = ApiId([0x63; 16]);
const TOPIC: &str = "io.crossbar.example.data";
/// The buyer's payment channel.
const PAYMENT_XBR: u64 = 2000;
/// The seller's paying channel: enough for the stream's keys at 35 XBR, not for a 300 XBR key.
const PAYING_XBR: u64 = 400;

fn description() -> MarketDescription {
    let json = serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": GANACHE_KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": GANACHE_KEYS[6], "xbr": xbr(5000).to_string() },
        "members": [
            { "key": GANACHE_KEYS[2], "actor": "provider", "xbr": xbr(1000).to_string() },
            { "key": GANACHE_KEYS[3], "actor": "consumer", "xbr": xbr(3000).to_string() }
        ],
        "channels": [
            { "channel_id": format!("0x{}", "b1".repeat(16)), "kind": "payment",
              "member": key(3).address(), "delegate": key(5).address(), "amount": xbr(PAYMENT_XBR).to_string() },
            { "channel_id": format!("0x{}", "c1".repeat(16)), "kind": "paying",
              "member": key(2).address(), "delegate": key(4).address(), "amount": xbr(PAYING_XBR).to_string() }
        ]
    });
    serde_json::from_value(json).unwrap()
}

fn payload(i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("data".into(), Value::from("xbrd-seller"));
    d.insert("counter".into(), Value::from(i));
    Value::Dict(d)
}

async fn start_seller(router: &Crossbar, store: Arc<dyn SellerStore>) -> (Session, Seller) {
    let s = session(router, Serializer::Cbor).await;
    let peer = Arc::new(SessionPeer::new(s.clone(), Some(Duration::from_secs(30))));
    let events: Arc<dyn Publisher> = peer.clone();
    let cfg = SellerConfig::new(key(6).address(), key(4), Kek::from_bytes([3; 32]));
    let seller = Seller::new(cfg, store, maker_client(&s), events);
    seller
        .add(ApiSpec {
            api_id: API,
            prefix: "io.crossbar.example".into(),
            price: xbr(35),
            policy: RotationPolicy::Count(5),
            categories: None,
        })
        .unwrap();
    seller
        .add(ApiSpec {
            api_id: API2,
            prefix: "io.crossbar.example".into(),
            price: xbr(300),
            policy: RotationPolicy::Count(100),
            categories: None,
        })
        .unwrap();
    register_seller(&s, &seller).await.unwrap();
    seller.start().await.unwrap();
    (s, seller)
}

async fn start_buyer(
    router: &Crossbar,
    serializer: Serializer,
    store: Arc<dyn BuyerStore>,
) -> (
    Session,
    Buyer,
    mpsc::UnboundedReceiver<Result<Value, MarketError>>,
) {
    let s = session(router, serializer).await;
    let cfg = BuyerConfig {
        market_maker: key(6).address(),
        key: key(5),
        max_price: xbr(100),
        kek: Kek::from_bytes([5; 32]),
        auto_close: true,
        allow: Default::default(),
    };
    let buyer = Buyer::new(cfg, store, maker_client(&s));
    buyer.start().await.unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    subscribe_buyer(
        &s,
        TOPIC,
        buyer.clone(),
        Arc::new(move |r| drop(tx.send(r))),
    )
    .await
    .unwrap();
    (s, buyer, rx)
}

async fn publish(s: &Session, seller: &Seller, i: u64) -> (Vec<u8>, &'static str, Vec<u8>, KeyId) {
    let (key_id, enc, ct) = seller.wrap(&API, TOPIC, &payload(i)).await.unwrap();
    s.publish(
        TOPIC,
        event_args(&key_id, enc, ct.clone()),
        Dict::new(),
        PublishOptions::acknowledged(),
    )
    .await
    .unwrap();
    (key_id.as_bytes().to_vec(), enc, ct, key_id)
}

async fn receive(
    rx: &mut mpsc::UnboundedReceiver<Result<Value, MarketError>>,
    n: usize,
) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < n {
        let r = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("event in time")
            .unwrap();
        got.push(r.unwrap());
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn market_on_crossbar_and_ganache_survives_restarts() {
    // Chain: deploy + bootstrap.
    let cm = ChainMarket::start(&description()).await;
    let (chain, market, domain) = (cm.chain.clone(), cm.market.clone(), cm.domain());
    let router = Crossbar::start();
    let dir = tempfile::tempdir().unwrap();

    // Market maker: its own session, SQLite store, channels mirrored from the chain.
    let Maker {
        session: maker_session,
        store: maker_store,
        maker,
    } = Maker::start(&router, &cm, &dir.path().join("maker.db")).await;
    // The bootstrap opened both channels directly on chain: the maker finds them in the
    // Opened logs; a second scan from where the first stopped finds nothing new.
    let scan = maker.scan_channels(0).await.unwrap();
    assert_eq!(scan.new, 2);
    let rescan = maker.scan_channels(0).await.unwrap();
    assert_eq!((rescan.new, rescan.next_block), (0, scan.next_block));
    assert_eq!(maker.scan_channels(scan.next_block).await.unwrap().new, 0);
    register_maker(&maker_session, maker.clone()).await.unwrap();

    // Seller (CBOR) and buyer (JSON: big integers travel as bare JSON integers).
    let seller_db = dir.path().join("seller.db");
    let buyer_db = dir.path().join("buyer.db");
    let (seller_session, seller) =
        start_seller(&router, Arc::new(SqliteStore::open(&seller_db).unwrap())).await;
    let (buyer_session, buyer, mut rx) = start_buyer(
        &router,
        Serializer::Json,
        Arc::new(SqliteStore::open(&buyer_db).unwrap()),
    )
    .await;

    let mut sent = Vec::new();
    for i in 0..15u64 {
        sent.push(publish(&seller_session, &seller, i).await);
    }
    let got = receive(&mut rx, 15).await;
    let mut counters: Vec<u64> = got
        .iter()
        .map(|v| v.as_dict().unwrap()["counter"].as_u64().unwrap())
        .collect();
    counters.sort();
    assert_eq!(counters, (0..15).collect::<Vec<_>>());

    // Restart the seller and the buyer (new sessions, new instances, same stores).
    seller.stop();
    seller_session.leave().await.unwrap();
    buyer_session.leave().await.unwrap();
    drop((seller, buyer, rx));
    let (seller_session, seller) =
        start_seller(&router, Arc::new(SqliteStore::open(&seller_db).unwrap())).await;
    let buyer_store: Arc<dyn BuyerStore> = Arc::new(SqliteStore::open(&buyer_db).unwrap());
    let (buyer_session, buyer, mut rx) =
        start_buyer(&router, Serializer::Cbor, buyer_store.clone()).await;
    let sales_before = maker_store.sales().unwrap().len();
    // Old events decrypt without buying again.
    for (i, (_, enc, ct, key_id)) in sent.iter().enumerate() {
        assert_eq!(
            buyer.unwrap(key_id, enc, ct).await.unwrap(),
            payload(i as u64)
        );
    }
    assert_eq!(maker_store.sales().unwrap().len(), sales_before);
    for i in 15..30u64 {
        sent.push(publish(&seller_session, &seller, i).await);
    }
    let got = receive(&mut rx, 15).await;
    assert_eq!(got.len(), 15);

    // ≥ 3 rotations, each key bought exactly once, every sale completed.
    let keys: BTreeSet<KeyId> = sent.iter().map(|e| e.3).collect();
    assert!(keys.len() >= 4, "{} keys", keys.len());
    let sales = maker_store.sales().unwrap();
    assert!(sales.iter().all(|s| s.status == SaleStatus::Completed));
    let sold: BTreeSet<KeyId> = sales.iter().map(|s| s.key_id).collect();
    assert_eq!(sold.len(), sales.len(), "no key bought twice");
    assert_eq!(sold, keys);
    let n = sales.len() as u64;

    // Balances: payment and paying fell by keys × price, seq advanced by the sales; the three
    // stores and the maker's answers over WAMP agree.
    let probe = session(&router, Serializer::Cbor).await;
    let client = maker_client(&probe);
    let payment = client
        .get_balance(ChannelType::Payment, &PAYMENT)
        .await
        .unwrap();
    let paying = client
        .get_balance(ChannelType::Paying, &PAYING)
        .await
        .unwrap();
    assert_eq!(
        (payment.seq, payment.remaining, payment.inflight),
        (
            1 + n,
            xbr(PAYMENT_XBR) - xbr(35) * U256::from(n),
            U256::ZERO
        )
    );
    assert_eq!(
        (paying.seq, paying.remaining, paying.inflight),
        (1 + n, xbr(PAYING_XBR) - xbr(35) * U256::from(n), U256::ZERO)
    );
    let b = buyer.channel().await.unwrap();
    assert_eq!((b.seq, b.balance), (payment.seq, payment.remaining));
    let s = seller.channel().unwrap();
    assert_eq!((s.seq, s.balance), (paying.seq, paying.remaining));
    let seller_store = SqliteStore::open(&seller_db).unwrap();
    assert_eq!(
        SellerStore::seller_sales(&seller_store).unwrap().len() as u64,
        n
    );
    assert_eq!(buyer_store.purchases().unwrap().len() as u64, n);
    let active = client
        .get_active_channel(ChannelType::Payment, &key(5).address())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.channel_oid, PAYMENT);

    // A second payment channel opened through the maker (ChannelOpen verified, openChannel sent).
    let block = chain.gateway().block_number().await.unwrap();
    // Less than one key's price: it serves the insufficient-balance rejection below.
    let amount = xbr(20);
    chain
        .approve_xbr(&key(3), chain.addresses().channel, amount)
        .await
        .unwrap();
    let second = ChannelId([0xb2; 16]);
    let open = EIP712ChannelOpen::new(
        domain.chain_id,
        domain.verifying_contract,
        1,
        block,
        MARKET,
        second,
        key(3).address(),
        key(5).address(),
        key(6).address(),
        market.owner,
        amount,
    );
    let req = OpenChannelRequest {
        member: key(3).address(),
        market_oid: MARKET,
        channel_oid: second,
        verifying_chain_id: domain.chain_id,
        current_block_number: block,
        verifying_contract: domain.verifying_contract,
        channel_type: ChannelType::Payment,
        delegate: key(5).address(),
        marketmaker: key(6).address(),
        recipient: market.owner,
        amount,
        signature: sign_typed(&key(3), &open),
    };
    let peer: Arc<dyn Caller> = Arc::new(SessionPeer::new(probe.clone(), None));
    peer.call("xbr.marketmaker.open_channel", req.to_args(), Dict::new())
        .await
        .unwrap();
    let on_chain = chain.channel(second).await.unwrap().unwrap();
    assert_eq!(
        (on_chain.amount, on_chain.state),
        (amount, ChainState::Open)
    );
    let mirrored = client
        .get_balance(ChannelType::Payment, &second)
        .await
        .unwrap();
    assert_eq!((mirrored.seq, mirrored.remaining), (1, amount));
    // Already mirrored from the receipt's Opened event: a log scan adds nothing.
    assert_eq!(maker.scan_channels(0).await.unwrap().new, 0);

    // Rejections through the router: each carries the reference URI and leaves every store and
    // the maker's view untouched.
    let view = async |ty, oid: ChannelId| {
        let bal = client.get_balance(ty, &oid).await.unwrap();
        (bal.seq, bal.remaining, bal.inflight)
    };
    let snapshot = async || {
        let b = buyer.channel().await.unwrap();
        let s = seller.channel().unwrap();
        (
            view(ChannelType::Payment, PAYMENT).await,
            view(ChannelType::Paying, PAYING).await,
            view(ChannelType::Payment, second).await,
            maker_store.sales().unwrap().len(),
            (b.seq, b.balance),
            (s.seq, s.balance),
        )
    };
    let before = snapshot().await;
    let offered = maker_store
        .query_offers(&Default::default())
        .unwrap()
        .last()
        .unwrap()
        .key_id;
    let (seq, remaining) = (payment.seq + 1, payment.remaining - xbr(35));
    let request = |channel: ChannelId, seq: u64, balance: U256, signer: usize, delegate: usize| {
        BuyKeyRequest {
            delegate: key(delegate).address(),
            buyer_pubkey: [1; 32],
            key_id: offered,
            channel_oid: channel,
            channel_seq: seq,
            amount: xbr(35),
            balance,
            signature: domain
                .sign(&key(signer), &sig::off_chain(MARKET, channel, seq, balance))
                .unwrap(),
        }
    };
    let rejected = async |req: BuyKeyRequest| client.buy_key(&req).await.unwrap_err().uri;
    assert_eq!(
        rejected(request(PAYMENT, seq, remaining, 4, 5)).await,
        uri::INVALID_SIGNATURE
    );
    assert_eq!(
        rejected(request(PAYMENT, seq + 1, remaining, 5, 5)).await,
        uri::UNEXPECTED_CHANNEL_SEQ
    );
    assert_eq!(
        rejected(request(PAYMENT, seq, remaining + U256::from(1u64), 5, 5)).await,
        uri::UNEXPECTED_CHANNEL_BALANCE
    );
    let mut unknown = request(PAYMENT, seq, remaining, 5, 5);
    unknown.key_id = KeyId([0xee; 16]);
    assert_eq!(rejected(unknown).await, uri::NO_SUCH_OBJECT);
    // The seller delegate spending the buyer's channel (validly signed by itself).
    assert_eq!(
        rejected(request(PAYMENT, seq, remaining, 4, 4)).await,
        uri::UNEXPECTED_DELEGATE_ADR
    );
    // 20 XBR cannot pay a 35 XBR key.
    assert_eq!(
        rejected(request(second, 2, U256::ZERO, 5, 5)).await,
        uri::INSUFFICIENT_PAYMENT_BALANCE
    );
    // A buyer whose max price is below the offer refuses before paying anything.
    let cheap = Buyer::new(
        BuyerConfig {
            market_maker: key(6).address(),
            key: key(5),
            max_price: xbr(10),
            kek: Kek::from_bytes([6; 32]),
            auto_close: false,
            allow: Default::default(),
        },
        Arc::new(xbr_market::MemoryStore::new()),
        maker_client(&probe),
    );
    cheap.start().await.unwrap();
    let (_, enc, ct, key_id) = sent.last().unwrap();
    assert_eq!(
        cheap.unwrap(key_id, enc, ct).await.unwrap_err().uri,
        uri::MAX_PRICE_EXCEEDED
    );
    assert_eq!(snapshot().await, before);

    // The buyer closes its payment channel: the maker verifies, counter-signs and the contract
    // accepts both signatures.
    // Past block 1441 the reference's fixed closeAt = 1 is refused on chain
    // (INVALID_CHANNEL_BLOCK_NUMBER); both closes below sign at the current block.
    chain.gateway().dev_mine(1500).await.unwrap();
    assert!(chain.gateway().block_number().await.unwrap() > 1441);

    // A key the seller's paying channel cannot earn: the maker closes the paying channel (the
    // seller counter-signs through its close_channel, closeChannel settles on chain) and refuses
    // the purchase; the payment channel is untouched.
    let (big_key, _, _) = seller.wrap(&API2, TOPIC, &payload(99)).await.unwrap();
    let paying_before = client
        .get_balance(ChannelType::Paying, &PAYING)
        .await
        .unwrap();
    assert!(paying_before.remaining < xbr(300));
    let payment_before = client
        .get_balance(ChannelType::Payment, &PAYMENT)
        .await
        .unwrap();
    let (seq, balance) = (payment_before.seq + 1, payment_before.remaining - xbr(300));
    let big = BuyKeyRequest {
        delegate: key(5).address(),
        buyer_pubkey: [1; 32],
        key_id: big_key,
        channel_oid: PAYMENT,
        channel_seq: seq,
        amount: xbr(300),
        balance,
        signature: domain
            .sign(&key(5), &sig::off_chain(MARKET, PAYMENT, seq, balance))
            .unwrap(),
    };
    assert_eq!(
        client.buy_key(&big).await.unwrap_err().uri,
        uri::INSUFFICIENT_PAYING_BALANCE
    );
    let paying_closed = chain.channel(PAYING).await.unwrap().unwrap();
    assert_eq!(paying_closed.state, ChainState::Closed);
    assert_eq!(
        (
            u64::from(paying_closed.closing.closing_seq),
            paying_closed.closing.closing_balance
        ),
        (paying_before.seq, paying_before.remaining)
    );
    let mirrored = maker_store.channel(&PAYING).unwrap().unwrap();
    assert_eq!(mirrored.state, xbr_market::types::ChannelState::Closed);
    assert!(mirrored.close.unwrap().closed_tx.is_some());
    let payment_after = client
        .get_balance(ChannelType::Payment, &PAYMENT)
        .await
        .unwrap();
    assert_eq!(
        (
            payment_after.seq,
            payment_after.remaining,
            payment_after.inflight
        ),
        (
            payment_before.seq,
            payment_before.remaining,
            payment_before.inflight
        )
    );

    let member_before = chain.xbr_balance(key(3).address()).await.unwrap();
    buyer.close_channel().await.unwrap();
    let closed = chain.channel(PAYMENT).await.unwrap().unwrap();
    // A final close settles at once. XBRChannel records the last state in closingSeq /
    // closingBalance (it never writes closedSeq / closedBalance) and refunds the remaining
    // balance to the member.
    let remaining = xbr(PAYMENT_XBR) - xbr(35) * U256::from(n);
    assert_eq!(closed.state, ChainState::Closed);
    assert_ne!(closed.closing.closed_at, U256::ZERO);
    assert_eq!(u64::from(closed.closing.closing_seq), 1 + n);
    assert_eq!(closed.closing.closing_balance, remaining);
    assert_eq!(
        chain.xbr_balance(key(3).address()).await.unwrap(),
        member_before + remaining
    );
    let mirrored = maker_store.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(mirrored.state, xbr_market::types::ChannelState::Closed);
    assert!(mirrored.close.unwrap().closed_tx.is_some());

    seller.stop();
    for s in [seller_session, buyer_session, probe, maker_session] {
        s.leave().await.unwrap();
    }
}

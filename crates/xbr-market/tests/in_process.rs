//! The three roles wired in process through the wire layer (every CALL and RESULT encoded and
//! decoded with the real CBOR serializer): the full buy flow, the reference's exact bytes, the
//! rejections, concurrency, retries, free keys and restarts.

mod common;

use std::sync::Arc;

use common::*;
use wamp_proto::{Dict, Message, Serializer, Value};
use xbr_market::error::uri;
use xbr_market::local::LocalBus;
use xbr_market::peer::{Caller, MakerClient};
use xbr_market::sig;
use xbr_market::types::{ChannelId, KeyId, SaleStatus, U256};
use xbr_market::wire::{BuyKeyRequest, SellReceipt, SellRequest};
use xbr_market::{BuyerStore, SellerStore, SqliteStore};

const SPEC_BUY_KEY_CALL: &str = "85183007a0777862722e6d61726b65746d616b65722e6275795f6b6579885495ced938f7991cd0dfcb48f0a06a40fa1af46ebc58201c393a37ff89a7ebb500762967ef754743ef996b12dcc09fd3b2ed658beb5f6f5001517e598fd31204c91c86af4be20895507a4d8b968f5f4e5f9f0e3d5c2b1a0f11025820000000000000000000000000000000000000000000000001e5b8fa8fe2ac00005820000000000000000000000000000000000000000000000019352bdc530ca400005841acc461538ede34693bfcec7ab034644b08dd84e3c4cec46924d3f947ee0018f709220e01549c0f3e8ccfc15e0bae6c0866ed32ffa223d8991cef06845c6af2961c";
const SPEC_SELL_RESULT: &str = "84183208a081a8666b65795f69645001517e598fd31204c91c86af4be208956864656c656761746554d03ea8624c8c5987235048901fb614fdca89b1176c62757965725f7075626b657958201c393a37ff89a7ebb500762967ef754743ef996b12dcc09fd3b2ed658beb5f6f6a7365616c65645f6b657958507ac2402579d780aefe129d96c58f7cf53081de05ad0595109891f8a029e28a7fa63653b2137cb135fbfe5d02c866dec275172747ac8286735f13d8f69fe6cb58b3536a7c53563b3d292d63fb9b01548a6b6368616e6e656c5f7365710266616d6f756e74c24901e5b8fa8fe2ac00006762616c616e6365c249345010b335fbf40000697369676e617475726558419c7c994a3ae008d18bdd210f710f6a7bbaa9b5063c65ae91c3278f27287e5f486383a86a449fa6c6356d4f7f4a9815ab74d1081debcfb1ab86894e16fb6433241c";
const XBRSIG1: &str = "acc461538ede34693bfcec7ab034644b08dd84e3c4cec46924d3f947ee0018f709220e01549c0f3e8ccfc15e0bae6c0866ed32ffa223d8991cef06845c6af2961c";
const XBRSIG3: &str = "4db23982b6c926c10c1dedd07ecd013c553d33fabd642fb583de54564f6c227120382411d407b2d6b5d9ab154550ff6bbb901e96a1124b8b1f3863d7d184cf471c";
const XBRSIG5: &str = "9c7c994a3ae008d18bdd210f710f6a7bbaa9b5063c65ae91c3278f27287e5f486383a86a449fa6c6356d4f7f4a9815ab74d1081debcfb1ab86894e16fb6433241c";
const XBRSIG7: &str = "63ba939b268d3d6c25473dd9ccf48fb375bfd3382ca414e663848ea934961cad5ec77146fb3e607fb46a40e3c2659013e4d45c8aceeff9c0968f2ded8af9d4de1c";

fn payload(i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("data".into(), Value::from("py-seller"));
    d.insert("counter".into(), Value::from(i));
    Value::Dict(d)
}

#[test]
fn buy_key_call_and_sell_result_encode_to_the_reference_bytes() {
    let d = domain();
    let buyer_pubkey: [u8; 32] =
        hex("1c393a37ff89a7ebb500762967ef754743ef996b12dcc09fd3b2ed658beb5f6f")
            .try_into()
            .unwrap();
    let key_id = hex16("01517e598fd31204c91c86af4be20895");
    let sig1 = d
        .sign(
            &key(KEY5),
            &sig::off_chain(hex16(MARKET), hex16(PAYMENT), 2, xbr(465)),
        )
        .unwrap();
    assert_eq!(sig1.to_vec(), hex(XBRSIG1));
    let req = BuyKeyRequest {
        delegate: key(KEY5).address(),
        buyer_pubkey,
        key_id,
        channel_oid: hex16(PAYMENT),
        channel_seq: 2,
        amount: xbr(35),
        balance: xbr(465),
        signature: sig1,
    };
    let call = Message::Call {
        request: 7,
        options: Dict::new(),
        procedure: "xbr.marketmaker.buy_key".into(),
        args: req.to_args(),
        kwargs: Dict::new(),
    };
    assert_eq!(
        Serializer::Cbor.encode(&call).unwrap(),
        hex(SPEC_BUY_KEY_CALL)
    );
    // And back: the decoded CALL parses to the same typed request.
    let Message::Call { args, .. } = Serializer::Cbor.decode(&hex(SPEC_BUY_KEY_CALL)).unwrap()
    else {
        panic!()
    };
    assert_eq!(BuyKeyRequest::from_args(&args).unwrap(), req);

    let state = sig::off_chain(hex16(MARKET), hex16(PAYING), 2, xbr(965));
    assert_eq!(d.sign(&key(KEY6), &state).unwrap().to_vec(), hex(XBRSIG3));
    let receipt = SellReceipt {
        key_id,
        delegate: key(KEY4).address(),
        buyer_pubkey,
        sealed_key: hex(
            "7ac2402579d780aefe129d96c58f7cf53081de05ad0595109891f8a029e28a7fa63653b2137cb135fbfe5d02c866dec275172747ac8286735f13d8f69fe6cb58b3536a7c53563b3d292d63fb9b01548a",
        ),
        channel_seq: 2,
        amount: xbr(35),
        balance: xbr(965),
        signature: d.sign(&key(KEY4), &state).unwrap(),
    };
    let result = Message::Result {
        request: 8,
        details: Dict::new(),
        args: vec![receipt.to_value()],
        kwargs: Dict::new(),
    };
    assert_eq!(
        Serializer::Cbor.encode(&result).unwrap(),
        hex(SPEC_SELL_RESULT)
    );
    let Message::Result { args, .. } = Serializer::Cbor.decode(&hex(SPEC_SELL_RESULT)).unwrap()
    else {
        panic!()
    };
    assert_eq!(SellReceipt::from_value(&args[0]).unwrap(), receipt);
}

async fn full_flow(serializer: Serializer) {
    let m = market(LocalBus::with_serializer(serializer), xbr(35), 10, xbr(500)).await;
    assert_eq!(m.seller.start().await.unwrap(), xbr(1000));
    assert_eq!(m.buyer.start().await.unwrap(), xbr(500));
    let api = hex16(API);
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..30u64 {
        let (key_id, enc_ser, ct) = m
            .seller
            .wrap(&api, "io.crossbar.example.data", &payload(i))
            .await
            .unwrap();
        keys.insert(key_id);
        assert_eq!(
            m.buyer.unwrap(&key_id, enc_ser, &ct).await.unwrap(),
            payload(i)
        );
    }
    assert_eq!(keys.len(), 3, "count rotation 10 → 3 keys for 30 events");
    let bought = U256::from(keys.len() as u64);
    // Payment and paying channels fell by keys × price, seq advanced by the number of sales, in
    // all three roles' views.
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (4, xbr(500) - xbr(35) * bought, U256::ZERO)
    );
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (4, xbr(1000) - xbr(35) * bought, U256::ZERO)
    );
    let b = m.buyer.channel().await.unwrap();
    assert_eq!((b.seq, b.balance), (4, xbr(395)));
    assert_eq!(m.buyer_store.buyer_channel().unwrap().unwrap(), b);
    let s = m.seller.channel().unwrap();
    assert_eq!((s.seq, s.balance), (4, xbr(895)));
    assert_eq!(m.seller_store.seller_channel().unwrap().unwrap(), s);
    let sales = m.maker_store.sales().unwrap();
    assert_eq!(sales.len(), 3);
    assert!(sales.iter().all(|s| s.status == SaleStatus::Completed));
    assert_eq!(m.seller_store.seller_sales().unwrap().len(), 3);
    assert_eq!(m.buyer_store.purchases().unwrap().len(), 3);
    assert!(
        m.seller_store
            .seller_keys()
            .unwrap()
            .iter()
            .all(|k| k.offered)
    );

    // The first sale carries exactly the reference's signatures (deterministic RFC 6979).
    let records = m.bus.records();
    let first = |p: &str| {
        records
            .iter()
            .find(|r| r.procedure.ends_with(p))
            .unwrap()
            .clone()
    };
    let call_args = |bytes: &[u8]| match serializer.decode(bytes).unwrap() {
        Message::Call { args, .. } => args,
        other => panic!("{other:?}"),
    };
    let result_arg = |bytes: &[u8]| match serializer.decode(bytes).unwrap() {
        Message::Result { args, .. } => args[0].clone(),
        other => panic!("{other:?}"),
    };
    let buy = first(".buy_key");
    assert_eq!(call_args(&buy.call)[7], Value::Bytes(hex(XBRSIG1)));
    assert_eq!(
        result_arg(&buy.reply).as_dict().unwrap()["signature"],
        Value::Bytes(hex(XBRSIG7))
    );
    let sell = first(".sell");
    assert_eq!(call_args(&sell.call)[7], Value::Bytes(hex(XBRSIG3)));
    assert_eq!(
        result_arg(&sell.reply).as_dict().unwrap()["signature"],
        Value::Bytes(hex(XBRSIG5))
    );
}

#[tokio::test]
async fn full_flow_over_cbor() {
    full_flow(Serializer::Cbor).await;
}

#[tokio::test]
async fn full_flow_over_json() {
    full_flow(Serializer::Json).await;
}

#[tokio::test]
async fn msgpack_cannot_carry_the_sell_result_and_the_sale_rolls_back() {
    // MsgPack has no big integers: the seller's result (amount as an int ≥ 2^64) cannot be
    // encoded. The reference market stalls here; ours rolls back both channels.
    let m = market(
        LocalBus::with_serializer(Serializer::MsgPack),
        xbr(35),
        10,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let (key_id, enc, ct) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    let e = m.buyer.unwrap(&key_id, enc, &ct).await.unwrap_err();
    assert_eq!(e.uri, "wamp.error.invalid_payload");
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (1, xbr(500), U256::ZERO)
    );
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (1, xbr(1000), U256::ZERO)
    );
    assert_eq!(m.maker_store.sales().unwrap()[0].status, SaleStatus::Failed);
}

struct Snapshot {
    payment: (u64, U256, U256),
    paying: (u64, U256, U256),
    completed: usize,
    seller: (u64, U256),
    buyer: (u64, U256),
}

async fn snapshot(m: &Market) -> Snapshot {
    let s = m.seller.channel().unwrap();
    let b = m.buyer_store.buyer_channel().unwrap().unwrap();
    Snapshot {
        payment: maker_view(&m.maker_store, PAYMENT),
        paying: maker_view(&m.maker_store, PAYING),
        completed: m
            .maker_store
            .sales()
            .unwrap()
            .iter()
            .filter(|s| s.status == SaleStatus::Completed)
            .count(),
        seller: (s.seq, s.balance),
        buyer: (b.seq, b.balance),
    }
}

fn assert_untouched(a: &Snapshot, b: &Snapshot) {
    assert_eq!(a.payment, b.payment);
    assert_eq!(a.paying, b.paying);
    assert_eq!(a.completed, b.completed);
    assert_eq!(a.seller, b.seller);
    assert_eq!(a.buyer, b.buyer);
}

#[tokio::test]
async fn rejections_leave_state_untouched_and_carry_the_reference_uri() {
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        xbr(35),
        1000,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    // One good purchase first so the state is non-trivial.
    let (key_id, enc, ct) = m.seller.wrap(&api, "x", &payload(0)).await.unwrap();
    m.buyer.unwrap(&key_id, enc, &ct).await.unwrap();
    let before = snapshot(&m).await;
    let d = domain();
    let caller: Arc<dyn Caller> = m.bus.clone();
    let client = MakerClient::new(caller);
    let offered = m.maker_store.query_offers(&Default::default()).unwrap();
    let key_id = offered[0].key_id;
    let good = |seq: u64, balance: U256, signer: &str, delegate: &str| BuyKeyRequest {
        delegate: key(delegate).address(),
        buyer_pubkey: [1; 32],
        key_id,
        channel_oid: hex16(PAYMENT),
        channel_seq: seq,
        amount: xbr(35),
        balance,
        signature: d
            .sign(
                &key(signer),
                &sig::off_chain(hex16(MARKET), hex16(PAYMENT), seq, balance),
            )
            .unwrap(),
    };

    // Max price exceeded (buyer side).
    let cheap = buyer_for(
        &m.bus,
        Arc::new(xbr_market::MemoryStore::new()),
        &m.kek,
        KEY5,
        xbr(10),
    );
    cheap.start().await.unwrap();
    let e = cheap.unwrap(&key_id, "cbor", &ct).await.unwrap_err();
    assert_eq!(e.uri, uri::MAX_PRICE_EXCEEDED);
    assert_untouched(&before, &snapshot(&m).await);

    // Invalid buyer signature: signed by another key.
    let e = client
        .buy_key(&good(3, xbr(430), KEY4, KEY5))
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::INVALID_SIGNATURE);
    // Garbage signature bytes (v not 27/28).
    let mut bad = good(3, xbr(430), KEY5, KEY5);
    bad.signature.0[64] = 0;
    assert_eq!(
        client.buy_key(&bad).await.unwrap_err().uri,
        uri::INVALID_SIGNATURE
    );
    // Wrong seq (correctly signed).
    assert_eq!(
        client
            .buy_key(&good(4, xbr(430), KEY5, KEY5))
            .await
            .unwrap_err()
            .uri,
        uri::UNEXPECTED_CHANNEL_SEQ
    );
    assert_eq!(
        client
            .buy_key(&good(2, xbr(430), KEY5, KEY5))
            .await
            .unwrap_err()
            .uri,
        uri::UNEXPECTED_CHANNEL_SEQ
    );
    // Wrong balance (correctly signed).
    assert_eq!(
        client
            .buy_key(&good(3, xbr(431), KEY5, KEY5))
            .await
            .unwrap_err()
            .uri,
        uri::UNEXPECTED_CHANNEL_BALANCE
    );
    // Unknown key.
    let mut unknown = good(3, xbr(430), KEY5, KEY5);
    unknown.key_id = KeyId([0xee; 16]);
    assert_eq!(
        client.buy_key(&unknown).await.unwrap_err().uri,
        uri::NO_SUCH_OBJECT
    );
    assert_eq!(
        client.get_quote(&KeyId([0xee; 16])).await.unwrap_err().uri,
        uri::NO_SUCH_OBJECT
    );
    let e = m
        .buyer
        .unwrap(&KeyId([0xee; 16]), "cbor", &ct)
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::NO_SUCH_OBJECT);
    // A delegate using someone else's channel (validly signed by itself).
    assert_eq!(
        client
            .buy_key(&good(3, xbr(430), KEY7, KEY7))
            .await
            .unwrap_err()
            .uri,
        uri::UNEXPECTED_DELEGATE_ADR
    );
    // Amount below the price.
    let mut low = good(3, xbr(430), KEY5, KEY5);
    low.amount = xbr(1);
    assert_eq!(
        client.buy_key(&low).await.unwrap_err().uri,
        uri::INSUFFICIENT_AMOUNT
    );
    // Malformed arguments: a clear error, no panic.
    let mut args = good(3, xbr(430), KEY5, KEY5).to_args();
    args[3] = Value::from("not bytes");
    let e = m
        .bus
        .call("xbr.marketmaker.buy_key", args, Dict::new())
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::INVALID_ARGUMENT);
    assert!(e.message.contains("channel_oid"));
    assert_untouched(&before, &snapshot(&m).await);

    // The seller's own checks (direct calls): wrong seq, wrong balance, wrong maker, unknown key,
    // bad maker signature.
    let paying = m.seller.channel().unwrap();
    let sell = |seq: u64, balance: U256| SellRequest {
        market_maker_adr: key(KEY6).address(),
        buyer_pubkey: [1; 32],
        key_id,
        channel_oid: hex16(PAYING),
        channel_seq: seq,
        amount: xbr(35),
        balance,
        signature: d
            .sign(
                &key(KEY6),
                &sig::off_chain(hex16(MARKET), hex16(PAYING), seq, balance),
            )
            .unwrap(),
    };
    let next = paying.seq + 1;
    let after = paying.balance - xbr(35);
    assert_eq!(
        m.seller.sell(sell(next + 1, after)).await.unwrap_err().uri,
        uri::UNEXPECTED_CHANNEL_SEQ
    );
    assert_eq!(
        m.seller
            .sell(sell(next, after + U256::from(1u64)))
            .await
            .unwrap_err()
            .uri,
        uri::UNEXPECTED_CHANNEL_BALANCE
    );
    let mut other_mm = sell(next, after);
    other_mm.market_maker_adr = key(KEY7).address();
    assert_eq!(
        m.seller.sell(other_mm).await.unwrap_err().uri,
        uri::UNEXPECTED_MARKETMAKER_ADR
    );
    let mut unknown_key = sell(next, after);
    unknown_key.key_id = KeyId([0xee; 16]);
    assert_eq!(
        m.seller.sell(unknown_key).await.unwrap_err().uri,
        uri::NO_SUCH_OBJECT
    );
    let mut forged = sell(next, after);
    forged.signature = d
        .sign(
            &key(KEY7),
            &sig::off_chain(hex16(MARKET), hex16(PAYING), next, after),
        )
        .unwrap();
    assert_eq!(
        m.seller.sell(forged).await.unwrap_err().uri,
        uri::INVALID_SIGNATURE
    );
    let mut wrong_channel = sell(next, after);
    wrong_channel.channel_oid = ChannelId([3; 16]);
    assert_eq!(
        m.seller.sell(wrong_channel).await.unwrap_err().uri,
        uri::UNEXPECTED_CHANNEL_OID
    );
    assert_untouched(&before, &snapshot(&m).await);

    // A failing seller: the maker rolls back seq and balances of both channels.
    m.bus.unregister(&m.seller.sell_uri());
    let e = client
        .buy_key(&good(3, xbr(430), KEY5, KEY5))
        .await
        .unwrap_err();
    assert_eq!(e.uri, uri::NO_SUCH_PROCEDURE);
    assert_untouched(&before, &snapshot(&m).await);
    assert_eq!(
        m.maker_store.sales().unwrap().last().unwrap().status,
        SaleStatus::Failed
    );
    // After the seller is back, the same (seq, balance) buys fine.
    m.bus.register_seller(&m.seller);
    client
        .buy_key(&good(3, xbr(430), KEY5, KEY5))
        .await
        .unwrap();
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (3, xbr(430), U256::ZERO)
    );
}

#[tokio::test]
async fn insufficient_balance_and_auto_close() {
    // 50 XBR in the payment channel, 35 per key: one purchase, then the buyer auto-closes.
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        xbr(35),
        1,
        xbr(50),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    let (k1, enc, c1) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    m.buyer.unwrap(&k1, enc, &c1).await.unwrap();
    let (k2, enc, c2) = m.seller.wrap(&api, "x", &payload(2)).await.unwrap();
    assert_ne!(k1, k2);
    let e = m.buyer.unwrap(&k2, enc, &c2).await.unwrap_err();
    assert_eq!(e.uri, uri::CHANNEL_CLOSED);
    let ch = m.maker_store.channel(&hex16(PAYMENT)).unwrap().unwrap();
    assert_eq!(ch.state, xbr_market::types::ChannelState::Closing);
    let close = ch.close.unwrap();
    assert_eq!(
        (close.seq, close.balance, close.is_final),
        (2, xbr(15), true)
    );
    assert!(close.marketmaker_signature.is_some());
    // Old keys still decrypt after the close.
    assert_eq!(m.buyer.unwrap(&k1, "cbor", &c1).await.unwrap(), payload(1));

    // A buyer with no purchase yet and too little balance: insufficient_balance, no close.
    let m = market(LocalBus::new(), xbr(35), 1, xbr(20)).await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let (k, enc, c) = m.seller.wrap(&api, "x", &payload(1)).await.unwrap();
    let e = m.buyer.unwrap(&k, enc, &c).await.unwrap_err();
    assert_eq!(e.uri, uri::INSUFFICIENT_BALANCE);
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (1, xbr(20), U256::ZERO)
    );
}

#[tokio::test]
async fn free_keys_can_be_bought() {
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        U256::ZERO,
        5,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let (k, enc, c) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    assert_eq!(m.buyer.unwrap(&k, enc, &c).await.unwrap(), payload(1));
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(500), U256::ZERO)
    );
    assert_eq!(
        maker_view(&m.maker_store, PAYING),
        (2, xbr(1000), U256::ZERO)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_unwraps_share_one_purchase_and_purchases_are_serialized() {
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        xbr(1),
        2,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    let mut events = Vec::new();
    for i in 0..10u64 {
        events.push(m.seller.wrap(&api, "x", &payload(i)).await.unwrap());
    }
    let distinct: std::collections::BTreeSet<_> = events.iter().map(|e| e.0).collect();
    assert_eq!(distinct.len(), 5);
    // 4 concurrent unwraps of every event (40 tasks, 5 new keys).
    let mut tasks = Vec::new();
    for _ in 0..4 {
        for (i, (k, enc, c)) in events.iter().cloned().enumerate() {
            let buyer = m.buyer.clone();
            tasks.push(tokio::spawn(
                async move { (i, buyer.unwrap(&k, enc, &c).await) },
            ));
        }
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        assert_eq!(r.unwrap(), payload(i as u64));
    }
    assert_eq!(
        m.maker_store.sales().unwrap().len(),
        5,
        "one purchase per key"
    );
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (6, xbr(495), U256::ZERO)
    );
}

#[tokio::test]
async fn a_failed_purchase_reaches_every_waiter_and_can_be_retried() {
    let m = market(
        LocalBus::with_serializer(Serializer::Cbor),
        xbr(35),
        100,
        xbr(500),
    )
    .await;
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let (k, enc, c) = m.seller.wrap(&hex16(API), "x", &payload(1)).await.unwrap();
    m.bus.unregister(&m.seller.sell_uri());
    let (a, b) = tokio::join!(m.buyer.unwrap(&k, enc, &c), m.buyer.unwrap(&k, enc, &c));
    assert_eq!(a.unwrap_err().uri, uri::NO_SUCH_PROCEDURE);
    assert_eq!(b.unwrap_err().uri, uri::NO_SUCH_PROCEDURE);
    m.bus.register_seller(&m.seller);
    assert_eq!(m.buyer.unwrap(&k, enc, &c).await.unwrap(), payload(1));
    assert_eq!(
        maker_view(&m.maker_store, PAYMENT),
        (2, xbr(465), U256::ZERO)
    );
}

#[tokio::test]
async fn restarted_seller_and_buyer_resume_from_their_stores() {
    let dir = tempfile::tempdir().unwrap();
    let bus = LocalBus::with_serializer(Serializer::Cbor);
    let mut m = market(bus.clone(), xbr(35), 3, xbr(500)).await;
    let seller_store: Arc<dyn SellerStore> =
        Arc::new(SqliteStore::open(dir.path().join("seller.db")).unwrap());
    let buyer_store: Arc<dyn BuyerStore> =
        Arc::new(SqliteStore::open(dir.path().join("buyer.db")).unwrap());
    m.seller = seller_for(&bus, seller_store.clone(), &m.kek, api_spec(xbr(35), 3));
    bus.register_seller(&m.seller);
    m.buyer = buyer_for(&bus, buyer_store.clone(), &m.kek, KEY5, xbr(100));
    m.seller.start().await.unwrap();
    m.buyer.start().await.unwrap();
    let api = hex16(API);
    let mut events = Vec::new();
    for i in 0..9u64 {
        let e = m.seller.wrap(&api, "x", &payload(i)).await.unwrap();
        assert_eq!(m.buyer.unwrap(&e.0, e.1, &e.2).await.unwrap(), payload(i));
        events.push(e);
    }
    assert_eq!(m.maker_store.sales().unwrap().len(), 3);

    // Restart both (new instances, same stores: the buyer keeps its receive key).
    m.seller.stop();
    drop(m.seller);
    drop(m.buyer);
    let seller_store2: Arc<dyn SellerStore> =
        Arc::new(SqliteStore::open(dir.path().join("seller.db")).unwrap());
    let buyer_store2: Arc<dyn BuyerStore> =
        Arc::new(SqliteStore::open(dir.path().join("buyer.db")).unwrap());
    let seller = seller_for(&bus, seller_store2.clone(), &m.kek, api_spec(xbr(35), 3));
    bus.register_seller(&seller);
    let buyer = buyer_for(&bus, buyer_store2.clone(), &m.kek, KEY5, xbr(100));
    assert_eq!(seller.start().await.unwrap(), xbr(895));
    assert_eq!(buyer.start().await.unwrap(), xbr(395));
    // Old data decrypts without buying again.
    for (i, (k, enc, c)) in events.iter().enumerate() {
        assert_eq!(buyer.unwrap(k, enc, c).await.unwrap(), payload(i as u64));
    }
    assert_eq!(
        m.maker_store.sales().unwrap().len(),
        3,
        "no key bought twice"
    );
    // The restarted seller continues: its restored key finishes its count, then rotates.
    for i in 9..15u64 {
        let (k, enc, c) = seller.wrap(&api, "x", &payload(i)).await.unwrap();
        assert_eq!(buyer.unwrap(&k, enc, &c).await.unwrap(), payload(i));
    }
    let sales = m.maker_store.sales().unwrap();
    assert!(sales.iter().all(|s| s.status == SaleStatus::Completed));
    let n = sales.len() as u64;
    let distinct: std::collections::BTreeSet<_> = sales.iter().map(|s| s.key_id).collect();
    assert_eq!(distinct.len() as u64, n, "no key bought twice");
    // Stores agree with the maker's view.
    let (pseq, prem, _) = maker_view(&m.maker_store, PAYMENT);
    let (yseq, yrem, _) = maker_view(&m.maker_store, PAYING);
    assert_eq!((pseq, prem), (1 + n, xbr(500) - xbr(35) * U256::from(n)));
    let b = buyer_store2.buyer_channel().unwrap().unwrap();
    assert_eq!((b.seq, b.balance), (pseq, prem));
    let s = seller_store2.seller_channel().unwrap().unwrap();
    assert_eq!((s.seq, s.balance), (yseq, yrem));
    assert_eq!(seller_store2.seller_sales().unwrap().len() as u64, n);
    assert_eq!(buyer_store2.purchases().unwrap().len() as u64, n);
}

//! One behaviour suite, run against both store implementations, plus SQLite persistence tests.

use super::*;
use crate::types::{
    ApiId, ChannelState, KeyId, MarketId, OfferId, SaleStatus, Signature, TxId, U256,
};

const PAYMENT: ChannelId = ChannelId([1; 16]);
const PAYING: ChannelId = ChannelId([2; 16]);
const MARKET: MarketId = MarketId([9; 16]);

fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

fn channel(oid: ChannelId, ty: ChannelType, delegate: u8, amount: U256, ts: u64) -> Channel {
    Channel {
        channel_oid: oid,
        channel_type: ty,
        market_oid: MARKET,
        member_oid: None,
        timestamp: ts,
        open_at: U256::from(7u64),
        marketmaker: Address::repeat_byte(6),
        actor: Address::repeat_byte(delegate + 100),
        delegate: Address::repeat_byte(delegate),
        recipient: Address::repeat_byte(delegate + 50),
        amount,
        timeout: 0,
        state: ChannelState::Open,
        seq: 1,
        remaining: amount,
        inflight: U256::ZERO,
        close: None,
    }
}

fn sale(
    tx: u8,
    payment_seq: u64,
    payment_rem: U256,
    paying_seq: u64,
    paying_rem: U256,
    price: U256,
) -> Sale {
    Sale {
        tx_id: TxId([tx; 16]),
        created: u64::from(tx),
        status: SaleStatus::Inflight,
        key_id: KeyId([tx; 16]),
        offer_id: OfferId([tx + 1; 16]),
        buyer_delegate: Address::repeat_byte(5),
        buyer_pubkey: [3; 32],
        amount_offered: price,
        amount_paid: price,
        payment_channel: PAYMENT,
        payment_seq,
        payment_remaining: payment_rem,
        buyer_signature: Signature([1; 65]),
        paying_channel: PAYING,
        paying_seq,
        paying_remaining: paying_rem,
        maker_sell_signature: Signature([2; 65]),
        seller_signature: None,
        maker_receipt_signature: None,
        failure: None,
        sealed_key: None,
        recovered: false,
    }
}

fn offer(key: u8, api: u8, uri: &str, seller: u8, ts: u64) -> Offer {
    Offer {
        offer_id: OfferId([key.wrapping_add(128); 16]),
        timestamp: ts,
        seller: Address::repeat_byte(seller),
        seller_session_id: 1,
        seller_authid: "0xabc".into(),
        key_id: KeyId([key; 16]),
        api_id: ApiId([api; 16]),
        uri: uri.into(),
        valid_from: ts,
        signature: Signature([0; 65]),
        price: xbr(35),
        categories: Some([("k".to_string(), "v".to_string())].into()),
        expires: None,
        copies: None,
        remaining: None,
    }
}

fn maker_suite(s: &dyn MakerStore) {
    // The chain scan cursor: none before the first scan, then the last one saved.
    assert_eq!(s.scan_cursor().unwrap(), None);
    s.set_scan_cursor(2_001).unwrap();
    s.set_scan_cursor(4_001).unwrap();
    assert_eq!(s.scan_cursor().unwrap(), Some(4_001));
    assert!(
        s.insert_channel(&channel(PAYMENT, ChannelType::Payment, 5, xbr(500), 10))
            .unwrap()
    );
    assert!(
        s.insert_channel(&channel(PAYING, ChannelType::Paying, 4, xbr(1000), 11))
            .unwrap()
    );
    // Mirroring the same channel again changes nothing.
    let mut again = channel(PAYMENT, ChannelType::Payment, 5, xbr(1), 10);
    again.seq = 99;
    assert!(!s.insert_channel(&again).unwrap());
    assert_eq!(s.channel(&PAYMENT).unwrap().unwrap().seq, 1);
    assert_eq!(
        s.channels_by_delegate(&Address::repeat_byte(5), ChannelType::Payment)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.channels_by_delegate(&Address::repeat_byte(5), ChannelType::Paying)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        s.channels_by_member(&Address::repeat_byte(54), ChannelType::Paying)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.channels_by_member(&Address::repeat_byte(105), ChannelType::Payment)
            .unwrap()
            .len(),
        1
    );

    // Wrong seq or wrong balance: rejected, nothing changes.
    let before = (s.channel(&PAYMENT).unwrap(), s.channel(&PAYING).unwrap());
    let bad_seq = sale(1, 3, xbr(465), 2, xbr(965), xbr(35));
    assert!(matches!(
        s.begin_sale(&bad_seq),
        Err(StoreError::Conflict(_))
    ));
    let bad_bal = sale(1, 2, xbr(466), 2, xbr(965), xbr(35));
    assert!(matches!(
        s.begin_sale(&bad_bal),
        Err(StoreError::Conflict(_))
    ));
    let bad_paying = sale(1, 2, xbr(465), 2, xbr(964), xbr(35));
    assert!(matches!(
        s.begin_sale(&bad_paying),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        (s.channel(&PAYMENT).unwrap(), s.channel(&PAYING).unwrap()),
        before
    );
    assert!(s.sales().unwrap().is_empty());

    // Sale 1 succeeds.
    let s1 = sale(1, 2, xbr(465), 2, xbr(965), xbr(35));
    s.begin_sale(&s1).unwrap();
    let p = s.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!((p.seq, p.remaining, p.inflight), (2, xbr(465), xbr(35)));
    assert!(matches!(s.begin_sale(&s1), Err(StoreError::Duplicate(_))));
    let (payment, paying) = s
        .complete_sale(&s1.tx_id, &Signature([5; 65]), &Signature([7; 65]))
        .unwrap();
    assert_eq!(
        (payment.seq, payment.remaining, payment.inflight),
        (2, xbr(465), U256::ZERO)
    );
    assert_eq!(
        (paying.seq, paying.remaining, paying.inflight),
        (2, xbr(965), U256::ZERO)
    );
    let stored = s.sale(&s1.tx_id).unwrap().unwrap();
    assert_eq!(stored.status, SaleStatus::Completed);
    assert_eq!(stored.seller_signature, Some(Signature([5; 65])));
    // A completed sale cannot be rolled back or completed twice.
    assert!(matches!(
        s.rollback_sale(&s1.tx_id, "x"),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.complete_sale(&s1.tx_id, &Signature([5; 65]), &Signature([7; 65])),
        Err(StoreError::Conflict(_))
    ));

    // Sale 2 is rolled back: both channels (the right ones) get seq and money back.
    let after1 = (s.channel(&PAYMENT).unwrap(), s.channel(&PAYING).unwrap());
    let s2 = sale(2, 3, xbr(430), 3, xbr(930), xbr(35));
    s.begin_sale(&s2).unwrap();
    assert_eq!(s.channel(&PAYING).unwrap().unwrap().inflight, xbr(35));
    s.rollback_sale(&s2.tx_id, "seller refused").unwrap();
    assert_eq!(
        (s.channel(&PAYMENT).unwrap(), s.channel(&PAYING).unwrap()),
        after1
    );
    let failed = s.sale(&s2.tx_id).unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.failure.as_deref()),
        (SaleStatus::Failed, Some("seller refused"))
    );

    // The same seq can be used again after the rollback.
    let s3 = sale(3, 3, xbr(430), 3, xbr(930), xbr(35));
    s.begin_sale(&s3).unwrap();
    s.complete_sale(&s3.tx_id, &Signature([5; 65]), &Signature([7; 65]))
        .unwrap();
    assert_eq!(s.sales().unwrap().len(), 3);

    // Offers.
    s.insert_offer(&offer(10, 1, "io.crossbar.example", 4, 100))
        .unwrap();
    s.insert_offer(&offer(11, 1, "io.crossbar.other", 4, 200))
        .unwrap();
    s.insert_offer(&offer(12, 2, "io.crossbar.example", 8, 300))
        .unwrap();
    assert!(matches!(
        s.insert_offer(&offer(10, 1, "a.b", 4, 400)),
        Err(StoreError::Duplicate(_))
    ));
    let o = s.offer_by_key(&KeyId([10; 16])).unwrap().unwrap();
    assert_eq!(o, offer(10, 1, "io.crossbar.example", 4, 100));
    assert_eq!(s.offer(&o.offer_id).unwrap().unwrap(), o);
    let q = |q: OfferQuery| {
        s.query_offers(&q)
            .unwrap()
            .iter()
            .map(|o| o.key_id.0[0])
            .collect::<Vec<_>>()
    };
    assert_eq!(q(OfferQuery::default()), vec![10, 11, 12]);
    assert_eq!(
        q(OfferQuery {
            api_id: Some(ApiId([1; 16])),
            ..Default::default()
        }),
        vec![10, 11]
    );
    assert_eq!(
        q(OfferQuery {
            seller: Some(Address::repeat_byte(8)),
            ..Default::default()
        }),
        vec![12]
    );
    assert_eq!(
        q(OfferQuery {
            uri: Some("io.crossbar.".into()),
            ..Default::default()
        }),
        vec![10, 11, 12]
    );
    assert_eq!(
        q(OfferQuery {
            uri: Some("io.crossbar.example".into()),
            ..Default::default()
        }),
        vec![10, 12]
    );
    assert_eq!(
        q(OfferQuery {
            from_ts: Some(200),
            until_ts: Some(300),
            ..Default::default()
        }),
        vec![11]
    );
    assert_eq!(
        q(OfferQuery {
            limit: Some(2),
            ..Default::default()
        }),
        vec![10, 11]
    );
    let cats = Some([("k".to_string(), "v".to_string())].into());
    assert_eq!(
        q(OfferQuery {
            categories: cats,
            limit: Some(1),
            ..Default::default()
        }),
        vec![10]
    );
    let revoked = s.set_offer_expires(&KeyId([11; 16]), 555).unwrap();
    assert_eq!(revoked.expires, Some(555));
    assert_eq!(
        s.offer_by_key(&KeyId([11; 16])).unwrap().unwrap().expires,
        Some(555)
    );
    assert!(matches!(
        s.set_offer_expires(&KeyId([99; 16]), 1),
        Err(StoreError::NotFound(_))
    ));

    // Closing.
    let close = ChannelClose {
        seq: 3,
        balance: xbr(430),
        is_final: true,
        delegate_signature: Signature([1; 65]),
        marketmaker_signature: Some(Signature([2; 65])),
        closing_at: 77,
        closed_tx: Some([4; 32]),
    };
    s.close_channel(&PAYMENT, ChannelState::Open, ChannelState::Closing, &close)
        .unwrap();
    let c = s.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(
        (c.state, c.close.as_ref()),
        (ChannelState::Closing, Some(&close))
    );
    assert!(matches!(
        s.close_channel(&PAYMENT, ChannelState::Open, ChannelState::Closing, &close),
        Err(StoreError::Conflict(_))
    ));
    // No sale on a closing channel.
    let s4 = sale(4, 4, xbr(395), 4, xbr(895), xbr(35));
    assert!(matches!(s.begin_sale(&s4), Err(StoreError::Conflict(_))));
    // Every channel, oldest first; sales page by cursor.
    let all: Vec<ChannelId> = s
        .all_channels()
        .unwrap()
        .iter()
        .map(|c| c.channel_oid)
        .collect();
    assert_eq!(all, vec![PAYMENT, PAYING]);
    let sales = s.sales().unwrap();
    assert!(sales.len() >= 2, "{}", sales.len());
    let first = s.sales_page(0, 1).unwrap();
    assert_eq!(first, vec![(1, sales[0].clone())]);
    let rest = s.sales_page(first[0].0, 100).unwrap();
    assert_eq!(rest.len(), sales.len() - 1);
    assert_eq!(rest[0], (2, sales[1].clone()));
    assert!(s.sales_page(sales.len() as u64, 10).unwrap().is_empty());
}

fn seller_suite(s: &dyn SellerStore) {
    let key = SellerKey {
        key_id: KeyId([1; 16]),
        api_id: ApiId([2; 16]),
        created: 5,
        wrapped_key: vec![9; 72],
        offered: false,
    };
    s.put_seller_key(&key).unwrap();
    assert!(matches!(
        s.put_seller_key(&key),
        Err(StoreError::Duplicate(_))
    ));
    s.mark_key_offered(&key.key_id).unwrap();
    assert!(s.seller_keys().unwrap()[0].offered);
    assert!(s.seller_channel().unwrap().is_none());
    let sale_of = |seq, amount, balance| SellerSale {
        channel_oid: PAYING,
        seq,
        created: seq,
        key_id: KeyId([1; 16]),
        buyer_pubkey: [3; 32],
        amount,
        balance,
        maker_signature: Signature([4; 65]),
        seller_signature: Signature([5; 65]),
        voided: false,
    };
    // No channel yet.
    assert!(s.record_sale(&sale_of(2, xbr(35), xbr(965))).is_err());
    s.set_seller_channel(&LocalChannel {
        channel_oid: PAYING,
        market_oid: MARKET,
        seq: 1,
        balance: xbr(1000),
    })
    .unwrap();
    assert!(matches!(
        s.record_sale(&sale_of(3, xbr(35), xbr(965))),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.record_sale(&sale_of(2, xbr(35), xbr(966))),
        Err(StoreError::Conflict(_))
    ));
    s.record_sale(&sale_of(2, xbr(35), xbr(965))).unwrap();
    let ch = s.seller_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(965)));
    // A free key moves seq only.
    s.record_sale(&sale_of(3, U256::ZERO, xbr(965))).unwrap();
    assert_eq!(s.seller_sales().unwrap().len(), 2);
    let page = s.seller_sales_page(1, 10).unwrap();
    assert_eq!(page, vec![(2, sale_of(3, U256::ZERO, xbr(965)))]);
    // Switching channel deactivates the old one.
    let other = LocalChannel {
        channel_oid: ChannelId([7; 16]),
        market_oid: MARKET,
        seq: 1,
        balance: xbr(10),
    };
    s.set_seller_channel(&other).unwrap();
    assert_eq!(s.seller_channel().unwrap().unwrap(), other);
}

fn buyer_suite(s: &dyn BuyerStore) {
    s.set_buyer_channel(&LocalChannel {
        channel_oid: PAYMENT,
        market_oid: MARKET,
        seq: 1,
        balance: xbr(500),
    })
    .unwrap();
    let p = Purchase {
        key_id: KeyId([1; 16]),
        created: 1,
        wrapped_key: vec![8; 72],
        channel_oid: PAYMENT,
        seq: 2,
        amount: xbr(35),
        balance: xbr(465),
        buyer_signature: Signature([1; 65]),
        maker_signature: Signature([2; 65]),
        verified: true,
    };
    let mut wrong = p.clone();
    wrong.seq = 3;
    assert!(matches!(
        s.record_purchase(&wrong),
        Err(StoreError::Conflict(_))
    ));
    assert!(s.purchase(&p.key_id).unwrap().is_none());
    s.record_purchase(&p).unwrap();
    assert!(matches!(
        s.record_purchase(&p),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.purchase(&p.key_id).unwrap().unwrap(), p);
    let ch = s.buyer_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, xbr(465)));
    assert_eq!(s.purchases().unwrap(), vec![p.clone()]);
    assert_eq!(s.purchases_page(0, 5).unwrap(), vec![(1, p)]);
    assert!(s.purchases_page(1, 5).unwrap().is_empty());
}

/// Records purchases `keys` one after another on the active channel (1 base unit each), with
/// `created` running backwards as after a clock step: pages follow the recording order anyway.
fn record_purchases(s: &dyn BuyerStore, keys: std::ops::RangeInclusive<u8>) -> Vec<Purchase> {
    keys.map(|k| {
        let ch = s.buyer_channel().unwrap().unwrap();
        let p = Purchase {
            key_id: KeyId([k; 16]),
            created: 1_000 - u64::from(k),
            wrapped_key: vec![k; 72],
            channel_oid: ch.channel_oid,
            seq: ch.seq + 1,
            amount: U256::from(1u64),
            balance: ch.balance - U256::from(1u64),
            buyer_signature: Signature([1; 65]),
            maker_signature: Signature([2; 65]),
            verified: true,
        };
        s.record_purchase(&p).unwrap();
        p
    })
    .collect()
}

fn paging_suite(s: &dyn BuyerStore) {
    s.set_buyer_channel(&LocalChannel {
        channel_oid: PAYMENT,
        market_oid: MARKET,
        seq: 1,
        balance: xbr(1),
    })
    .unwrap();
    assert!(s.purchases_page(0, 10).unwrap().is_empty());
    let recorded = record_purchases(s, 1..=7);

    // Following the cursor page by page yields every purchase once, in recording order,
    // numbered 1, 2, ….
    let (mut after, mut seen, mut cursors) = (0, Vec::new(), Vec::new());
    loop {
        let page = s.purchases_page(after, 3).unwrap();
        assert!(page.len() <= 3, "{}", page.len());
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (cursor, p) in page {
            cursors.push(cursor);
            seen.push(p);
        }
    }
    assert_eq!(seen, recorded);
    assert_eq!(cursors, (1..=7).collect::<Vec<u64>>());

    // A purchase recorded while a reader pages (with an even earlier clock) comes after the
    // reader's cursor: the next page holds it once and repeats nothing.
    let first = s.purchases_page(0, 4).unwrap();
    let later = record_purchases(s, 8..=8);
    let rest: Vec<Purchase> = s
        .purchases_page(first[3].0, 100)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(rest, [&recorded[4..], &later[..]].concat());
    assert_eq!(s.purchases_page(0, 0).unwrap(), vec![]);
    assert_eq!(s.purchases_page(u64::MAX, 5).unwrap(), vec![]);
}

#[test]
fn memory_store_behaves() {
    let s = MemoryStore::new();
    maker_suite(&s);
    seller_suite(&s);
    buyer_suite(&s);
}

#[test]
fn memory_store_pages_by_a_stable_cursor() {
    paging_suite(&MemoryStore::new());
}

#[test]
fn sqlite_store_pages_by_a_stable_cursor() {
    paging_suite(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_pages_read_only_the_rows_of_the_page() {
    let s = SqliteStore::open_in_memory().unwrap();
    paging_suite(&s);
    // A row that cannot be decoded, recorded after the eight good ones.
    s.lock()
        .execute(
            "INSERT INTO buyer_key (key_id, created, wrapped_key, channel_oid, seq, amount, balance, \
             buyer_signature, maker_signature) VALUES (x'01', 1, x'02', x'03', 9, x'04', x'05', x'06', x'07')",
            [],
        )
        .unwrap();
    assert!(matches!(s.purchases(), Err(StoreError::Sqlite(_))));
    // Pages that end before it are read in SQL without touching it; the page holding it fails.
    assert_eq!(s.purchases_page(0, 8).unwrap().len(), 8);
    assert!(matches!(s.purchases_page(8, 1), Err(StoreError::Sqlite(_))));
}

#[test]
fn sqlite_store_behaves() {
    let s = SqliteStore::open_in_memory().unwrap();
    assert_eq!(s.schema_version().unwrap(), 8);
    maker_suite(&s);
    seller_suite(&s);
    buyer_suite(&s);
}

#[test]
fn sqlite_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("market.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        maker_suite(&s);
        seller_suite(&s);
        buyer_suite(&s);
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 8);
    assert_eq!(s.scan_cursor().unwrap(), Some(4_001));
    let p = s.channel(&PAYMENT).unwrap().unwrap();
    assert_eq!(
        (p.seq, p.remaining, p.inflight, p.state),
        (3, xbr(430), U256::ZERO, ChannelState::Closing)
    );
    assert_eq!(s.sales().unwrap().len(), 3);
    assert_eq!(s.query_offers(&OfferQuery::default()).unwrap().len(), 3);
    assert_eq!(
        s.offer_by_key(&KeyId([11; 16])).unwrap().unwrap().expires,
        Some(555)
    );
    assert_eq!(s.seller_keys().unwrap().len(), 1);
    assert_eq!(s.seller_sales().unwrap().len(), 2);
    assert_eq!(
        s.seller_channel().unwrap().unwrap().channel_oid,
        ChannelId([7; 16])
    );
    let b = s.buyer_channel().unwrap().unwrap();
    assert_eq!((b.seq, b.balance), (2, xbr(465)));
    assert_eq!(s.purchases().unwrap().len(), 1);
}

#[test]
fn sqlite_rejects_corrupt_rows_with_an_error() {
    let s = SqliteStore::open_in_memory().unwrap();
    s.lock()
        .execute("INSERT INTO seller_channel (channel_oid, market_oid, seq, balance) VALUES (x'01', x'02', 1, x'03')", [])
        .unwrap();
    assert!(matches!(s.seller_channel(), Err(StoreError::Sqlite(_))));
}

#[test]
fn sqlite_rejects_a_close_without_its_delegate_signature() {
    let s = SqliteStore::open_in_memory().unwrap();
    let c = channel(PAYMENT, ChannelType::Payment, 5, xbr(10), 1);
    assert!(s.insert_channel(&c).unwrap());
    s.lock()
        .execute(
            "UPDATE mm_channel SET close_seq = 2, close_del_sig = NULL WHERE channel_oid = ?1",
            [PAYMENT.as_bytes().as_slice()],
        )
        .unwrap();
    assert!(matches!(s.channel(&PAYMENT), Err(StoreError::Sqlite(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_runs_store_calls_off_the_workers() {
    let s: Arc<dyn BuyerStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let ch = LocalChannel {
        channel_oid: PAYMENT,
        market_oid: MARKET,
        seq: 1,
        balance: xbr(5),
    };
    let c2 = ch.clone();
    blocking(&s, move |s| s.set_buyer_channel(&c2))
        .await
        .unwrap();
    assert_eq!(blocking(&s, |s| s.buyer_channel()).await.unwrap(), Some(ch));
}

// The maker's sale states (issue 11), on both stores.
mod sale_states;

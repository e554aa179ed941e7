//! The maker's sale states on both stores: SELLER_SIGNED keeps the seller's receipt, finishing
//! completes an unresolved sale, a seller-signed sale never rolls back, the lookups of recovery
//! and idempotency, and SQLite rows written before migration 0003.

use super::*;

/// Two open channels and a sale reserved on them (payment seq 2, paying seq 2).
fn reserved(s: &dyn MakerStore, tx: u8) -> Sale {
    s.insert_channel(&channel(PAYMENT, ChannelType::Payment, 5, xbr(500), 1))
        .unwrap();
    s.insert_channel(&channel(PAYING, ChannelType::Paying, 4, xbr(1000), 2))
        .unwrap();
    let sale = sale(tx, 2, xbr(465), 2, xbr(965), xbr(35));
    s.begin_sale(&sale).unwrap();
    sale
}

fn money(s: &dyn MakerStore, oid: &ChannelId) -> (u64, U256, U256) {
    let c = s.channel(oid).unwrap().unwrap();
    (c.seq, c.remaining, c.inflight)
}

fn sale_states_suite(s: &dyn MakerStore) {
    let s1 = reserved(s, 1);
    let tx = s1.tx_id;
    assert_eq!(s.unresolved_sales().unwrap(), vec![s1.clone()]);
    assert_eq!(s.unresolved_sale_on(&PAYMENT).unwrap(), Some(s1.clone()));
    assert_eq!(s.unresolved_sale_on(&PAYING).unwrap(), Some(s1.clone()));
    assert_eq!(s.sale_at_payment(&PAYMENT, 2).unwrap(), Some(s1.clone()));
    assert_eq!(s.sale_at_payment(&PAYMENT, 3).unwrap(), None);

    // SELLER_SIGNED: the receipt stored, the money still in flight, no rollback any more.
    let signed = s
        .seller_signed_sale(&tx, &Signature([5; 65]), &[0x5e; 80])
        .unwrap();
    assert_eq!(signed.status, SaleStatus::SellerSigned);
    assert_eq!(signed.sealed_key.as_deref(), Some(&[0x5e; 80][..]));
    assert_eq!(s.sale(&tx).unwrap(), Some(signed.clone()));
    assert_eq!(money(s, &PAYMENT), (2, xbr(465), xbr(35)));
    assert!(matches!(
        s.rollback_sale_with(&tx, "late", true),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.seller_signed_sale(&tx, &Signature([6; 65]), &[0; 80]),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.unresolved_sale_on(&PAYING).unwrap(), Some(signed));

    // Finished by recovery: the seller's signature kept, the money released.
    let (payment, paying) = s.finish_sale(&tx, &Signature([7; 65]), true).unwrap();
    assert_eq!(
        (payment.inflight, paying.inflight),
        (U256::ZERO, U256::ZERO)
    );
    let done = s.sale(&tx).unwrap().unwrap();
    assert_eq!(done.status, SaleStatus::Completed);
    assert_eq!(done.seller_signature, Some(Signature([5; 65])));
    assert_eq!(done.maker_receipt_signature, Some(Signature([7; 65])));
    assert!(done.recovered);
    assert!(matches!(
        s.finish_sale(&tx, &Signature([7; 65]), true),
        Err(StoreError::Conflict(_))
    ));
    assert!(s.unresolved_sales().unwrap().is_empty());
    assert_eq!(s.unresolved_sale_on(&PAYMENT).unwrap(), None);
    assert_eq!(s.sale_at_payment(&PAYMENT, 2).unwrap(), Some(done));

    // An in-flight sale finished without a seller receipt (the seller recorded it, said so by
    // refusing the re-sent sell), and one rolled back by recovery.
    let s2 = sale(2, 3, xbr(430), 3, xbr(930), xbr(35));
    s.begin_sale(&s2).unwrap();
    s.rollback_sale_with(&s2.tx_id, "never recorded", true)
        .unwrap();
    let failed = s.sale(&s2.tx_id).unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.recovered),
        (SaleStatus::Failed, true)
    );
    assert_eq!(s.sale_at_payment(&PAYMENT, 3).unwrap(), None);
    assert_eq!(money(s, &PAYMENT), (2, xbr(465), U256::ZERO));
    let s3 = sale(3, 3, xbr(430), 3, xbr(930), xbr(35));
    s.begin_sale(&s3).unwrap();
    assert_eq!(s.sale_at_payment(&PAYMENT, 3).unwrap(), Some(s3.clone()));
    s.finish_sale(&s3.tx_id, &Signature([8; 65]), false)
        .unwrap();
    let s3 = s.sale(&s3.tx_id).unwrap().unwrap();
    assert_eq!(
        (s3.status, s3.seller_signature),
        (SaleStatus::Completed, None)
    );
    assert_eq!(money(s, &PAYING), (3, xbr(930), U256::ZERO));
    assert!(!s3.recovered);
}

#[test]
fn memory_store_keeps_the_sale_states() {
    sale_states_suite(&MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_the_sale_states() {
    sale_states_suite(&SqliteStore::open_in_memory().unwrap());
}

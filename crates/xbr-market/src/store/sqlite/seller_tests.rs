//! SQLite specifics of the seller's sales: the migration from the schema before voided sales,
//! and a second live sale at a (channel, seq) failing loudly.

use rusqlite::Connection;
use rusqlite_migration::Migrations;

use super::super::MIGRATIONS;
use super::*;
use crate::types::{MarketId, Signature, U256};

const PAYING: ChannelId = ChannelId([2; 16]);

fn old_style_sale() -> SellerSale {
    SellerSale {
        channel_oid: PAYING,
        seq: 2,
        created: 5,
        key_id: KeyId([1; 16]),
        buyer_pubkey: [3; 32],
        amount: U256::from(35u64),
        balance: U256::from(965u64),
        maker_signature: Signature([4; 65]),
        seller_signature: Signature([5; 65]),
        voided: false,
    }
}

/// A database at schema version 2 (before `0004_seller_sale_versions`) holding one sale at seq
/// 2 of the active paying channel, written as the old code wrote it.
fn old_database(path: &std::path::Path) {
    let mut conn = Connection::open(path).unwrap();
    Migrations::from_slice(&MIGRATIONS[..2])
        .to_latest(&mut conn)
        .unwrap();
    let s = old_style_sale();
    let hex = |bytes: &[u8]| alloy_primitives::hex::encode(bytes);
    conn.execute_batch(&format!(
        "INSERT OR IGNORE INTO seller_sale VALUES (x'{}', 2, 5, x'{}', x'{}', x'{}', x'{}', x'{}', x'{}')",
        hex(s.channel_oid.as_ref()),
        hex(s.key_id.as_ref()),
        hex(&s.buyer_pubkey),
        hex(&b(&s.amount)),
        hex(&b(&s.balance)),
        hex(s.maker_signature.as_ref()),
        hex(s.seller_signature.as_ref()),
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO seller_channel (channel_oid, market_oid, seq, balance, active) \
         VALUES (?1, ?2, 2, ?3, 1)",
        params![
            PAYING.as_ref(),
            MarketId([9; 16]).as_ref(),
            b(&s.balance).as_slice()
        ],
    )
    .unwrap();
}

#[test]
fn an_old_database_migrates_with_its_sales_live() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seller.db");
    old_database(&path);
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    let sale = old_style_sale();
    assert_eq!(s.seller_sales().unwrap(), vec![sale.clone()]);
    // The old rowid is the paging cursor still.
    assert_eq!(s.seller_sales_page(0, 10).unwrap(), vec![(1, sale.clone())]);
    assert_eq!(s.live_seller_sale(&PAYING, 2).unwrap(), Some(sale.clone()));
    // The migrated sale can be rolled back and its seq sold again.
    let mut back = s.seller_channel().unwrap().unwrap();
    back.seq = 1;
    back.balance = U256::from(1000u64);
    s.set_seller_channel(&back).unwrap();
    let again = SellerSale {
        key_id: KeyId([8; 16]),
        created: 6,
        ..sale.clone()
    };
    s.record_sale(&again).unwrap();
    let voided = SellerSale {
        voided: true,
        ..sale
    };
    assert_eq!(s.seller_sales().unwrap(), vec![voided, again]);
}

#[test]
fn a_second_live_sale_at_a_seq_is_an_error() {
    let s = SqliteStore::open_in_memory().unwrap();
    let sale = old_style_sale();
    s.set_seller_channel(&LocalChannel {
        channel_oid: PAYING,
        market_oid: MarketId([9; 16]),
        seq: 1,
        balance: U256::from(1000u64),
    })
    .unwrap();
    s.record_sale(&sale).unwrap();
    // The mirror moved back behind the store's back (no voiding): the insert must fail, and
    // the channel must not move.
    s.lock()
        .execute(
            "UPDATE seller_channel SET seq = 1, balance = ?1",
            [b(&U256::from(1000u64)).as_slice()],
        )
        .unwrap();
    assert!(matches!(
        s.record_sale(&sale),
        Err(StoreError::Duplicate("seller sale"))
    ));
    assert_eq!(s.seller_channel().unwrap().unwrap().seq, 1);
    assert_eq!(s.seller_sales().unwrap().len(), 1);
}

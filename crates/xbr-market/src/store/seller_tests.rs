//! The seller's sales across a maker rollback, on both store implementations: the rolled-back
//! sale is voided (kept, flagged) when the seller adopts the lower seq, and the seq sells again.

use super::*;
use crate::types::{MarketId, U256};

const PAYING: ChannelId = ChannelId([2; 16]);
const OTHER: ChannelId = ChannelId([3; 16]);

fn channel(oid: ChannelId, seq: u64, balance: u64) -> LocalChannel {
    LocalChannel {
        channel_oid: oid,
        market_oid: MarketId([9; 16]),
        seq,
        balance: U256::from(balance),
    }
}

/// A sale of key `key`, recorded at time `key`.
fn sale(oid: ChannelId, seq: u64, balance: u64, key: u8) -> SellerSale {
    SellerSale {
        channel_oid: oid,
        seq,
        created: u64::from(key),
        key_id: KeyId([key; 16]),
        buyer_pubkey: [key; 32],
        amount: U256::from(35u64),
        balance: U256::from(balance),
        maker_signature: Signature([key; 65]),
        seller_signature: Signature([key + 1; 65]),
        voided: false,
    }
}

fn voided(s: &SellerSale) -> SellerSale {
    SellerSale {
        voided: true,
        ..s.clone()
    }
}

fn rollback_suite(s: &dyn SellerStore) {
    // A sale on another channel, which adopting PAYING's seq must leave alone.
    s.set_seller_channel(&channel(OTHER, 1, 100)).unwrap();
    let other = sale(OTHER, 2, 65, 1);
    s.record_sale(&other).unwrap();

    s.set_seller_channel(&channel(PAYING, 1, 1000)).unwrap();
    let first = sale(PAYING, 2, 965, 2);
    s.record_sale(&first).unwrap();
    assert_eq!(s.live_seller_sale(&PAYING, 2).unwrap(), Some(first.clone()));
    // Adopting the seq it stands at voids nothing.
    s.set_seller_channel(&channel(PAYING, 2, 965)).unwrap();
    assert_eq!(s.live_seller_sale(&PAYING, 2).unwrap(), Some(first.clone()));

    // The maker rolled seq 2 back: the seller adopts seq 1, which voids its sale 2.
    s.set_seller_channel(&channel(PAYING, 1, 1000)).unwrap();
    assert_eq!(s.live_seller_sale(&PAYING, 2).unwrap(), None);
    assert_eq!(
        s.seller_sales().unwrap(),
        vec![other.clone(), voided(&first)]
    );
    // The next sale at seq 2 records fine; the old one stays listed, voided.
    let second = sale(PAYING, 2, 965, 4);
    s.record_sale(&second).unwrap();
    assert_eq!(
        s.live_seller_sale(&PAYING, 2).unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        s.seller_sales().unwrap(),
        vec![other.clone(), voided(&first), second.clone()]
    );
    let page = s.seller_sales_page(1, 10).unwrap();
    assert_eq!(page, vec![(2, voided(&first)), (3, second.clone())]);
    let ch = s.seller_channel().unwrap().unwrap();
    assert_eq!((ch.seq, ch.balance), (2, U256::from(965u64)));
    // A stale sale is still a conflict, voided records or not.
    assert!(matches!(
        s.record_sale(&sale(PAYING, 2, 965, 5)),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.live_seller_sale(&OTHER, 2).unwrap(), Some(other));
}

#[test]
fn memory_store_voids_rolled_back_sales() {
    rollback_suite(&MemoryStore::new());
}

#[test]
fn sqlite_store_voids_rolled_back_sales() {
    rollback_suite(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_store_keeps_voided_sales_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seller.db");
    rollback_suite(&SqliteStore::open(&path).unwrap());
    let s = SqliteStore::open(&path).unwrap();
    let sales = s.seller_sales().unwrap();
    assert_eq!(
        sales.iter().map(|s| s.voided).collect::<Vec<_>>(),
        vec![false, true, false]
    );
}

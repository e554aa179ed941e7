//! The buyer's purchase intents and receive key, run against both store implementations.

use super::*;
use crate::types::{KeyId, MarketId, U256};

const PAYMENT: ChannelId = ChannelId([1; 16]);
const MARKET: MarketId = MarketId([9; 16]);

fn channel(seq: u64, balance: u64) -> LocalChannel {
    LocalChannel {
        channel_oid: PAYMENT,
        market_oid: MARKET,
        seq,
        balance: U256::from(balance),
    }
}

fn intent(key: u8, seq: u64, balance: u64) -> PurchaseIntent {
    PurchaseIntent {
        channel_oid: PAYMENT,
        key_id: KeyId([key; 16]),
        seq,
        amount: U256::from(10u64),
        balance: U256::from(balance),
        buyer_signature: Signature([key; 65]),
        buyer_pubkey: [3; 32],
        created: 1,
        ciphertext: Some(vec![key; 40]),
    }
}

fn purchase_of(it: &PurchaseIntent, verified: bool) -> Purchase {
    Purchase {
        key_id: it.key_id,
        created: 2,
        wrapped_key: vec![8; 72],
        channel_oid: it.channel_oid,
        seq: it.seq,
        amount: it.amount,
        balance: it.balance,
        buyer_signature: it.buyer_signature,
        maker_signature: Signature([2; 65]),
        verified,
    }
}

fn intent_suite(s: &dyn BuyerStore) {
    s.set_buyer_channel(&channel(1, 100)).unwrap();
    // Only one step past the active channel.
    assert!(matches!(
        s.put_purchase_intent(&intent(1, 3, 90)),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.put_purchase_intent(&intent(1, 2, 80)),
        Err(StoreError::Conflict(_))
    ));
    let first = intent(1, 2, 90);
    s.put_purchase_intent(&first).unwrap();
    // At most one per channel.
    assert!(matches!(
        s.put_purchase_intent(&intent(2, 2, 90)),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.purchase_intents().unwrap(), vec![first.clone()]);

    // A purchase that does not resolve it changes nothing.
    let mut other = purchase_of(&first, true);
    other.buyer_signature = Signature([7; 65]);
    assert!(matches!(
        s.complete_purchase_intent(&other),
        Err(StoreError::Conflict(_))
    ));
    // Resolved: the key recorded (unverified), the channel advanced, the intent gone, at once.
    s.complete_purchase_intent(&purchase_of(&first, false))
        .unwrap();
    assert!(s.purchase_intents().unwrap().is_empty());
    assert_eq!(s.buyer_channel().unwrap().unwrap(), channel(2, 90));
    assert!(!s.purchase(&first.key_id).unwrap().unwrap().verified);
    s.mark_purchase_verified(&first.key_id).unwrap();
    assert!(s.purchase(&first.key_id).unwrap().unwrap().verified);
    assert!(matches!(
        s.mark_purchase_verified(&KeyId([0xee; 16])),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        s.complete_purchase_intent(&purchase_of(&first, true)),
        Err(StoreError::NotFound(_))
    ));
    // A bought key is never intended again.
    assert!(matches!(
        s.put_purchase_intent(&intent(1, 3, 80)),
        Err(StoreError::Duplicate(_))
    ));

    // Refused: the intent dropped and the maker's position adopted, at once.
    let second = intent(2, 3, 80);
    s.put_purchase_intent(&second).unwrap();
    s.drop_purchase_intent(&PAYMENT, 3, Some(&channel(5, 60)))
        .unwrap();
    assert!(s.purchase_intents().unwrap().is_empty());
    assert_eq!(s.buyer_channel().unwrap().unwrap(), channel(5, 60));
    // Dropping without a position keeps the channel.
    s.put_purchase_intent(&intent(2, 6, 50)).unwrap();
    s.drop_purchase_intent(&PAYMENT, 6, None).unwrap();
    assert!(s.purchase_intents().unwrap().is_empty());
    assert_eq!(s.buyer_channel().unwrap().unwrap(), channel(5, 60));

    // The first receive key stays.
    assert_eq!(s.init_buyer_receive_key(&[1, 2, 3]).unwrap(), vec![1, 2, 3]);
    assert_eq!(s.init_buyer_receive_key(&[4, 5]).unwrap(), vec![1, 2, 3]);
}

#[test]
fn memory_store_keeps_purchase_intents() {
    intent_suite(&MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_purchase_intents() {
    intent_suite(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_intent_and_receive_key_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buyer.db");
    let it = intent(1, 2, 90);
    {
        let s = SqliteStore::open(&path).unwrap();
        s.set_buyer_channel(&channel(1, 100)).unwrap();
        s.put_purchase_intent(&it).unwrap();
        s.init_buyer_receive_key(&[9; 72]).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.purchase_intents().unwrap(), vec![it]);
    assert_eq!(s.init_buyer_receive_key(&[1; 72]).unwrap(), vec![9; 72]);
}

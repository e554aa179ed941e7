//! The per-role checks over a store: a consistent snapshot of the records (re-read while a
//! sale moved the channels underneath), then the pure checks of [`super::maker`] and
//! [`super::local`].
//!
//! The store traits read channels and sales in separate calls. Every step of a sale changes at
//! least one of its channels (seq, remaining or inflight) in the same transaction as the sale
//! record, so channels read equal before and after the records were read mean the records
//! belong to those channels.

use super::Violation;
use crate::store::{BuyerStore, MakerStore, SellerStore, StoreError, StoreResult};

/// Reads of a snapshot before giving up on a store that keeps moving.
pub const ATTEMPTS: usize = 20;

/// Runs `read` until it returns a snapshot (`Some`), at most [`ATTEMPTS`] times.
fn stable<T>(mut read: impl FnMut() -> StoreResult<Option<T>>) -> StoreResult<T> {
    for _ in 0..ATTEMPTS {
        if let Some(t) = read()? {
            return Ok(t);
        }
        std::thread::yield_now();
    }
    Err(StoreError::Conflict(
        "the records kept changing while the invariants were read".into(),
    ))
}

/// The maker's invariants ([`super::maker`]) and its sales unresolved for longer than
/// `max_inflight_age_ns` at `now_ns` ([`super::stale_sales`]).
pub fn check_maker(
    store: &dyn MakerStore,
    now_ns: u64,
    max_inflight_age_ns: u64,
) -> StoreResult<Vec<Violation>> {
    let (channels, sales) = stable(|| {
        let before = store.all_channels()?;
        let sales = store.sales()?;
        Ok((store.all_channels()? == before).then_some((before, sales)))
    })?;
    let mut out = super::maker(&channels, &sales);
    out.extend(super::stale_sales(&sales, now_ns, max_inflight_age_ns));
    Ok(out)
}

/// The seller's invariants over its paying channel and sales ([`super::seller`]).
pub fn check_seller(store: &dyn SellerStore) -> StoreResult<Vec<Violation>> {
    let (channel, sales) = stable(|| {
        let before = store.seller_channel()?;
        let sales: Vec<_> = store
            .seller_sales()?
            .into_iter()
            .filter(|s| !s.voided)
            .collect();
        Ok((store.seller_channel()? == before).then_some((before, sales)))
    })?;
    Ok(super::seller(channel.as_ref(), &sales))
}

/// The buyer's invariants over its payment channel and purchases ([`super::buyer`]).
pub fn check_buyer(store: &dyn BuyerStore) -> StoreResult<Vec<Violation>> {
    let (channel, purchases) = stable(|| {
        let before = store.buyer_channel()?;
        let purchases = store.purchases()?;
        Ok((store.buyer_channel()? == before).then_some((before, purchases)))
    })?;
    Ok(super::buyer(channel.as_ref(), &purchases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;
    use crate::invariants::Invariant;
    use crate::invariants::maker::tests::{PAYING, PAYMENT, channel, market};
    use crate::types::{ChannelType, LocalChannel, MarketId, SaleStatus, SellerSale, Signature};

    #[test]
    fn a_sale_in_flight_holds_until_it_is_stale() {
        let store = MemoryStore::new();
        store
            .insert_channel(&channel(PAYMENT, ChannelType::Payment, 100))
            .unwrap();
        store
            .insert_channel(&channel(PAYING, ChannelType::Paying, 200))
            .unwrap();
        let (_, mut sales) = market(1, 5);
        sales[0].status = SaleStatus::Inflight;
        sales[0].created = 1_000;
        store.begin_sale(&sales[0]).unwrap();
        assert_eq!(check_maker(&store, 1_500, 1_000).unwrap(), vec![]);
        let v = check_maker(&store, 2_001, 1_000).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].invariant, Invariant::NoStaleInflight);
        store.rollback_sale(&sales[0].tx_id, "test").unwrap();
        assert_eq!(check_maker(&store, 2_001, 1_000).unwrap(), vec![]);
    }

    #[test]
    fn recorded_sales_and_purchases_hold() {
        let store = MemoryStore::new();
        let ch = LocalChannel {
            channel_oid: PAYING,
            market_oid: MarketId([0xa1; 16]),
            seq: 1,
            balance: crate::types::U256::from(200),
        };
        store.set_seller_channel(&ch).unwrap();
        let (_, sales) = market(2, 5);
        for s in &sales {
            store
                .record_sale(&SellerSale {
                    channel_oid: PAYING,
                    seq: s.paying_seq,
                    created: s.created,
                    key_id: s.key_id,
                    buyer_pubkey: [0; 32],
                    amount: s.amount_paid,
                    balance: s.paying_remaining,
                    maker_signature: Signature([0; 65]),
                    seller_signature: Signature([0; 65]),
                    voided: false,
                })
                .unwrap();
        }
        assert_eq!(check_seller(&store).unwrap(), vec![]);
        assert_eq!(check_buyer(&store).unwrap(), vec![]);
    }
}

//! The maker's invariants, over its mirrored channels and its sales.

use std::collections::BTreeMap;

use super::{FIRST_SEQ, Invariant, Party, Violation};
use crate::types::{Address, Channel, ChannelId, ChannelType, KeyId, Sale, SaleStatus, U256};

/// What a sale means for its channels' money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Completed: the amount is spent.
    Spent,
    /// Rolled back: nothing moved.
    RolledBack,
    /// Not resolved yet (in flight, or signed by the seller but not completed): the amount is
    /// in flight.
    Unresolved,
}

fn outcome(status: SaleStatus) -> Outcome {
    match status {
        SaleStatus::Completed => Outcome::Spent,
        SaleStatus::Failed => Outcome::RolledBack,
        SaleStatus::Inflight | SaleStatus::SellerSigned => Outcome::Unresolved,
    }
}

/// One sale as seen from one of its channels: the seq and remaining it left there.
struct Step<'a> {
    sale: &'a Sale,
    seq: u64,
    remaining: U256,
}

fn steps<'a>(channel: &Channel, sales: &'a [Sale]) -> Vec<Step<'a>> {
    sales
        .iter()
        .filter_map(|sale| match channel.channel_type {
            ChannelType::Payment if sale.payment_channel == channel.channel_oid => Some(Step {
                sale,
                seq: sale.payment_seq,
                remaining: sale.payment_remaining,
            }),
            ChannelType::Paying if sale.paying_channel == channel.channel_oid => Some(Step {
                sale,
                seq: sale.paying_seq,
                remaining: sale.paying_remaining,
            }),
            _ => None,
        })
        .collect()
}

/// Every per-channel invariant of every channel, and no key paid twice per buyer.
pub fn maker(channels: &[Channel], sales: &[Sale]) -> Vec<Violation> {
    let mut out: Vec<Violation> = channels.iter().flat_map(|c| channel(c, sales)).collect();
    out.extend(keys_paid_once(sales));
    out
}

/// The invariants of one channel against the sales on it.
fn channel(c: &Channel, sales: &[Sale]) -> Vec<Violation> {
    let v = |invariant| Violation::new(Party::Maker, invariant, c.channel_oid);
    let steps = steps(c, sales);
    let sum = |o: Outcome| -> U256 {
        steps
            .iter()
            .filter(|s| outcome(s.sale.status) == o)
            .fold(U256::ZERO, |acc, s| acc.saturating_add(s.sale.amount_paid))
    };
    let (spent, unresolved) = (sum(Outcome::Spent), sum(Outcome::Unresolved));
    let mut out = Vec::new();
    let accounted = c
        .remaining
        .checked_add(c.inflight)
        .and_then(|x| x.checked_add(spent));
    if accounted != Some(c.amount) {
        out.push(
            v(Invariant::AmountConserved)
                .figure("amount", c.amount)
                .figure("remaining", c.remaining)
                .figure("inflight", c.inflight)
                .figure("spent", spent),
        );
    }
    if c.inflight != unresolved {
        out.push(
            v(Invariant::InflightMatchesSales)
                .figure("inflight", c.inflight)
                .figure("unresolved_sales", unresolved),
        );
    }
    let mut live: Vec<&Step> = steps
        .iter()
        .filter(|s| outcome(s.sale.status) != Outcome::RolledBack)
        .collect();
    live.sort_by_key(|s| s.seq);
    let expected_seq = FIRST_SEQ + live.len() as u64;
    if c.seq != expected_seq {
        out.push(
            v(Invariant::SeqMatchesRecords)
                .figure("seq", c.seq)
                .figure("live_sales", live.len())
                .figure("expected_seq", expected_seq),
        );
    }
    if let Some((i, s)) = live
        .iter()
        .enumerate()
        .find(|(i, s)| s.seq != FIRST_SEQ + 1 + *i as u64)
    {
        out.push(
            v(Invariant::SeqSequence)
                .figure("expected_seq", FIRST_SEQ + 1 + i as u64)
                .figure("sale_seq", s.seq)
                .figure("tx_id", s.sale.tx_id),
        );
    }
    if let Some(last) = live.last()
        && last.remaining != c.remaining
    {
        out.push(
            v(Invariant::RemainingMatchesRecords)
                .figure("remaining", c.remaining)
                .figure("latest_sale_remaining", last.remaining)
                .figure("latest_sale_seq", last.seq),
        );
    }
    out
}

/// Completed sales with a price, more than one per (buyer delegate, key).
fn keys_paid_once(sales: &[Sale]) -> Vec<Violation> {
    let mut paid: BTreeMap<(Address, KeyId), (usize, ChannelId)> = BTreeMap::new();
    for s in sales
        .iter()
        .filter(|s| s.status == SaleStatus::Completed && !s.amount_paid.is_zero())
    {
        let e = paid
            .entry((s.buyer_delegate, s.key_id))
            .or_insert((0, s.payment_channel));
        e.0 += 1;
    }
    paid.into_iter()
        .filter(|(_, (n, _))| *n > 1)
        .map(|((buyer, key), (n, channel))| {
            Violation::new(Party::Maker, Invariant::KeyPaidOnce, channel)
                .figure("buyer", buyer)
                .figure("key_id", key)
                .figure("times_paid", n)
        })
        .collect()
}

/// Sales still unresolved `max_age_ns` after they were created (at `now_ns`), one violation
/// per sale on its payment channel: money stuck in flight.
pub fn stale_sales(sales: &[Sale], now_ns: u64, max_age_ns: u64) -> Vec<Violation> {
    sales
        .iter()
        .filter(|s| outcome(s.status) == Outcome::Unresolved)
        .filter(|s| now_ns.saturating_sub(s.created) > max_age_ns)
        .map(|s| {
            Violation::new(Party::Maker, Invariant::NoStaleInflight, s.payment_channel)
                .figure("tx_id", s.tx_id)
                .figure("paying_channel", s.paying_channel)
                .figure("amount", s.amount_paid)
                .figure("age_s", now_ns.saturating_sub(s.created) / 1_000_000_000)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::types::{ChannelState, MarketId, OfferId, Signature, TxId};

    pub(crate) const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
    pub(crate) const PAYING: ChannelId = ChannelId([0xc1; 16]);
    const BUYER: Address = Address::repeat_byte(0x55);

    pub(crate) fn channel(oid: ChannelId, ty: ChannelType, amount: u64) -> Channel {
        Channel {
            channel_oid: oid,
            channel_type: ty,
            market_oid: MarketId([0xa1; 16]),
            member_oid: None,
            timestamp: 0,
            open_at: U256::ZERO,
            marketmaker: Address::ZERO,
            actor: Address::ZERO,
            delegate: Address::ZERO,
            recipient: Address::ZERO,
            amount: U256::from(amount),
            timeout: 10,
            state: ChannelState::Open,
            seq: FIRST_SEQ,
            remaining: U256::from(amount),
            inflight: U256::ZERO,
            close: None,
        }
    }

    /// A market with a payment channel of 100 and a paying channel of 200, and `n` sales of
    /// `price` each, all completed, applied to both channels as the store does.
    pub(crate) fn market(n: u64, price: u64) -> (Vec<Channel>, Vec<Sale>) {
        let mut payment = channel(PAYMENT, ChannelType::Payment, 100);
        let mut paying = channel(PAYING, ChannelType::Paying, 200);
        let sales = (0..n)
            .map(|i| {
                payment.seq += 1;
                paying.seq += 1;
                payment.remaining -= U256::from(price);
                paying.remaining -= U256::from(price);
                Sale {
                    tx_id: TxId([i as u8; 16]),
                    created: i,
                    status: SaleStatus::Completed,
                    sealed_key: None,
                    recovered: false,
                    key_id: KeyId([i as u8; 16]),
                    offer_id: OfferId([i as u8; 16]),
                    buyer_delegate: BUYER,
                    buyer_pubkey: [0; 32],
                    amount_offered: U256::from(price),
                    amount_paid: U256::from(price),
                    payment_channel: PAYMENT,
                    payment_seq: payment.seq,
                    payment_remaining: payment.remaining,
                    buyer_signature: Signature([0; 65]),
                    paying_channel: PAYING,
                    paying_seq: paying.seq,
                    paying_remaining: paying.remaining,
                    maker_sell_signature: Signature([0; 65]),
                    seller_signature: None,
                    maker_receipt_signature: None,
                    failure: None,
                }
            })
            .collect();
        (vec![payment, paying], sales)
    }

    fn which(v: &[Violation]) -> Vec<(Invariant, ChannelId)> {
        v.iter().map(|v| (v.invariant, v.channel)).collect()
    }

    #[test]
    fn a_consistent_market_has_no_violation() {
        let (channels, sales) = market(3, 5);
        assert_eq!(maker(&channels, &sales), vec![]);
        let (channels, sales) = market(0, 5);
        assert_eq!(maker(&channels, &sales), vec![]);
    }

    #[test]
    fn an_unresolved_sale_is_in_flight_and_live() {
        let (mut channels, mut sales) = market(3, 5);
        sales[2].status = SaleStatus::Inflight;
        for c in &mut channels {
            c.inflight = U256::from(5);
        }
        assert_eq!(maker(&channels, &sales), vec![]);
        // Stuck: the same inflight with the sale marked completed is wrong on both channels.
        sales[2].status = SaleStatus::Completed;
        let v = maker(&channels, &sales);
        assert_eq!(
            which(&v),
            vec![
                (Invariant::AmountConserved, PAYMENT),
                (Invariant::InflightMatchesSales, PAYMENT),
                (Invariant::AmountConserved, PAYING),
                (Invariant::InflightMatchesSales, PAYING),
            ]
        );
        assert_eq!(v[0].get("spent"), Some("15"));
        assert_eq!(v[0].get("inflight"), Some("5"));
    }

    #[test]
    fn a_rolled_back_sale_frees_its_seq() {
        let (mut channels, mut sales) = market(3, 5);
        // The last sale rolled back: seq and money as before it.
        sales[2].status = SaleStatus::Failed;
        for c in &mut channels {
            c.seq -= 1;
            c.remaining += U256::from(5);
        }
        assert_eq!(maker(&channels, &sales), vec![]);
        // A rollback that did not restore seq (the channel one ahead of its live sales).
        channels[0].seq += 1;
        let v = maker(&channels, &sales);
        assert_eq!(which(&v), vec![(Invariant::SeqMatchesRecords, PAYMENT)]);
        assert_eq!(v[0].get("expected_seq"), Some("3"));
        assert!(v[0].to_string().contains("seq_matches_records"), "{}", v[0]);
    }

    #[test]
    fn a_reused_seq_and_a_wrong_remaining_are_found() {
        let (mut channels, mut sales) = market(3, 5);
        sales[2].payment_seq = sales[1].payment_seq;
        channels[1].remaining += U256::from(1);
        channels[1].amount += U256::from(1);
        let v = maker(&channels, &sales);
        assert_eq!(
            which(&v),
            vec![
                (Invariant::SeqSequence, PAYMENT),
                (Invariant::RemainingMatchesRecords, PAYING),
            ]
        );
    }

    #[test]
    fn a_key_paid_twice_by_one_buyer_is_found() {
        let (channels, mut sales) = market(3, 5);
        sales[2].key_id = sales[0].key_id;
        let v = maker(&channels, &sales);
        assert_eq!(which(&v), vec![(Invariant::KeyPaidOnce, PAYMENT)]);
        assert_eq!(v[0].get("times_paid"), Some("2"));
        // Another buyer may buy the same key; a free key costs nothing twice.
        sales[2].buyer_delegate = Address::repeat_byte(0x66);
        assert_eq!(maker(&channels, &sales), vec![]);
    }

    #[test]
    fn unresolved_sales_past_the_bound_are_stale() {
        let (_, mut sales) = market(3, 5);
        assert_eq!(stale_sales(&sales, 1_000, 10), vec![]);
        sales[1].status = SaleStatus::Inflight;
        sales[1].created = 100;
        assert_eq!(stale_sales(&sales, 110, 10), vec![]);
        let v = stale_sales(&sales, 111, 10);
        assert_eq!(which(&v), vec![(Invariant::NoStaleInflight, PAYMENT)]);
        assert_eq!(v[0].get("amount"), Some("5"));
    }
}

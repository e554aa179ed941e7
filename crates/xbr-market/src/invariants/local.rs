//! A seller's or buyer's invariants, over its own channel mirror and its records (the seller's
//! sales, the buyer's purchases), as far as those records allow: a party does not know its
//! channel's deposit, so it checks that its records form one unbroken chain of states and that
//! its channel stands at the last of them.
//!
//! Pass the live records only (a record voided by a rollback is not a state of the channel).

use std::collections::{BTreeMap, BTreeSet};

use super::{Invariant, Party, Violation};
use crate::types::{ChannelId, KeyId, LocalChannel, Purchase, SellerSale, U256};

/// One record: the key, the amount, and the channel state it left.
#[derive(Clone, Copy, Debug)]
struct Record {
    channel: ChannelId,
    key_id: KeyId,
    seq: u64,
    amount: U256,
    balance: U256,
}

/// The seller's invariants: its sales on each paying channel chain up, its active channel is
/// at the last one's state.
pub fn seller(channel: Option<&LocalChannel>, sales: &[SellerSale]) -> Vec<Violation> {
    let records: Vec<Record> = sales
        .iter()
        .map(|s| Record {
            channel: s.channel_oid,
            key_id: s.key_id,
            seq: s.seq,
            amount: s.amount,
            balance: s.balance,
        })
        .collect();
    check(Party::Seller, channel, &records)
}

/// The buyer's invariants: as the seller's over its purchases, and no key bought twice.
pub fn buyer(channel: Option<&LocalChannel>, purchases: &[Purchase]) -> Vec<Violation> {
    let records: Vec<Record> = purchases
        .iter()
        .map(|p| Record {
            channel: p.channel_oid,
            key_id: p.key_id,
            seq: p.seq,
            amount: p.amount,
            balance: p.balance,
        })
        .collect();
    let mut out = check(Party::Buyer, channel, &records);
    let mut seen = BTreeSet::new();
    for r in &records {
        if !seen.insert(r.key_id) && !r.amount.is_zero() {
            out.push(
                Violation::new(Party::Buyer, Invariant::KeyPaidOnce, r.channel)
                    .figure("key_id", r.key_id),
            );
        }
    }
    out
}

fn check(party: Party, channel: Option<&LocalChannel>, records: &[Record]) -> Vec<Violation> {
    let mut by_channel: BTreeMap<ChannelId, Vec<&Record>> = BTreeMap::new();
    for r in records {
        by_channel.entry(r.channel).or_default().push(r);
    }
    let mut out = Vec::new();
    for (oid, rs) in &mut by_channel {
        rs.sort_by_key(|r| r.seq);
        let v = |invariant| Violation::new(party, invariant, *oid);
        for pair in rs.windows(2) {
            let (prev, r) = (pair[0], pair[1]);
            if r.seq != prev.seq + 1 {
                out.push(
                    v(Invariant::SeqSequence)
                        .figure("previous_seq", prev.seq)
                        .figure("seq", r.seq),
                );
            } else if r.balance.checked_add(r.amount) != Some(prev.balance) {
                out.push(
                    v(Invariant::BalanceSequence)
                        .figure("seq", r.seq)
                        .figure("previous_balance", prev.balance)
                        .figure("amount", r.amount)
                        .figure("balance", r.balance),
                );
            }
        }
        let (Some(ch), Some(last)) = (channel.filter(|c| c.channel_oid == *oid), rs.last()) else {
            continue;
        };
        if ch.seq != last.seq {
            out.push(
                v(Invariant::SeqMatchesRecords)
                    .figure("seq", ch.seq)
                    .figure("last_record_seq", last.seq)
                    .figure("records", rs.len()),
            );
        } else if ch.balance != last.balance {
            out.push(
                v(Invariant::RemainingMatchesRecords)
                    .figure("balance", ch.balance)
                    .figure("last_record_balance", last.balance),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariants::maker::tests::{PAYING, PAYMENT};
    use crate::types::{MarketId, Signature};

    fn local(oid: ChannelId, seq: u64, balance: u64) -> LocalChannel {
        LocalChannel {
            channel_oid: oid,
            market_oid: MarketId([0xa1; 16]),
            seq,
            balance: U256::from(balance),
        }
    }

    /// `n` seller sales of 5 each from (seq 1, balance 200) and the channel after them.
    fn sales(n: u64) -> (LocalChannel, Vec<SellerSale>) {
        let sales = (1..=n)
            .map(|i| SellerSale {
                channel_oid: PAYING,
                seq: 1 + i,
                created: i,
                key_id: KeyId([i as u8; 16]),
                buyer_pubkey: [0; 32],
                amount: U256::from(5),
                balance: U256::from(200 - 5 * i),
                maker_signature: Signature([0; 65]),
                seller_signature: Signature([0; 65]),
                voided: false,
            })
            .collect();
        (local(PAYING, 1 + n, 200 - 5 * n), sales)
    }

    fn purchases(n: u64) -> (LocalChannel, Vec<Purchase>) {
        let (_, s) = sales(n);
        let purchases = s
            .into_iter()
            .map(|s| Purchase {
                key_id: s.key_id,
                created: s.created,
                wrapped_key: vec![],
                channel_oid: PAYMENT,
                seq: s.seq,
                amount: s.amount,
                balance: s.balance - U256::from(100),
                buyer_signature: Signature([0; 65]),
                maker_signature: Signature([0; 65]),
                verified: true,
            })
            .collect();
        (local(PAYMENT, 1 + n, 100 - 5 * n), purchases)
    }

    fn which(v: &[Violation]) -> Vec<(Party, Invariant)> {
        v.iter().map(|v| (v.party, v.invariant)).collect()
    }

    #[test]
    fn consistent_records_have_no_violation() {
        let (ch, s) = sales(4);
        assert_eq!(seller(Some(&ch), &s), vec![]);
        let (ch, p) = purchases(4);
        assert_eq!(buyer(Some(&ch), &p), vec![]);
        // A channel adopted without records of its own: nothing to check against.
        assert_eq!(seller(Some(&local(PAYING, 9, 1)), &[]), vec![]);
        assert_eq!(buyer(None, &p), vec![]);
    }

    #[test]
    fn a_channel_behind_or_off_its_records_is_found() {
        // The seller adopted a lower seq while keeping the record above it.
        let (mut ch, s) = sales(4);
        ch.seq -= 1;
        ch.balance += U256::from(5);
        let v = seller(Some(&ch), &s);
        assert_eq!(
            which(&v),
            vec![(Party::Seller, Invariant::SeqMatchesRecords)]
        );
        assert_eq!(v[0].get("last_record_seq"), Some("5"));
        let (mut ch, p) = purchases(2);
        ch.balance += U256::from(1);
        let v = buyer(Some(&ch), &p);
        assert_eq!(
            which(&v),
            vec![(Party::Buyer, Invariant::RemainingMatchesRecords)]
        );
    }

    #[test]
    fn a_broken_chain_of_records_is_found() {
        let (ch, mut s) = sales(4);
        s.remove(1);
        let v = seller(Some(&ch), &s);
        assert_eq!(which(&v), vec![(Party::Seller, Invariant::SeqSequence)]);
        let (ch, mut s) = sales(4);
        s[2].balance += U256::from(1);
        s[3].balance += U256::from(1);
        let v = seller(Some(&ch), &s);
        assert_eq!(
            which(&v),
            vec![
                (Party::Seller, Invariant::BalanceSequence),
                (Party::Seller, Invariant::RemainingMatchesRecords)
            ]
        );
    }

    #[test]
    fn a_key_bought_twice_is_found() {
        let (ch, mut p) = purchases(3);
        p[2].key_id = p[0].key_id;
        let v = buyer(Some(&ch), &p);
        assert_eq!(which(&v), vec![(Party::Buyer, Invariant::KeyPaidOnce)]);
    }
}

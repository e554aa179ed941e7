//! The invariant across parties, at rest (nothing trading): the maker and the channel's other
//! party (the buyer for a payment channel, the seller for a paying channel) stand at the same
//! seq and remaining, and nothing is in flight at either.

use super::{Invariant, Party, Position, Violation};
use crate::types::ChannelId;

/// Compares the maker's view of `channel` with the `other` party's own. One violation (with
/// both positions) when they differ or something is in flight.
pub fn agreement(
    channel: ChannelId,
    maker: Position,
    other: Party,
    own: Position,
) -> Vec<Violation> {
    if maker.seq == own.seq
        && maker.remaining == own.remaining
        && maker.inflight.is_zero()
        && own.inflight.is_zero()
    {
        return vec![];
    }
    let who = other.as_str();
    vec![
        Violation::new(other, Invariant::PartiesAgree, channel)
            .figure("maker_seq", maker.seq)
            .figure("maker_remaining", maker.remaining)
            .figure("maker_inflight", maker.inflight)
            .figure(
                if other == Party::Seller {
                    "seller_seq"
                } else {
                    "buyer_seq"
                },
                own.seq,
            )
            .figure(
                if other == Party::Seller {
                    "seller_remaining"
                } else {
                    "buyer_remaining"
                },
                own.remaining,
            )
            .figure("party", who),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::U256;

    const CH: ChannelId = ChannelId([7; 16]);

    fn at(seq: u64, remaining: u64, inflight: u64) -> Position {
        Position {
            seq,
            remaining: U256::from(remaining),
            inflight: U256::from(inflight),
        }
    }

    #[test]
    fn equal_positions_at_rest_agree() {
        assert_eq!(
            agreement(CH, at(5, 10, 0), Party::Buyer, at(5, 10, 0)),
            vec![]
        );
    }

    #[test]
    fn a_seq_remaining_or_inflight_difference_is_found() {
        for (maker, own) in [
            (at(180, 10, 0), at(179, 10, 0)),
            (at(5, 10, 0), at(5, 11, 0)),
            (at(5, 8, 2), at(5, 8, 0)),
        ] {
            let v = agreement(CH, maker, Party::Seller, own);
            assert_eq!(v.len(), 1, "{maker:?} vs {own:?}");
            assert_eq!(v[0].invariant, Invariant::PartiesAgree);
            assert_eq!(v[0].get("maker_seq"), Some(maker.seq.to_string().as_str()));
            assert_eq!(v[0].get("seller_seq"), Some(own.seq.to_string().as_str()));
        }
    }
}

//! The money-path invariants, as pure functions over store records: each returns the
//! [`Violation`]s it finds (an empty list when everything holds). Used by the unit tests, the
//! process-level fault test, and xbrd's `invariants` health check and `GET /v1/invariants`.
//!
//! | module | checks |
//! |---|---|
//! | [`maker`] | per channel at the maker: `amount = remaining + inflight + spent`, inflight = the unresolved sales, seq = 1 + the live sales (seqs without gap or reuse), the latest live sale's state is the channel's, no key paid twice per buyer, no sale unresolved past a bound |
//! | [`local`] | a seller's or buyer's own records: each record one step from the previous one, the channel at the last record's state, no key bought twice |
//! | [`agreement`] | at rest, across parties: the maker's payment channel equals the buyer's, its paying channel the seller's, nothing in flight |
//! | [`read`] | consistent snapshots of the stores and the per-role checks over them |
//!
//! A channel is first recorded at seq [`FIRST_SEQ`] with nothing spent; every live sale (one not
//! rolled back) advances it by one.

pub mod agreement;
pub mod local;
pub mod maker;
pub mod read;

use std::fmt;

use crate::types::{ChannelId, U256};

pub use agreement::agreement;
pub use local::{buyer, seller};
pub use maker::{maker, stale_sales};

/// The seq of a channel with no transaction yet (see `MarketMaker::mirror_channel`).
pub const FIRST_SEQ: u64 = 1;

/// The party whose records a check looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    /// The market maker (both channels of every sale).
    Maker,
    /// A seller (its paying channel).
    Seller,
    /// A buyer (its payment channel).
    Buyer,
}

impl Party {
    /// `marketmaker`, `seller` or `buyer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Maker => "marketmaker",
            Party::Seller => "seller",
            Party::Buyer => "buyer",
        }
    }
}

/// Which invariant does not hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// Maker: `amount ≠ remaining + inflight + spent` on a channel.
    AmountConserved,
    /// Maker: the channel's inflight is not the sum of its unresolved sales.
    InflightMatchesSales,
    /// Maker: the channel's seq is not 1 + its live sales; or a seller's/buyer's channel is not
    /// at the seq of its last record.
    SeqMatchesRecords,
    /// The live sales or records of a channel skip or reuse a seq.
    SeqSequence,
    /// The channel's remaining is not what its latest live sale or record left.
    RemainingMatchesRecords,
    /// A record's balance is not the previous record's minus its amount.
    BalanceSequence,
    /// A key was paid for more than once by the same buyer.
    KeyPaidOnce,
    /// Maker: a sale still unresolved after the bound (money stuck in flight).
    NoStaleInflight,
    /// Across parties at rest: seq or remaining differ, or something is still in flight.
    PartiesAgree,
}

impl Invariant {
    /// A stable snake_case name (JSON, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            Invariant::AmountConserved => "amount_conserved",
            Invariant::InflightMatchesSales => "inflight_matches_sales",
            Invariant::SeqMatchesRecords => "seq_matches_records",
            Invariant::SeqSequence => "seq_sequence",
            Invariant::RemainingMatchesRecords => "remaining_matches_records",
            Invariant::BalanceSequence => "balance_sequence",
            Invariant::KeyPaidOnce => "key_paid_once",
            Invariant::NoStaleInflight => "no_stale_inflight",
            Invariant::PartiesAgree => "parties_agree",
        }
    }
}

/// One invariant that does not hold: where, which, and the figures that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Whose records.
    pub party: Party,
    /// Which invariant.
    pub invariant: Invariant,
    /// The channel concerned.
    pub channel: ChannelId,
    /// The figures, by name (amounts in base units, decimal).
    pub figures: Vec<(&'static str, String)>,
}

impl Violation {
    fn new(party: Party, invariant: Invariant, channel: ChannelId) -> Self {
        Violation {
            party,
            invariant,
            channel,
            figures: Vec::new(),
        }
    }

    fn figure(mut self, name: &'static str, value: impl fmt::Display) -> Self {
        self.figures.push((name, value.to_string()));
        self
    }

    /// The figure called `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.figures
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} on channel {}:",
            self.party.as_str(),
            self.invariant.as_str(),
            self.channel
        )?;
        for (name, value) in &self.figures {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// A channel's off-chain position as one party reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Off-chain seq.
    pub seq: u64,
    /// Off-chain remaining balance.
    pub remaining: U256,
    /// Amount in flight (always zero for a seller's or buyer's own view).
    pub inflight: U256,
}

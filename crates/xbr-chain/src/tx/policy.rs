//! [`TxPolicy`]: the limits and patience of every transaction a [`Gateway`](crate::Gateway) sends.

use std::time::Duration;

/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;

/// How transactions are priced, replaced and awaited (part of [`ConnectOptions`](crate::ConnectOptions)).
///
/// The [`Default`] suits dev chains (ganache, anvil) and is a cautious start elsewhere: fees
/// capped at 200 gwei (tip 5 gwei), mined is enough (1 confirmation), a transaction not mined
/// after 60 s is re-sent with fees 20 % higher, at most 3 times, and given up after 300 s.
/// Public chains should take these from configuration (e.g. 3+ confirmations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxPolicy {
    /// Cap of `maxFeePerGas` (wei). A base fee above it is
    /// [`ChainError::FeeCapExceeded`](crate::ChainError::FeeCapExceeded); replacements never go above it.
    pub max_fee_per_gas: u128,
    /// Cap of `maxPriorityFeePerGas`, the tip (wei).
    pub max_priority_fee_per_gas: u128,
    /// Blocks a receipt must have (its own included) before a send returns: 1 = mined is enough.
    pub confirmations: u64,
    /// A transaction not mined after this long is re-signed with the same nonce and higher fees.
    pub replace_after: Duration,
    /// How much a replacement raises both fees, in percent (nodes require at least 10).
    pub fee_bump_percent: u32,
    /// How many replacements one transaction may get.
    pub max_replacements: u32,
    /// How long a send waits for the transaction to be mined (all replacements included).
    pub receipt_timeout: Duration,
}

impl Default for TxPolicy {
    fn default() -> Self {
        Self {
            max_fee_per_gas: 200 * GWEI,
            max_priority_fee_per_gas: 5 * GWEI,
            confirmations: 1,
            replace_after: Duration::from_secs(60),
            fee_bump_percent: 20,
            max_replacements: 3,
            receipt_timeout: Duration::from_secs(300),
        }
    }
}

impl TxPolicy {
    /// The smallest bump nodes accept for a replacement (geth's `txpool.pricebump`).
    pub const MIN_FEE_BUMP_PERCENT: u32 = 10;

    /// The policy with `fee_bump_percent` raised to [`TxPolicy::MIN_FEE_BUMP_PERCENT`] and
    /// `confirmations` to 1 where they are below (a smaller bump is refused by nodes).
    pub fn normalized(mut self) -> Self {
        self.fee_bump_percent = self.fee_bump_percent.max(Self::MIN_FEE_BUMP_PERCENT);
        self.confirmations = self.confirmations.max(1);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_enforces_the_minimum_bump_and_one_confirmation() {
        let p = TxPolicy {
            fee_bump_percent: 5,
            confirmations: 0,
            ..TxPolicy::default()
        }
        .normalized();
        assert_eq!(p.fee_bump_percent, 10);
        assert_eq!(p.confirmations, 1);
        assert_eq!(TxPolicy::default().normalized(), TxPolicy::default());
    }
}

//! EIP-1559 fees under the [`TxPolicy`] caps: the first offer and the bumps of replacements.

use crate::error::{ChainError, Result};
use crate::tx::TxPolicy;

/// The two EIP-1559 fees of one signed transaction (wei per gas).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fees {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// The fees to offer given the next block's `base_fee` and the estimator's suggestion, capped
/// by `policy`. A base fee above the cap is [`ChainError::FeeCapExceeded`]: the transaction
/// could not be mined while it lasts, and waiting is the operator's decision.
pub(crate) fn capped(base_fee: u128, suggested: Fees, policy: &TxPolicy) -> Result<Fees> {
    let cap = policy.max_fee_per_gas;
    if base_fee > cap {
        return Err(ChainError::FeeCapExceeded { base_fee, cap });
    }
    let tip = suggested
        .max_priority_fee_per_gas
        .min(policy.max_priority_fee_per_gas);
    // Room for the base fee to rise for a few blocks (alloy's estimator doubles it).
    let max_fee = suggested
        .max_fee_per_gas
        .max(base_fee.saturating_mul(2).saturating_add(tip))
        .min(cap);
    Ok(Fees {
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip.min(max_fee),
    })
}

/// The fees of a replacement of a transaction sent with `previous`: both raised by
/// `fee_bump_percent`, capped. `None` when the caps leave less than the minimum bump nodes accept
/// (the replacement would be refused).
pub(crate) fn bumped(previous: Fees, policy: &TxPolicy) -> Option<Fees> {
    let raise = |fee: u128, percent: u32| {
        let raised = fee.saturating_mul(100 + u128::from(percent)).div_ceil(100);
        raised.max(fee.saturating_add(1))
    };
    let percent = policy.fee_bump_percent;
    let max_fee = raise(previous.max_fee_per_gas, percent).min(policy.max_fee_per_gas);
    let tip = raise(previous.max_priority_fee_per_gas, percent)
        .min(policy.max_priority_fee_per_gas)
        .min(max_fee);
    let least = TxPolicy::MIN_FEE_BUMP_PERCENT;
    let enough = max_fee >= raise(previous.max_fee_per_gas, least)
        && tip >= raise(previous.max_priority_fee_per_gas, least);
    enough.then_some(Fees {
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: tip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fees(max: u128, tip: u128) -> Fees {
        Fees {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: tip,
        }
    }

    fn policy(max: u128, tip: u128) -> TxPolicy {
        TxPolicy {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: tip,
            ..TxPolicy::default()
        }
    }

    #[test]
    fn the_offer_is_capped_and_a_base_fee_above_the_cap_is_refused() {
        let p = policy(1000, 10);
        assert_eq!(capped(100, fees(150, 50), &p).unwrap(), fees(210, 10));
        assert_eq!(capped(600, fees(1300, 5), &p).unwrap(), fees(1000, 5));
        let err = capped(1001, fees(2100, 5), &p).unwrap_err();
        assert!(
            matches!(
                err,
                ChainError::FeeCapExceeded {
                    base_fee: 1001,
                    cap: 1000
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_bump_raises_both_fees_until_the_cap_leaves_too_little() {
        let p = policy(1000, 100);
        assert_eq!(bumped(fees(500, 50), &p), Some(fees(600, 60)));
        assert_eq!(bumped(fees(1, 1), &p), Some(fees(2, 2)));
        assert_eq!(bumped(fees(880, 50), &p), Some(fees(1000, 60)));
        assert_eq!(
            bumped(fees(950, 50), &p),
            None,
            "only 5 % left under the cap"
        );
        assert_eq!(bumped(fees(500, 95), &p), None, "the tip cap leaves 5 %");
    }
}

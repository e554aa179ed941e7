//! `[ethereum.transactions]` → xbr-chain's [`TxPolicy`]: fee caps in gwei, confirmations, and when
//! and how a stuck transaction is replaced. Unset fields keep [`TxPolicy::default`] (dev chains).

use xbr_chain::TxPolicy;

use super::parse::{invalid, parse_duration, parse_gwei, parse_i64};
use crate::config::ConfigError;
use crate::config::raw::{RawTransactions, Scalar};

const SECTION: &str = "ethereum.transactions";

/// A count field of the section: an integer in `range`.
fn count(
    name: &str,
    raw: &Option<Scalar>,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, ConfigError> {
    raw.as_ref()
        .map(|s| {
            parse_i64(
                &format!("{SECTION}.{name}"),
                s,
                &format!("an integer in {}..={}", range.start(), range.end()),
                |v| range.contains(&v),
            )
        })
        .transpose()
}

/// Validates `[ethereum.transactions]`.
pub(super) fn parse_transactions(raw: &RawTransactions) -> Result<TxPolicy, ConfigError> {
    let mut p = TxPolicy::default();
    let field = |name: &str| format!("{SECTION}.{name}");
    let gwei = |name: &str, s: &Option<Scalar>| -> Result<Option<u128>, ConfigError> {
        s.as_ref().map(|s| parse_gwei(&field(name), s)).transpose()
    };
    let duration = |name: &str, s: &Option<Scalar>| {
        s.as_ref()
            .map(|s| parse_duration(&field(name), s))
            .transpose()
    };
    if let Some(v) = gwei("max_fee_gwei", &raw.max_fee_gwei)? {
        p.max_fee_per_gas = v;
    }
    if let Some(v) = gwei("max_priority_fee_gwei", &raw.max_priority_fee_gwei)? {
        p.max_priority_fee_per_gas = v;
    }
    if p.max_fee_per_gas == 0 {
        return Err(invalid(field("max_fee_gwei"), "a cap > 0", "0"));
    }
    if p.max_priority_fee_per_gas > p.max_fee_per_gas {
        return Err(invalid(
            field("max_priority_fee_gwei"),
            "a tip cap no higher than max_fee_gwei",
            format!(
                "{} wei > {} wei",
                p.max_priority_fee_per_gas, p.max_fee_per_gas
            ),
        ));
    }
    if let Some(v) = count("confirmations", &raw.confirmations, 1..=1_000)? {
        p.confirmations = v as u64;
    }
    if let Some(v) = duration("replace_after", &raw.replace_after)? {
        p.replace_after = v;
    }
    let min_bump = i64::from(TxPolicy::MIN_FEE_BUMP_PERCENT);
    if let Some(v) = count("fee_bump_percent", &raw.fee_bump_percent, min_bump..=1_000)? {
        p.fee_bump_percent = v as u32;
    }
    if let Some(v) = count("max_replacements", &raw.max_replacements, 0..=100)? {
        p.max_replacements = v as u32;
    }
    if let Some(v) = duration("receipt_timeout", &raw.receipt_timeout)? {
        p.receipt_timeout = v;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use xbr_chain::tx::GWEI;

    fn parse(toml_text: &str) -> Result<TxPolicy, ConfigError> {
        parse_transactions(&toml::from_str(toml_text).unwrap())
    }

    #[test]
    fn unset_fields_keep_the_defaults() {
        assert_eq!(parse("").unwrap(), TxPolicy::default());
    }

    #[test]
    fn every_field_maps_to_the_policy() {
        let p = parse(
            r#"max_fee_gwei = 80
max_priority_fee_gwei = "1.5"
confirmations = 3
replace_after = "90s"
fee_bump_percent = 25
max_replacements = 5
receipt_timeout = "10m"
"#,
        )
        .unwrap();
        assert_eq!(
            p,
            TxPolicy {
                max_fee_per_gas: 80 * GWEI,
                max_priority_fee_per_gas: 1_500_000_000,
                confirmations: 3,
                replace_after: Duration::from_secs(90),
                fee_bump_percent: 25,
                max_replacements: 5,
                receipt_timeout: Duration::from_secs(600),
            }
        );
        // A float gwei value and a sub-gwei tip.
        let p = parse("max_fee_gwei = 2.25\nmax_priority_fee_gwei = 0.000000001").unwrap();
        assert_eq!(
            (p.max_fee_per_gas, p.max_priority_fee_per_gas),
            (2_250_000_000, 1)
        );
    }

    #[test]
    fn bad_values_name_their_field() {
        for (text, field) in [
            ("max_fee_gwei = 0", "max_fee_gwei"),
            ("max_fee_gwei = \"lots\"", "max_fee_gwei"),
            ("max_fee_gwei = \"1.0000000001\"", "max_fee_gwei"),
            (
                "max_fee_gwei = 1\nmax_priority_fee_gwei = 2",
                "max_priority_fee_gwei",
            ),
            ("confirmations = 0", "confirmations"),
            ("fee_bump_percent = 5", "fee_bump_percent"),
            ("max_replacements = -1", "max_replacements"),
            ("replace_after = \"0s\"", "replace_after"),
            ("receipt_timeout = \"soon\"", "receipt_timeout"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(
                e.field(),
                Some(format!("{SECTION}.{field}").as_str()),
                "{text}: {e}"
            );
        }
    }
}

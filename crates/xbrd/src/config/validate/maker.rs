//! The market maker's chain settings: `[market.scan]` → xbr-market's [`ScanConfig`] (how the
//! channel logs are scanned) and `[market.close]` → [`CloseConfig`] (how the close worker retries).
//! Only the maker reads the chain's logs and closes channels, so the other roles may not set them.

use xbr_market::maker::{CloseConfig, ScanConfig};

use super::parse::{invalid, parse_duration, parse_i64};
use crate::config::raw::{RawClose, RawMarket, RawScan, Scalar};
use crate::config::{ConfigError, Role};

fn blocks(field: &str, raw: &Option<Scalar>, min: i64) -> Result<Option<u64>, ConfigError> {
    raw.as_ref()
        .map(|s| {
            parse_i64(
                field,
                s,
                &format!("a number of blocks in {min}..=1000000"),
                |v| (min..=1_000_000).contains(&v),
            )
            .map(|v| v as u64)
        })
        .transpose()
}

fn parse_scan(raw: &RawScan) -> Result<ScanConfig, ConfigError> {
    let mut c = ScanConfig::default();
    if let Some(v) = blocks("market.scan.max_range", &raw.max_range, 1)? {
        c.max_range = v;
    }
    if let Some(v) = blocks("market.scan.confirmations", &raw.confirmations, 0)? {
        c.confirmations = v;
    }
    if let Some(v) = blocks("market.scan.rescan", &raw.rescan, 0)? {
        c.rescan = v;
    }
    Ok(c)
}

fn parse_close(raw: &RawClose) -> Result<CloseConfig, ConfigError> {
    let mut c = CloseConfig::default();
    for (name, value, slot) in [
        ("retry_min", &raw.retry_min, &mut c.retry_min),
        ("retry_max", &raw.retry_max, &mut c.retry_max),
        ("poll", &raw.poll, &mut c.poll),
        ("resubmit_after", &raw.resubmit_after, &mut c.resubmit_after),
        ("reply_wait", &raw.reply_wait, &mut c.reply_wait),
    ] {
        if let Some(s) = value {
            *slot = parse_duration(&format!("market.close.{name}"), s)?;
        }
    }
    if c.retry_min > c.retry_max {
        return Err(invalid(
            "market.close.retry_max",
            "a backoff no shorter than retry_min",
            format!("{:?} < {:?}", c.retry_max, c.retry_min),
        ));
    }
    Ok(c)
}

/// Validates `[market.scan]` and `[market.close]` (defaults when unset).
pub(super) fn parse_maker_chain(
    raw: &RawMarket,
    role: Role,
) -> Result<(ScanConfig, CloseConfig), ConfigError> {
    if role != Role::Marketmaker {
        let set = [
            ("market.scan", raw.scan.is_some()),
            ("market.close", raw.close.is_some()),
        ];
        if let Some((field, _)) = set.iter().find(|(_, present)| *present) {
            return Err(invalid(
                *field,
                "no [market.scan] or [market.close] unless role = \"marketmaker\"",
                role.to_string(),
            ));
        }
    }
    Ok((
        raw.scan
            .as_ref()
            .map(parse_scan)
            .transpose()?
            .unwrap_or_default(),
        raw.close
            .as_ref()
            .map(parse_close)
            .transpose()?
            .unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(role: Role, toml_text: &str) -> Result<(ScanConfig, CloseConfig), ConfigError> {
        parse_maker_chain(&toml::from_str(toml_text).unwrap(), role)
    }

    #[test]
    fn maker_settings_map_to_the_market_configs() {
        let (scan, close) = parse(Role::Marketmaker, "").unwrap();
        assert_eq!(
            (scan, close),
            (ScanConfig::default(), CloseConfig::default())
        );
        let (scan, close) = parse(
            Role::Marketmaker,
            "[scan]\nmax_range = 500\nconfirmations = 12\nrescan = 64\n\
             [close]\nretry_min = \"1s\"\nretry_max = \"1m\"\npoll = \"5s\"\n\
             resubmit_after = \"10m\"\nreply_wait = 30\n",
        )
        .unwrap();
        assert_eq!(
            scan,
            ScanConfig {
                max_range: 500,
                confirmations: 12,
                rescan: 64
            }
        );
        assert_eq!(
            close,
            CloseConfig {
                retry_min: Duration::from_secs(1),
                retry_max: Duration::from_secs(60),
                poll: Duration::from_secs(5),
                resubmit_after: Duration::from_secs(600),
                reply_wait: Duration::from_secs(30),
            }
        );
    }

    #[test]
    fn bad_values_and_other_roles_are_refused() {
        for (role, text, field) in [
            (
                Role::Marketmaker,
                "[scan]\nmax_range = 0",
                "market.scan.max_range",
            ),
            (
                Role::Marketmaker,
                "[scan]\nconfirmations = -1",
                "market.scan.confirmations",
            ),
            (
                Role::Marketmaker,
                "[close]\npoll = \"0s\"",
                "market.close.poll",
            ),
            (
                Role::Marketmaker,
                "[close]\nretry_min = \"1m\"\nretry_max = \"1s\"",
                "market.close.retry_max",
            ),
            (Role::Seller, "[scan]\nmax_range = 10", "market.scan"),
            (Role::Buyer, "[close]\npoll = 1", "market.close"),
        ] {
            let e = parse(role, text).unwrap_err();
            assert_eq!(e.field(), Some(field), "{text}: {e}");
        }
    }
}

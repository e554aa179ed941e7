//! Value parsers shared by every config section (amounts, durations, numbers, addresses, UUIDs,
//! URIs), and the [`ConfigError`] constructors that name the field and the expected form.
//! Addresses go through `xbr_core::address`, so a mixed-case address must carry its EIP-55
//! checksum.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use alloy_primitives::{Address, U256};
use wamp_proto::uri::{UriMatch, check_uri};
use xbr_core::IdError;
use xbr_core::address::AddressError;

use crate::config::raw::Scalar;
use crate::config::{ConfigError, KeyFileError};

/// A missing field.
pub(super) fn missing(field: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError::Missing {
        field: field.into(),
        expected: expected.into(),
    }
}

/// A field with a bad value.
pub(super) fn invalid(
    field: impl Into<String>,
    expected: impl Into<String>,
    got: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        expected: expected.into(),
        got: got.into(),
    }
}

/// An unusable key or secret file named by `field`.
pub(super) fn key_file_error(field: &str) -> impl FnOnce(KeyFileError) -> ConfigError + '_ {
    move |source| ConfigError::KeyFile {
        field: field.to_owned(),
        source,
    }
}

fn show(s: &Scalar) -> String {
    match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Text(t) => format!("{t:?}"),
    }
}

/// `p` relative to `base` unless it is absolute.
pub(super) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

pub(super) const AMOUNT_FORM: &str =
    "token base units as a decimal string (e.g. \"35000000000000000000\") or \"<n> XBR\"";

/// Parses an amount: base units (integer or decimal string) or `"<n> XBR"` (18 decimals).
pub fn parse_amount(field: &str, s: &Scalar) -> Result<U256, ConfigError> {
    let bad = || invalid(field, AMOUNT_FORM, show(s));
    match s {
        Scalar::Int(i) if *i >= 0 => Ok(U256::from(*i as u64)),
        Scalar::Int(_) | Scalar::Float(_) => Err(bad()),
        Scalar::Text(t) => {
            let t = t.trim();
            let (number, scale) = match t.len().checked_sub(3).map(|i| t.split_at(i)) {
                Some((n, unit)) if unit.eq_ignore_ascii_case("xbr") => (n.trim(), 18usize),
                _ => (t, 0usize),
            };
            scaled_decimal(number, scale).ok_or_else(bad)
        }
    }
}

/// `number` (decimal digits, at most `scale` of them after a `.`) times `10^scale`.
fn scaled_decimal(number: &str, scale: usize) -> Option<U256> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty()
        || !digits_ok(int_part)
        || !digits_ok(frac_part)
        || frac_part.len() > scale
    {
        return None;
    }
    let padded = format!(
        "{int_part}{frac_part}{}",
        "0".repeat(scale - frac_part.len())
    );
    U256::from_str_radix(&padded, 10).ok()
}

/// Parses a gas price in gwei (a number with up to 9 decimals, e.g. `30` or `"1.5"`) into wei.
pub(super) fn parse_gwei(field: &str, s: &Scalar) -> Result<u128, ConfigError> {
    const FORM: &str = "a gas price in gwei, e.g. 30 or 1.5 (up to 9 decimals)";
    let text = match s {
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Text(t) => t.trim().to_owned(),
    };
    scaled_decimal(&text, 9)
        .and_then(|wei| u128::try_from(wei).ok())
        .ok_or_else(|| invalid(field, FORM, show(s)))
}

const DURATION_FORM: &str =
    "seconds as a number, or a duration string like \"10s\", \"500ms\", \"5m\"";

/// Parses a positive duration: seconds (number or numeric string) or a humantime string.
pub(super) fn parse_duration(field: &str, s: &Scalar) -> Result<Duration, ConfigError> {
    let bad = || invalid(field, DURATION_FORM, show(s));
    let d = match s {
        Scalar::Int(i) if *i > 0 => Duration::from_secs(*i as u64),
        Scalar::Float(f) if f.is_finite() && *f > 0.0 => Duration::from_secs_f64(*f),
        Scalar::Text(t) => match t.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f > 0.0 => Duration::from_secs_f64(f),
            Ok(_) => return Err(bad()),
            Err(_) => humantime::parse_duration(t.trim()).map_err(|_| bad())?,
        },
        _ => return Err(bad()),
    };
    if d.is_zero() { Err(bad()) } else { Ok(d) }
}

/// Parses a finite number that passes `ok`.
pub(super) fn parse_f64(
    field: &str,
    s: &Scalar,
    expected: &str,
    ok: impl Fn(f64) -> bool,
) -> Result<f64, ConfigError> {
    let v = match s {
        Scalar::Int(i) => *i as f64,
        Scalar::Float(f) => *f,
        Scalar::Text(t) => t
            .trim()
            .parse::<f64>()
            .map_err(|_| invalid(field, expected, show(s)))?,
    };
    if v.is_finite() && ok(v) {
        Ok(v)
    } else {
        Err(invalid(field, expected, show(s)))
    }
}

/// Parses an integer that passes `ok`.
pub(super) fn parse_i64(
    field: &str,
    s: &Scalar,
    expected: &str,
    ok: impl Fn(i64) -> bool,
) -> Result<i64, ConfigError> {
    let v = match s {
        Scalar::Int(i) => *i,
        Scalar::Text(t) => t
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid(field, expected, show(s)))?,
        Scalar::Float(_) => return Err(invalid(field, expected, show(s))),
    };
    if ok(v) {
        Ok(v)
    } else {
        Err(invalid(field, expected, show(s)))
    }
}

pub(super) const ADDRESS_FORM: &str =
    "an Ethereum address: 0x followed by 40 hex digits, EIP-55 checksummed if mixed case";

/// Parses `0x` + 40 hex digits. All-lowercase and all-uppercase digits are taken as they are;
/// mixed case must be the EIP-55 checksum (a wrong one is usually a typo), and the error then
/// shows the checksummed form of the digits given.
pub fn parse_address(field: &str, s: &str) -> Result<Address, ConfigError> {
    let t = s.trim();
    if !t.starts_with("0x") {
        return Err(invalid(field, ADDRESS_FORM, format!("{s:?}")));
    }
    xbr_core::address::parse_address(t).map_err(|e| match e {
        AddressError::BadChecksum { expected, .. } => invalid(
            field,
            ADDRESS_FORM,
            format!("{s:?}, whose mixed case fails the EIP-55 checksum (checksummed: {expected})"),
        ),
        _ => invalid(field, ADDRESS_FORM, format!("{s:?}")),
    })
}

/// Parses an address from user input (admin API paths, CLI), with a plain message on error.
pub fn parse_address_str(s: &str) -> Result<Address, String> {
    parse_address("address", s).map_err(|e| match e {
        ConfigError::Invalid { expected, got, .. } => format!("expected {expected}, got {got}"),
        other => other.to_string(),
    })
}

pub(super) const UUID_FORM: &str = "a UUID like \"627f1b5c-58c2-43b1-8422-a34f7d3f5a04\"";

/// Parses a typed 16-byte id (UUID, 32 hex digits or `0x` + 32 hex digits) of config `field`.
pub fn parse_id<T: FromStr<Err = IdError>>(field: &str, s: &str) -> Result<T, ConfigError> {
    s.trim()
        .parse()
        .map_err(|_| invalid(field, UUID_FORM, format!("{s:?}")))
}

/// Parses a typed id from user input (admin API paths), with a plain message on error.
pub fn parse_id_str<T: FromStr<Err = IdError>>(s: &str) -> Result<T, String> {
    parse_id("api_id", s).map_err(|_| format!("expected {UUID_FORM}, got {s:?}"))
}

/// A loose WAMP URI check (any non-empty components without whitespace or `#`).
pub(super) fn valid_uri(s: &str) -> bool {
    check_uri(s, false, UriMatch::Exact).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xbr_core::ApiId;

    #[test]
    fn amounts() {
        let t = |s: &str| parse_amount("f", &Scalar::Text(s.into()));
        assert_eq!(t("35 XBR").unwrap(), U256::from(35u128 * 10u128.pow(18)));
        assert_eq!(t("0.5xbr").unwrap(), U256::from(5u128 * 10u128.pow(17)));
        assert_eq!(
            t("35000000000000000000").unwrap(),
            U256::from(35u128 * 10u128.pow(18))
        );
        assert_eq!(parse_amount("f", &Scalar::Int(7)).unwrap(), U256::from(7));
        for bad in ["", "-1", "1.5", "abc", "1.0000000000000000001 XBR", "XBR"] {
            let e = t(bad).unwrap_err().to_string();
            assert!(
                e.contains("`f`") && e.contains("decimal string"),
                "{bad}: {e}"
            );
        }
        assert!(parse_amount("f", &Scalar::Float(1.0)).is_err());
    }

    #[test]
    fn durations() {
        let d = |s: Scalar| parse_duration("f", &s);
        assert_eq!(
            d(Scalar::Text("10s".into())).unwrap(),
            Duration::from_secs(10)
        );
        assert_eq!(
            d(Scalar::Text("500ms".into())).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(d(Scalar::Int(3)).unwrap(), Duration::from_secs(3));
        assert_eq!(d(Scalar::Float(0.25)).unwrap(), Duration::from_millis(250));
        assert!(d(Scalar::Int(0)).is_err());
        assert!(d(Scalar::Text("soon".into())).is_err());
    }

    #[test]
    fn addresses_and_uuids() {
        assert!(parse_address("a", "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9").is_ok());
        for bad in [
            "3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9",
            "0x123",
            "0xZZ5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9",
        ] {
            assert!(parse_address("a", bad).is_err(), "{bad}");
        }
        let id: ApiId = parse_id("u", "627f1b5c-58c2-43b1-8422-a34f7d3f5a04").unwrap();
        assert_eq!(id.to_string(), "627f1b5c-58c2-43b1-8422-a34f7d3f5a04");
        assert!(parse_id::<ApiId>("u", "627f1b5c").is_err());
    }

    const CHECKSUMMED: &str = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9";

    #[test]
    fn mixed_case_addresses_must_carry_their_checksum() {
        let want = parse_address("a", CHECKSUMMED).unwrap();
        // Single-case digits carry no checksum and are taken as they are.
        let lower = CHECKSUMMED.to_lowercase();
        assert_eq!(parse_address("a", &lower).unwrap(), want);
        let upper = format!("0x{}", CHECKSUMMED[2..].to_uppercase());
        assert_eq!(parse_address("a", &upper).unwrap(), want);
        // One letter's case flipped: rejected, naming the field and the checksummed form.
        let typo = CHECKSUMMED.replace("3E5e", "3e5e");
        let e = parse_address("market.maker", &typo)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`market.maker`"), "{e}");
        assert!(e.contains("fails the EIP-55 checksum"), "{e}");
        assert!(e.contains(CHECKSUMMED), "{e}");
        let e = parse_address_str(&typo).unwrap_err();
        assert!(
            e.contains("EIP-55") && e.contains(CHECKSUMMED) && e.contains(&typo),
            "{e}"
        );
        assert_eq!(parse_address_str(&lower).unwrap(), want);
    }
}

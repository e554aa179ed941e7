//! `[[transports]]`: router URL, serializer and Autobahn-style retry settings.

use super::parse::{invalid, missing, parse_f64, parse_i64};
use crate::config::raw::{RawTransport, Scalar};
use crate::config::{ConfigError, RetryPolicy, Serializer, Transport};

const URL_FORM: &str = "a router URL with scheme ws, wss, rs, rss or rs+unix (e.g. \"ws://127.0.0.1:8080/ws\", \"rs+unix:///run/crossbar.sock\")";

/// Validates `transports[i]`.
pub(super) fn parse_transport(i: usize, t: &RawTransport) -> Result<Transport, ConfigError> {
    let f = |name: &str| format!("transports[{i}].{name}");
    let raw_url = t
        .url
        .as_deref()
        .ok_or_else(|| missing(f("url"), URL_FORM))?;
    let url = url::Url::parse(raw_url.trim())
        .map_err(|_| invalid(f("url"), URL_FORM, format!("{raw_url:?}")))?;
    if !matches!(url.scheme(), "ws" | "wss" | "rs" | "rss" | "rs+unix") {
        return Err(invalid(f("url"), URL_FORM, format!("{raw_url:?}")));
    }
    let serializer = match t.serializer.as_deref().map(str::trim) {
        None | Some("cbor") => Serializer::Cbor,
        Some("json") => Serializer::Json,
        Some("msgpack") => Serializer::Msgpack,
        Some(other) => {
            return Err(invalid(
                f("serializer"),
                "one of \"json\", \"msgpack\", \"cbor\"",
                format!("{other:?}"),
            ));
        }
    };
    let d = RetryPolicy::default();
    // A retry setting: its default when absent, else a number that passes `ok`.
    let real =
        |name: &str, v: &Option<Scalar>, default: f64, expected: &str, ok: fn(f64) -> bool| {
            v.as_ref()
                .map_or(Ok(default), |s| parse_f64(&f(name), s, expected, ok))
        };
    let retry = RetryPolicy {
        max_retries: match &t.max_retries {
            Some(s) => parse_i64(
                &f("max_retries"),
                s,
                "an integer >= -1 (-1 retries forever)",
                |v| v >= -1,
            )?,
            None => d.max_retries,
        },
        initial_retry_delay: real(
            "initial_retry_delay",
            &t.initial_retry_delay,
            d.initial_retry_delay,
            "seconds > 0",
            |v| v > 0.0,
        )?,
        retry_delay_growth: real(
            "retry_delay_growth",
            &t.retry_delay_growth,
            d.retry_delay_growth,
            "a multiplier >= 1",
            |v| v >= 1.0,
        )?,
        retry_delay_jitter: real(
            "retry_delay_jitter",
            &t.retry_delay_jitter,
            d.retry_delay_jitter,
            "a fraction between 0 and 1",
            |v| (0.0..=1.0).contains(&v),
        )?,
        max_retry_delay: real(
            "max_retry_delay",
            &t.max_retry_delay,
            d.max_retry_delay,
            "seconds > 0",
            |v| v > 0.0,
        )?,
    };
    if retry.max_retry_delay < retry.initial_retry_delay {
        return Err(invalid(
            f("max_retry_delay"),
            "seconds >= initial_retry_delay",
            retry.max_retry_delay.to_string(),
        ));
    }
    Ok(Transport {
        url,
        serializer,
        retry,
    })
}

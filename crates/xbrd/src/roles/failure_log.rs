//! The warn log of failed calls, bounded: at most one line per procedure and error URI label
//! (both from fixed lists, see [`crate::metrics::failures`]) per [`WINDOW`]; the failures in
//! between are counted and reported with the next line, so a hostile caller cannot flood the log.
//! Messages are cut at [`MESSAGE_MAX`] characters; they never carry keys or paid payloads (the
//! roles' errors describe the request, not its secrets).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xbr_market::MarketError;

use crate::metrics::failures::uri_label;

/// At most one line per procedure and URI in this window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Longest error message logged (characters).
pub const MESSAGE_MAX: usize = 200;

/// When a kind of failure was last logged, and how many were not logged since.
struct Seen {
    logged_at: Instant,
    suppressed: u64,
}

/// The rate limit of the failure log.
#[derive(Default)]
pub struct FailureLog {
    seen: Mutex<HashMap<(&'static str, &'static str), Seen>>,
}

impl FailureLog {
    /// Logs `error` of `procedure` at warn unless that kind was logged less than [`WINDOW`] ago.
    pub fn failed(&self, procedure: &'static str, error: &MarketError) {
        if let Some(suppressed) = self.admit(procedure, uri_label(error), Instant::now()) {
            let message: String = error.message.chars().take(MESSAGE_MAX).collect();
            let uri: String = error.uri.chars().take(MESSAGE_MAX).collect();
            tracing::warn!(
                procedure,
                %uri,
                error = %message,
                suppressed,
                "call answered with an error"
            );
        }
    }

    /// `Some(failures not logged since the last line of this kind)` when a line is due at `now`.
    fn admit(&self, procedure: &'static str, uri: &'static str, now: Instant) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        match seen.get_mut(&(procedure, uri)) {
            Some(s) if now.saturating_duration_since(s.logged_at) < WINDOW => {
                s.suppressed += 1;
                None
            }
            Some(s) => {
                let suppressed = std::mem::take(&mut s.suppressed);
                s.logged_at = now;
                Some(suppressed)
            }
            None => {
                seen.insert(
                    (procedure, uri),
                    Seen {
                        logged_at: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_and_window_with_the_count_in_between() {
        let log = FailureLog::default();
        let t0 = Instant::now();
        let busy = "xbr.error.busy";
        assert_eq!(log.admit("buy_key", busy, t0), Some(0));
        for n in 1..=1000 {
            assert_eq!(
                log.admit("buy_key", busy, t0 + Duration::from_millis(n)),
                None
            );
        }
        // Another kind is logged at once.
        assert_eq!(log.admit("get_quote", busy, t0), Some(0));
        assert_eq!(log.admit("buy_key", "other", t0), Some(0));
        // The next window reports what was not logged.
        assert_eq!(log.admit("buy_key", busy, t0 + WINDOW), Some(1000));
        assert_eq!(log.admit("buy_key", busy, t0 + WINDOW), None);
        assert_eq!(log.admit("buy_key", busy, t0 + WINDOW * 2), Some(1));
    }
}

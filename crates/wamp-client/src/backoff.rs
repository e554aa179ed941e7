//! Reconnect policy (Autobahn's per-transport knobs) and the backoff state that applies it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Per-transport reconnect settings, with Autobahn|Python's names and defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// How many re-connects to try after the first attempt; `-1` tries forever.
    pub max_retries: i64,
    /// Delay before the first re-connect (default 1.5 s).
    pub initial_retry_delay: Duration,
    /// Factor applied to the delay for each further re-connect (default 1.5).
    pub retry_delay_growth: f64,
    /// Fraction of the delay added or subtracted at random (default 0.1 = ±10 %).
    pub retry_delay_jitter: f64,
    /// Upper bound of the delay (default 300 s).
    pub max_retry_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: -1,
            initial_retry_delay: Duration::from_millis(1500),
            retry_delay_growth: 1.5,
            retry_delay_jitter: 0.1,
            max_retry_delay: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay before re-connect number `retry` (1-based), before jitter:
    /// `initial_retry_delay * retry_delay_growth^(retry-1)`, capped at `max_retry_delay`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs =
            self.initial_retry_delay.as_secs_f64() * self.retry_delay_growth.max(1.0).powi(exp);
        let max = self.max_retry_delay.as_secs_f64();
        Duration::from_secs_f64(if secs.is_finite() { secs.min(max) } else { max })
    }
}

/// A source of jitter: returns a number in `[-1.0, 1.0]` that scales `retry_delay_jitter`.
/// Inject a fixed one in tests for exact delays.
#[derive(Clone)]
pub struct Jitter(Arc<dyn Fn() -> f64 + Send + Sync>);

impl Jitter {
    /// Uniform random jitter (the default).
    pub fn random() -> Self {
        Jitter(Arc::new(|| {
            use rand::Rng;
            rand::thread_rng().gen_range(-1.0..=1.0)
        }))
    }

    /// A jitter function of your own (values outside `[-1, 1]` are clamped).
    pub fn from_fn(f: impl Fn() -> f64 + Send + Sync + 'static) -> Self {
        Jitter(Arc::new(f))
    }

    /// No jitter at all.
    pub fn none() -> Self {
        Jitter::from_fn(|| 0.0)
    }

    fn sample(&self) -> f64 {
        let v = (self.0)();
        if v.is_finite() {
            v.clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::random()
    }
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jitter(..)")
    }
}

/// Backoff state of one transport: counts the re-connects since the last stable session.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    attempts: u32,
}

impl Backoff {
    /// Fresh state: the next attempt is the first connect and goes at once.
    pub fn new(policy: RetryPolicy) -> Self {
        Backoff {
            policy,
            attempts: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Connect attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether another attempt is allowed by `max_retries`.
    pub fn can_retry(&self) -> bool {
        let retries_done = i64::from(self.attempts.saturating_sub(1));
        self.attempts == 0 || self.policy.max_retries < 0 || retries_done < self.policy.max_retries
    }

    /// Records an attempt and returns how long to wait before making it, or `None` when the
    /// retries are used up. The first attempt after a reset goes at once.
    pub fn next_delay(&mut self, jitter: &Jitter) -> Option<Duration> {
        if !self.can_retry() {
            return None;
        }
        let retry = self.attempts;
        self.attempts = self.attempts.saturating_add(1);
        if retry == 0 {
            return Some(Duration::ZERO);
        }
        let base = self.policy.base_delay(retry).as_secs_f64();
        let jittered = base * (1.0 + self.policy.retry_delay_jitter * jitter.sample());
        let max = self.policy.max_retry_delay.as_secs_f64();
        Some(Duration::from_secs_f64(jittered.clamp(0.0, max)))
    }

    /// Forgets past attempts (after a session was stable).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn delays_follow_autobahn_defaults() {
        let mut b = Backoff::new(RetryPolicy::default());
        let j = Jitter::none();
        let delays: Vec<u128> = (0..5).map(|_| ms(b.next_delay(&j).unwrap())).collect();
        assert_eq!(delays, vec![0, 1500, 2250, 3375, 5062]);
    }

    #[test]
    fn delay_is_capped() {
        let policy = RetryPolicy {
            max_retry_delay: Duration::from_secs(4),
            ..RetryPolicy::default()
        };
        let mut b = Backoff::new(policy);
        let j = Jitter::from_fn(|| 1.0);
        let delays: Vec<u128> = (0..6).map(|_| ms(b.next_delay(&j).unwrap())).collect();
        assert_eq!(delays, vec![0, 1650, 2475, 3712, 4000, 4000]);
    }

    #[test]
    fn jitter_scales_by_fraction() {
        let mut b = Backoff::new(RetryPolicy::default());
        b.next_delay(&Jitter::none());
        assert_eq!(ms(b.next_delay(&Jitter::from_fn(|| -1.0)).unwrap()), 1350);
        // Out-of-range jitter is clamped.
        let mut b = Backoff::new(RetryPolicy::default());
        b.next_delay(&Jitter::none());
        assert_eq!(ms(b.next_delay(&Jitter::from_fn(|| 7.0)).unwrap()), 1650);
    }

    #[test]
    fn random_jitter_stays_in_bounds() {
        let j = Jitter::random();
        for _ in 0..200 {
            let mut b = Backoff::new(RetryPolicy::default());
            b.next_delay(&j);
            let d = ms(b.next_delay(&j).unwrap());
            assert!((1350..=1650).contains(&d), "{d}");
        }
    }

    #[test]
    fn max_retries_limits_attempts() {
        let policy = RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        };
        let mut b = Backoff::new(policy);
        let j = Jitter::none();
        assert!(b.next_delay(&j).is_some()); // first connect
        assert!(b.next_delay(&j).is_some()); // retry 1
        assert!(b.next_delay(&j).is_some()); // retry 2
        assert!(b.next_delay(&j).is_none());
        b.reset();
        assert_eq!(b.next_delay(&j), Some(Duration::ZERO));
    }

    #[test]
    fn zero_retries_means_one_attempt() {
        let mut b = Backoff::new(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        });
        assert_eq!(b.next_delay(&Jitter::none()), Some(Duration::ZERO));
        assert_eq!(b.next_delay(&Jitter::none()), None);
    }
}

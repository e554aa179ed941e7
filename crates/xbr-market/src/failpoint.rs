//! Failpoints on the money path (the test-only cargo feature `failpoints`, built on the `fail`
//! crate): named places in buy, sell and close where a test makes the process crash, the step
//! fail, or the step stall past a caller's timeout.
//!
//! A failpoint is configured by name, in process with `fail::cfg(name, actions)` or for a whole
//! process through the `FAILPOINTS` environment variable (`name=actions;…`, read by
//! [`setup_from_env`]). The action is `return(<what>)`, with fail's counts and probabilities
//! (`1*return(crash)`, `10%return(error)`), where `<what>` is:
//! - `crash`: abort the process on the spot (no destructor, no reply, no flush);
//! - `error`: the step fails with `wamp.error.runtime_error`;
//! - `delay=<ms>`: the step waits that long (asynchronously) and then goes on.
//!
//! Without the feature, [`failpoint!`](crate::failpoint!) expands to nothing.

use std::time::Duration;

use crate::error::{MarketError, MarketResult};

/// What a triggered failpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Abort the process.
    Crash,
    /// Fail the step.
    Error,
    /// Stall the step, then go on.
    Delay(Duration),
}

impl Action {
    /// Parses the argument of `return(…)`; anything unknown is [`Action::Error`].
    pub fn parse(arg: &str) -> Self {
        match arg.trim() {
            "crash" => Action::Crash,
            other => other
                .strip_prefix("delay=")
                .and_then(|ms| ms.parse().ok())
                .map(|ms| Action::Delay(Duration::from_millis(ms)))
                .unwrap_or(Action::Error),
        }
    }

    /// Carries the action out at the failpoint `name`.
    pub async fn run(self, name: &str) -> MarketResult<()> {
        match self {
            Action::Crash => {
                tracing::error!(failpoint = name, "failpoint: aborting the process");
                std::process::abort()
            }
            Action::Error => Err(MarketError::runtime(format!("failpoint {name}"))),
            Action::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

/// The action configured for `name`, if the failpoint triggers now.
#[cfg(feature = "failpoints")]
pub fn action(name: &str) -> Option<Action> {
    fail::eval(name, |arg| Action::parse(arg.as_deref().unwrap_or("error")))
}

/// Reads `FAILPOINTS` from the environment (a process calls this at start; it does something
/// only with the feature). Returns how the failpoints were set, for the log.
#[cfg(feature = "failpoints")]
pub fn setup_from_env() -> Option<String> {
    let spec = std::env::var("FAILPOINTS").ok()?;
    for entry in spec.split(';').filter(|e| !e.trim().is_empty()) {
        if let Some((name, actions)) = entry.split_once('=')
            && let Err(e) = fail::cfg(name.trim(), actions.trim())
        {
            tracing::warn!(failpoint = name, error = %e, "bad failpoint");
        }
    }
    Some(spec)
}

/// Without the `failpoints` feature there is nothing to configure: `None`, with a warning when
/// `FAILPOINTS` is set anyway (so a fault test run against the wrong build says so).
#[cfg(not(feature = "failpoints"))]
pub fn setup_from_env() -> Option<String> {
    if std::env::var_os("FAILPOINTS").is_some() {
        tracing::warn!("FAILPOINTS is set but this build has no failpoints; ignored");
    }
    None
}

/// A failpoint: `failpoint!("maker::after_reserve")` in an async fn returning
/// [`MarketResult`]. Does nothing unless the `failpoints` feature is on and the name configured.
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        if let Some(action) = $crate::failpoint::action($name) {
            action.run($name).await?;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse() {
        assert_eq!(Action::parse("crash"), Action::Crash);
        assert_eq!(Action::parse("error"), Action::Error);
        assert_eq!(
            Action::parse("delay=250"),
            Action::Delay(Duration::from_millis(250))
        );
        assert_eq!(Action::parse("delay=x"), Action::Error);
    }

    #[tokio::test]
    async fn error_action_fails_the_step() {
        let e = Action::Error.run("test::point").await.unwrap_err();
        assert!(e.message.contains("test::point"));
        Action::Delay(Duration::ZERO)
            .run("test::point")
            .await
            .unwrap();
    }

    #[cfg(feature = "failpoints")]
    #[tokio::test]
    async fn configured_failpoint_triggers_once() {
        async fn step() -> MarketResult<u32> {
            crate::failpoint!("failpoint::tests::step");
            Ok(7)
        }
        let scenario = fail::FailScenario::setup();
        fail::cfg("failpoint::tests::step", "1*return(error)").unwrap();
        assert!(step().await.is_err());
        assert_eq!(step().await.unwrap(), 7);
        scenario.teardown();
    }
}

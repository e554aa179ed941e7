//! Collecting validation errors: each section is validated even when an earlier one failed, so
//! `xbrd config check` reports every problem in one run ([`ConfigError::Many`]).

use crate::config::ConfigError;

/// The problems found so far.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<ConfigError>);

impl Problems {
    /// The value of `result`, or `None` after recording its error(s).
    pub(super) fn take<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(ConfigError::Many(all)) => {
                self.0.extend(all);
                None
            }
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Records `e`.
    pub(super) fn push(&mut self, e: ConfigError) {
        self.take::<()>(Err(e));
    }

    /// `Ok(value())` when nothing was recorded (`value` may then unwrap what [`Problems::take`]
    /// returned); else the one error, or all of them as [`ConfigError::Many`].
    pub(super) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ConfigError> {
        let mut all = self.0;
        match all.len() {
            0 => Ok(value()),
            1 => Err(all.remove(0)),
            _ => Err(ConfigError::Many(all)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(field: &str) -> ConfigError {
        ConfigError::Missing {
            field: field.into(),
            expected: "x".into(),
        }
    }

    #[test]
    fn one_problem_stays_itself_and_several_are_listed_flat() {
        let mut p = Problems::default();
        assert_eq!(p.take(Ok::<_, ConfigError>(1)), Some(1));
        assert_eq!(p.finish(|| 7).unwrap(), 7);

        let mut p = Problems::default();
        p.push(missing("a"));
        assert_eq!(p.finish(|| ()).unwrap_err().field(), Some("a"));

        let mut p = Problems::default();
        p.push(missing("a"));
        p.take::<()>(Err(ConfigError::Many(vec![missing("b"), missing("c")])));
        let e = p.finish(|| ()).unwrap_err();
        let fields: Vec<_> = e.problems().iter().map(|e| e.field().unwrap()).collect();
        assert_eq!(fields, ["a", "b", "c"]);
        let text = e.to_string();
        assert!(
            text.starts_with("3 problems in the configuration:"),
            "{text}"
        );
        assert_eq!(text.matches("`a`").count(), 1, "{text}");
    }
}

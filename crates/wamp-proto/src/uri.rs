//! URI checks (WAMP v2 spec, "URIs"): loose or strict component rules, and the pattern forms
//! used by prefix- and wildcard-matching registrations and subscriptions.
//!
//! * loose component: one or more characters, none of them whitespace, `.` or `#`;
//! * strict component: one or more of `[0-9a-z_]`;
//! * exact URIs: every component non-empty;
//! * prefix patterns: the last component may be empty (`com.example.`);
//! * wildcard patterns: any component may be empty (`com..update`).

use crate::value::{Dict, Value};

/// How a URI (or URI pattern) is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UriMatch {
    /// An exact URI.
    #[default]
    Exact,
    /// A prefix pattern (`match: "prefix"`).
    Prefix,
    /// A wildcard pattern (`match: "wildcard"`).
    Wildcard,
}

impl UriMatch {
    /// The match policy named by `options["match"]` (absent means exact).
    pub fn from_options(options: &Dict) -> Result<UriMatch, UriError> {
        match options.get("match") {
            None | Some(Value::Null) => Ok(UriMatch::Exact),
            Some(Value::Str(s)) => match s.as_str() {
                "exact" => Ok(UriMatch::Exact),
                "prefix" => Ok(UriMatch::Prefix),
                "wildcard" => Ok(UriMatch::Wildcard),
                other => Err(UriError::UnknownMatch(other.to_owned())),
            },
            Some(other) => Err(UriError::UnknownMatch(other.kind().to_owned())),
        }
    }
}

/// An invalid URI or match policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The URI is empty.
    #[error("empty URI")]
    Empty,
    /// The URI breaks the component rules.
    #[error("invalid URI {uri:?}: {reason}")]
    Invalid {
        /// The offending URI.
        uri: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// `options.match` is not `exact`, `prefix` or `wildcard`.
    #[error("unknown match policy {0:?}")]
    UnknownMatch(String),
}

/// Checks a URI or URI pattern. `strict` selects the strict component character set.
pub fn check_uri(uri: &str, strict: bool, policy: UriMatch) -> Result<(), UriError> {
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    let invalid = |reason| UriError::Invalid {
        uri: uri.to_owned(),
        reason,
    };
    let count = uri.split('.').count();
    for (i, component) in uri.split('.').enumerate() {
        if component.is_empty() {
            let allowed = match policy {
                UriMatch::Exact => false,
                UriMatch::Prefix => i + 1 == count,
                UriMatch::Wildcard => true,
            };
            if !allowed {
                return Err(invalid("empty component"));
            }
            continue;
        }
        let ok = if strict {
            component
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_')
        } else {
            !component.chars().any(|c| c.is_whitespace() || c == '#')
        };
        if !ok {
            return Err(invalid(if strict {
                "strict components allow only [0-9a-z_]"
            } else {
                "components must not contain whitespace or '#'"
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_exact() {
        for ok in [
            "com.example.add",
            "a",
            "xbr.provider.0xAbC.sell",
            "com.Example-1.x",
        ] {
            assert_eq!(check_uri(ok, false, UriMatch::Exact), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "com..x",
            ".com",
            "com.",
            "com.ex ample",
            "com.#.x",
            "a\tb",
        ] {
            assert!(check_uri(bad, false, UriMatch::Exact).is_err(), "{bad}");
        }
    }

    #[test]
    fn strict_exact() {
        assert_eq!(
            check_uri("com.example_1.add", true, UriMatch::Exact),
            Ok(())
        );
        assert!(check_uri("com.Example.add", true, UriMatch::Exact).is_err());
        assert!(check_uri("com.ex-ample", true, UriMatch::Exact).is_err());
    }

    #[test]
    fn patterns() {
        assert_eq!(check_uri("com.example.", false, UriMatch::Prefix), Ok(()));
        assert_eq!(check_uri("com.example", false, UriMatch::Prefix), Ok(()));
        assert!(check_uri("com..example", false, UriMatch::Prefix).is_err());
        assert_eq!(check_uri("com..update", false, UriMatch::Wildcard), Ok(()));
        assert_eq!(check_uri(".a.", false, UriMatch::Wildcard), Ok(()));
        assert!(check_uri("com. .x", false, UriMatch::Wildcard).is_err());
    }

    #[test]
    fn match_from_options() {
        let mut o = Dict::new();
        assert_eq!(UriMatch::from_options(&o), Ok(UriMatch::Exact));
        o.insert("match".into(), "wildcard".into());
        assert_eq!(UriMatch::from_options(&o), Ok(UriMatch::Wildcard));
        o.insert("match".into(), "regex".into());
        assert!(UriMatch::from_options(&o).is_err());
    }
}

//! The router's dynamic authorizer for the `user` role, served by the maker as
//! `xbr.marketmaker.authorizer.authorize`. Crossbar (`RouterRoleDynamicAuth.authorize`) calls
//! it from the realm's service session with `(session, uri, action, options)`: `session` is the
//! requesting session's details (`session`, `authid`, `authrole`, `authmethod`, …), `action` is
//! `call`, `register`, `publish` or `subscribe`, `options` the request's options (`match` of a
//! REGISTER …). The answer is `{"allow": bool, "disclose": true, "cache": bool}`: `disclose` so
//! the maker sees its callers (see [`super::guard`]).
//!
//! Crossbar caches an answer with `cache: true` per (realm, authrole, URI, action), for every
//! session of the role: so only the answers that do not depend on the session nor on the
//! options are cached (call, subscribe, and publish outside `xbr.provider.`).
//!
//! Rules, for a session of member M (authrole `user`, authid `member-<hex>`; any other session
//! is refused everything):
//!
//! | action | rule |
//! |---|---|
//! | call | `xbr.marketmaker.*` allowed except `authenticator.authenticate` and `authorizer.*`; `xbr.provider.*`, `wamp.*`, `crossbar.*` denied; others allowed |
//! | register | exact `xbr.provider.<pid>.<proc>` only if `pid`'s delegate belongs to M; any other URI that is or may match `xbr.*`, `wamp.*`, `crossbar.*` denied; others allowed |
//! | publish | `xbr.provider.<pid>.<topic>` only if `pid`'s delegate belongs to M; other `xbr.*`, `wamp.*`, `crossbar.*` denied; others allowed |
//! | subscribe | allowed |

use wamp_proto::{Dict, Value};

use super::MarketMaker;
use super::caller::{Principal, provider_address};
use crate::error::{MarketError, MarketResult};
use crate::peer::{MAKER_PREFIX, PROVIDER_PREFIX};
use crate::types::Address;
use crate::wire::{Args, Fields};

/// The authorizer's URI (the `authorizer` of the `user` role in the router's config).
pub const AUTHORIZER_URI: &str = "xbr.marketmaker.authorizer.authorize";

/// URI namespaces a `user` session never registers or publishes in (the router's and the
/// market's own).
const RESERVED: [&str; 3] = ["xbr", "wamp", "crossbar"];

/// What a session asks the router to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// CALL.
    Call,
    /// REGISTER.
    Register,
    /// PUBLISH.
    Publish,
    /// SUBSCRIBE.
    Subscribe,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "call" => Self::Call,
            "register" => Self::Register,
            "publish" => Self::Publish,
            "subscribe" => Self::Subscribe,
            _ => return None,
        })
    }
}

/// One authorization request of the router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// The requesting session's authrole.
    pub authrole: Option<String>,
    /// The requesting session's authid.
    pub authid: Option<String>,
    /// The URI (a pattern for a prefix/wildcard REGISTER).
    pub uri: String,
    /// The action.
    pub action: Action,
    /// The REGISTER's match policy (`exact` when not given).
    pub match_policy: String,
}

impl AuthorizeRequest {
    /// Parses `(session, uri, action[, options])` as Crossbar sends them.
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        const W: &str = "authorize";
        let a = Args::new(W, args, 3, 4)?;
        let session = Fields::of(W, a.at(0))?;
        let text = |k: &str| session.get(k).and_then(Value::as_str).map(str::to_owned);
        let action = a.str(2, "action")?;
        let match_policy = match a.at(3) {
            Value::Dict(options) => options.get("match").and_then(Value::as_str),
            _ => None,
        };
        Ok(Self {
            authrole: text("authrole"),
            authid: text("authid"),
            uri: a.str(1, "uri")?,
            action: Action::parse(&action).ok_or_else(|| {
                MarketError::invalid_argument(format!("authorize: unknown action '{action}'"))
            })?,
            match_policy: match_policy.unwrap_or("exact").to_owned(),
        })
    }
}

/// The authorizer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// Allowed.
    pub allow: bool,
    /// The router may reuse the answer for every session of the role.
    pub cache: bool,
}

impl Authorization {
    /// `{"allow", "disclose": true, "cache"}`.
    pub fn to_value(self) -> Value {
        let mut d = Dict::new();
        d.insert("allow".into(), Value::Bool(self.allow));
        d.insert("disclose".into(), Value::Bool(true));
        d.insert("cache".into(), Value::Bool(self.cache));
        Value::Dict(d)
    }
}

/// What the rules say before anything is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Allow,
    Deny,
    /// Allowed if this delegate belongs to the session's member.
    OwnDelegate(Address),
}

/// Whether `uri` lies in a reserved namespace.
fn reserved(uri: &str) -> bool {
    RESERVED.iter().any(|ns| {
        uri.strip_prefix(ns)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Whether a REGISTER of `pattern` under `policy` may match a reserved URI.
fn may_match_reserved(pattern: &str, policy: &str) -> bool {
    match policy {
        "exact" => reserved(pattern),
        // A prefix of a reserved namespace (`x`, `xbr`) or inside one.
        "prefix" => {
            reserved(pattern)
                || RESERVED
                    .iter()
                    .any(|ns| format!("{ns}.").starts_with(pattern))
        }
        // An empty first component matches any namespace.
        "wildcard" => {
            let first = pattern.split('.').next().unwrap_or("");
            first.is_empty() || RESERVED.contains(&first)
        }
        _ => true,
    }
}

/// `xbr.provider.<pid>.<rest>` with a well-formed `pid` and a non-empty rest: the delegate.
fn provider_uri_delegate(uri: &str) -> Option<Address> {
    let (pid, rest) = uri.strip_prefix(PROVIDER_PREFIX)?.split_once('.')?;
    if rest.is_empty() {
        return None;
    }
    provider_address(pid)
}

fn provider_rule(uri: &str) -> Rule {
    provider_uri_delegate(uri).map_or(Rule::Deny, Rule::OwnDelegate)
}

fn rule(req: &AuthorizeRequest) -> Rule {
    let uri = req.uri.as_str();
    match req.action {
        Action::Subscribe => Rule::Allow,
        Action::Call => {
            let maker_private = uri == "xbr.marketmaker.authenticator.authenticate"
                || uri.starts_with("xbr.marketmaker.authorizer.");
            if uri.starts_with(MAKER_PREFIX) && !maker_private {
                Rule::Allow
            } else if reserved(uri) {
                Rule::Deny
            } else {
                Rule::Allow
            }
        }
        Action::Register if req.match_policy != "exact" => {
            match may_match_reserved(uri, &req.match_policy) {
                true => Rule::Deny,
                false => Rule::Allow,
            }
        }
        Action::Register | Action::Publish => {
            if uri.starts_with(PROVIDER_PREFIX) {
                provider_rule(uri)
            } else if reserved(uri) {
                Rule::Deny
            } else {
                Rule::Allow
            }
        }
    }
}

impl MarketMaker {
    /// The `user` role's authorization of one request (see the module doc).
    pub async fn authorize(&self, req: &AuthorizeRequest) -> MarketResult<Authorization> {
        let Principal::Member(member) =
            Principal::of(req.authrole.as_deref(), req.authid.as_deref())
        else {
            return Ok(Authorization {
                allow: false,
                cache: false,
            });
        };
        // A REGISTER's answer depends on its match policy, which is not in the cache key.
        let cache = req.action != Action::Register;
        Ok(match rule(req) {
            Rule::Allow => Authorization { allow: true, cache },
            Rule::Deny => Authorization {
                allow: false,
                cache,
            },
            Rule::OwnDelegate(delegate) => Authorization {
                allow: self.delegate_belongs_to(delegate, member).await?,
                cache: false,
            },
        })
    }
}

#[cfg(test)]
mod tests;

//! Options of CALL, REGISTER, SUBSCRIBE and PUBLISH, and their WAMP dict form.

use std::time::Duration;

use wamp_proto::{Dict, Value};

/// How a CANCEL asks the router to stop a call (WAMP advanced profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CancelMode {
    /// The router answers the caller at once and does not tell the callee.
    Skip,
    /// The router interrupts the callee and answers the caller after the callee responded.
    #[default]
    Kill,
    /// The router interrupts the callee and answers the caller at once.
    KillNoWait,
}

impl CancelMode {
    /// The `mode` option value.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelMode::Skip => "skip",
            CancelMode::Kill => "kill",
            CancelMode::KillNoWait => "killnowait",
        }
    }

    /// Parses a `mode` option value.
    pub fn parse(mode: &str) -> Option<Self> {
        match mode {
            "skip" => Some(CancelMode::Skip),
            "kill" => Some(CancelMode::Kill),
            "killnowait" => Some(CancelMode::KillNoWait),
            _ => None,
        }
    }
}

/// How a topic or procedure URI is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatchPolicy {
    /// The URI as given (default; not sent on the wire).
    #[default]
    Exact,
    /// Every URI starting with the given one.
    Prefix,
    /// URIs with empty components as wildcards, e.g. `com..update`.
    Wildcard,
}

impl MatchPolicy {
    fn insert_into(self, dict: &mut Dict) {
        match self {
            MatchPolicy::Exact => {}
            MatchPolicy::Prefix => {
                dict.insert("match".into(), Value::from("prefix"));
            }
            MatchPolicy::Wildcard => {
                dict.insert("match".into(), Value::from("wildcard"));
            }
        }
    }
}

/// Which callee the router picks when several registered the same procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvokePolicy {
    /// Only one registration allowed (default; not sent on the wire).
    #[default]
    Single,
    /// Rotate through the callees.
    RoundRobin,
    /// Pick a callee at random.
    Random,
    /// The first registered callee.
    First,
    /// The last registered callee.
    Last,
}

impl InvokePolicy {
    fn as_str(self) -> Option<&'static str> {
        match self {
            InvokePolicy::Single => None,
            InvokePolicy::RoundRobin => Some("roundrobin"),
            InvokePolicy::Random => Some("random"),
            InvokePolicy::First => Some("first"),
            InvokePolicy::Last => Some("last"),
        }
    }
}

/// Payload passthru mode (`ppt_*` options): the payload is opaque to the router and carried
/// through unchanged, e.g. end-to-end encrypted XBR payloads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PayloadPassthru {
    /// `ppt_scheme`, e.g. `"wamp"` or `"x_xbr"` (required for passthru).
    pub scheme: String,
    /// `ppt_serializer`, e.g. `"cbor"`.
    pub serializer: Option<String>,
    /// `ppt_cipher`, e.g. `"xsalsa20poly1305"`.
    pub cipher: Option<String>,
    /// `ppt_keyid`.
    pub keyid: Option<String>,
}

impl PayloadPassthru {
    fn insert_into(&self, dict: &mut Dict) {
        dict.insert("ppt_scheme".into(), Value::from(self.scheme.as_str()));
        if let Some(s) = &self.serializer {
            dict.insert("ppt_serializer".into(), Value::from(s.as_str()));
        }
        if let Some(c) = &self.cipher {
            dict.insert("ppt_cipher".into(), Value::from(c.as_str()));
        }
        if let Some(k) = &self.keyid {
            dict.insert("ppt_keyid".into(), Value::from(k.as_str()));
        }
    }

    /// Reads the `ppt_*` fields of a details/options dict, if `ppt_scheme` is present.
    pub fn from_dict(dict: &Dict) -> Option<Self> {
        let get = |k: &str| dict.get(k).and_then(Value::as_str).map(str::to_string);
        Some(PayloadPassthru {
            scheme: get("ppt_scheme")?,
            serializer: get("ppt_serializer"),
            cipher: get("ppt_cipher"),
            keyid: get("ppt_keyid"),
        })
    }
}

/// Options of a call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallOptions {
    /// Client-side timeout: when it expires a CANCEL (with [`CallOptions::cancel_mode`]) is sent
    /// and the call fails with [`crate::Error::Timeout`]. Also sent as the `timeout` option (ms)
    /// for routers that enforce it.
    pub timeout: Option<Duration>,
    /// Mode of the CANCEL sent on timeout or when the call is dropped/cancelled.
    pub cancel_mode: CancelMode,
    /// Ask the router to disclose our session to the callee.
    pub disclose_me: bool,
    /// Payload passthru options.
    pub ppt: Option<PayloadPassthru>,
    /// Further options, sent as given.
    pub extra: Dict,
}

impl CallOptions {
    /// Options with a client-side timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        CallOptions {
            timeout: Some(timeout),
            ..CallOptions::default()
        }
    }

    /// The client-side limit the session core keeps for this call, with its CANCEL mode.
    pub fn call_timeout(&self) -> Option<wamp_proto::session::CallTimeout> {
        self.timeout.map(|after| wamp_proto::session::CallTimeout {
            after,
            cancel: crate::driver::to_proto_cancel_mode(self.cancel_mode),
        })
    }

    /// The CALL options dict; `receive_progress` is set by the progressive call API.
    pub fn to_dict(&self, receive_progress: bool) -> Dict {
        let mut d = Dict::new();
        if let Some(t) = self.timeout {
            let ms = u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1);
            d.insert("timeout".into(), Value::from(ms));
        }
        if receive_progress {
            d.insert("receive_progress".into(), Value::Bool(true));
        }
        if self.disclose_me {
            d.insert("disclose_me".into(), Value::Bool(true));
        }
        if let Some(ppt) = &self.ppt {
            ppt.insert_into(&mut d);
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

/// Options of a registration.
///
/// The time the router may take to answer is the session's `timeouts.request`
/// ([`wamp_proto::session::Timeouts`], 30 s by default); on expiry the request fails with
/// [`crate::Error::Timeout`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisterOptions {
    /// URI matching.
    pub match_policy: MatchPolicy,
    /// Which callee is picked among several.
    pub invoke: InvokePolicy,
    /// Ask the router to disclose the caller to us.
    pub disclose_caller: bool,
    /// Further options, sent as given (e.g. `concurrency`, `force_reregister`).
    pub extra: Dict,
}

impl RegisterOptions {
    /// The REGISTER options dict.
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        self.match_policy.insert_into(&mut d);
        if let Some(invoke) = self.invoke.as_str() {
            d.insert("invoke".into(), Value::from(invoke));
        }
        if self.disclose_caller {
            d.insert("disclose_caller".into(), Value::Bool(true));
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

/// Options of a subscription.
///
/// The time the router may take to answer is the session's `timeouts.request`
/// ([`wamp_proto::session::Timeouts`], 30 s by default); on expiry the request fails with
/// [`crate::Error::Timeout`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscribeOptions {
    /// URI matching.
    pub match_policy: MatchPolicy,
    /// Ask for the retained event of the topic on subscribe.
    pub get_retained: bool,
    /// Further options, sent as given.
    pub extra: Dict,
}

impl SubscribeOptions {
    /// The SUBSCRIBE options dict.
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        self.match_policy.insert_into(&mut d);
        if self.get_retained {
            d.insert("get_retained".into(), Value::Bool(true));
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

/// Options of a publication.
///
/// The time the router may take to acknowledge (with [`PublishOptions::acknowledge`]) is the session's `timeouts.request`
/// ([`wamp_proto::session::Timeouts`], 30 s by default); on expiry the request fails with
/// [`crate::Error::Timeout`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PublishOptions {
    /// Wait for the router's PUBLISHED (or ERROR) and return the publication id.
    pub acknowledge: bool,
    /// Whether we receive our own event (`None`: router default, which excludes us).
    pub exclude_me: Option<bool>,
    /// Session ids that must not receive the event.
    pub exclude: Vec<u64>,
    /// Auth ids that must not receive the event.
    pub exclude_authid: Vec<String>,
    /// Auth roles that must not receive the event.
    pub exclude_authrole: Vec<String>,
    /// Only these session ids may receive the event.
    pub eligible: Vec<u64>,
    /// Only these auth ids may receive the event.
    pub eligible_authid: Vec<String>,
    /// Only these auth roles may receive the event.
    pub eligible_authrole: Vec<String>,
    /// Ask the router to retain the event for later subscribers.
    pub retain: bool,
    /// Ask the router to disclose us to the subscribers.
    pub disclose_me: bool,
    /// Payload passthru options.
    pub ppt: Option<PayloadPassthru>,
    /// Further options, sent as given.
    pub extra: Dict,
}

impl PublishOptions {
    /// Options asking for an acknowledgement.
    pub fn acknowledged() -> Self {
        PublishOptions {
            acknowledge: true,
            ..PublishOptions::default()
        }
    }

    /// The PUBLISH options dict.
    pub fn to_dict(&self) -> Dict {
        fn ids(v: &[u64]) -> Value {
            Value::List(v.iter().map(|&i| Value::from(i)).collect())
        }
        fn strs(v: &[String]) -> Value {
            Value::List(v.iter().map(|s| Value::from(s.as_str())).collect())
        }
        let mut d = Dict::new();
        if self.acknowledge {
            d.insert("acknowledge".into(), Value::Bool(true));
        }
        if let Some(ex) = self.exclude_me {
            d.insert("exclude_me".into(), Value::Bool(ex));
        }
        if !self.exclude.is_empty() {
            d.insert("exclude".into(), ids(&self.exclude));
        }
        if !self.exclude_authid.is_empty() {
            d.insert("exclude_authid".into(), strs(&self.exclude_authid));
        }
        if !self.exclude_authrole.is_empty() {
            d.insert("exclude_authrole".into(), strs(&self.exclude_authrole));
        }
        if !self.eligible.is_empty() {
            d.insert("eligible".into(), ids(&self.eligible));
        }
        if !self.eligible_authid.is_empty() {
            d.insert("eligible_authid".into(), strs(&self.eligible_authid));
        }
        if !self.eligible_authrole.is_empty() {
            d.insert("eligible_authrole".into(), strs(&self.eligible_authrole));
        }
        if self.retain {
            d.insert("retain".into(), Value::Bool(true));
        }
        if self.disclose_me {
            d.insert("disclose_me".into(), Value::Bool(true));
        }
        if let Some(ppt) = &self.ppt {
            ppt.insert_into(&mut d);
        }
        for (k, v) in &self.extra {
            d.insert(k.clone(), v.clone());
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_options_dict() {
        let opts = CallOptions {
            timeout: Some(Duration::from_millis(1500)),
            disclose_me: true,
            ppt: Some(PayloadPassthru {
                scheme: "x_xbr".into(),
                serializer: Some("cbor".into()),
                cipher: None,
                keyid: Some("k1".into()),
            }),
            ..CallOptions::default()
        };
        let d = opts.to_dict(true);
        let keys: Vec<&str> = d.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "timeout",
                "receive_progress",
                "disclose_me",
                "ppt_scheme",
                "ppt_serializer",
                "ppt_keyid"
            ]
        );
        assert_eq!(d["timeout"], Value::from(1500u64));
        assert_eq!(PayloadPassthru::from_dict(&d), opts.ppt);
        assert!(CallOptions::default().to_dict(false).is_empty());
    }

    #[test]
    fn register_and_subscribe_dicts() {
        let r = RegisterOptions {
            match_policy: MatchPolicy::Wildcard,
            invoke: InvokePolicy::RoundRobin,
            disclose_caller: true,
            extra: Dict::new(),
        };
        let d = r.to_dict();
        assert_eq!(d["match"], Value::from("wildcard"));
        assert_eq!(d["invoke"], Value::from("roundrobin"));
        assert_eq!(d["disclose_caller"], Value::Bool(true));
        assert!(RegisterOptions::default().to_dict().is_empty());
        let s = SubscribeOptions {
            match_policy: MatchPolicy::Prefix,
            ..SubscribeOptions::default()
        };
        assert_eq!(s.to_dict()["match"], Value::from("prefix"));
    }

    #[test]
    fn publish_dict() {
        let p = PublishOptions {
            acknowledge: true,
            exclude_me: Some(false),
            exclude: vec![1, 2],
            eligible_authid: vec!["alice".into()],
            retain: true,
            ..PublishOptions::default()
        };
        let d = p.to_dict();
        assert_eq!(d["acknowledge"], Value::Bool(true));
        assert_eq!(d["exclude_me"], Value::Bool(false));
        assert_eq!(
            d["exclude"],
            Value::List(vec![Value::from(1u64), Value::from(2u64)])
        );
        assert_eq!(
            d["eligible_authid"],
            Value::List(vec![Value::from("alice")])
        );
        assert_eq!(d["retain"], Value::Bool(true));
    }

    #[test]
    fn cancel_mode_strings() {
        for m in [CancelMode::Skip, CancelMode::Kill, CancelMode::KillNoWait] {
            assert_eq!(CancelMode::parse(m.as_str()), Some(m));
        }
    }
}

//! How a session joins and how long it waits: [`SessionConfig`] and its [`Timeouts`].

use std::time::Duration;

use crate::auth::ClientAuth;
use crate::value::{Dict, Value};

/// Default maximum size of a received message (16 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// Default limit for REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE and acknowledged PUBLISH.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit for the router's GOODBYE after ours.
pub const DEFAULT_LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How to join: realm, authentication, limits, deadlines and the announced client roles.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Realm to join.
    pub realm: String,
    /// Authentication method and credentials.
    pub auth: ClientAuth,
    /// Largest received message accepted by [`super::Session::handle_bytes`], in bytes.
    pub max_message_size: usize,
    /// Check URIs with the strict rules (`[0-9a-z_]` components) instead of the loose ones.
    pub strict_uris: bool,
    /// HELLO `details.roles` (defaults to [`SessionConfig::default_roles`]).
    pub roles: Dict,
    /// HELLO `details.agent`, if any.
    pub agent: Option<String>,
    /// How long the session waits for the router (see [`Timeouts`]).
    pub timeouts: Timeouts,
}

/// The deadlines the session keeps itself (the driver only sleeps until
/// [`super::Session::poll_timeout`] and calls [`super::Session::handle_timeout`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// HELLO to WELCOME, authentication included; on expiry the session closes with
    /// [`super::TimeoutKind::Join`]. Default `None` (a driver usually sets its connect timeout).
    pub join: Option<Duration>,
    /// Calls issued without a timeout of their own. Default `None`: a call waits as long as the
    /// callee takes.
    pub call: Option<Duration>,
    /// REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE and acknowledged PUBLISH. Default 30 s
    /// ([`DEFAULT_REQUEST_TIMEOUT`]); `None` waits forever.
    pub request: Option<Duration>,
    /// Our GOODBYE to the router's; on expiry the session closes with
    /// [`super::TimeoutKind::Leave`]. Default 5 s ([`DEFAULT_LEAVE_TIMEOUT`]).
    pub leave: Duration,
    /// Transport-level auto-ping while established. Default `None` (off).
    pub ping: Option<PingTimeouts>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            join: None,
            call: None,
            request: Some(DEFAULT_REQUEST_TIMEOUT),
            leave: DEFAULT_LEAVE_TIMEOUT,
            ping: None,
        }
    }
}

/// Auto-ping: a transport ping every `interval`; no pong within `timeout` closes the session with
/// [`super::TimeoutKind::Pong`]. No new ping is sent while a pong is awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingTimeouts {
    /// Time from one ping (or from joining) to the next.
    pub interval: Duration,
    /// How long the pong may take.
    pub timeout: Duration,
}

impl SessionConfig {
    /// A configuration with the default roles, loose URIs, a 16 MiB message limit and the
    /// default [`Timeouts`].
    pub fn new(realm: impl Into<String>, auth: ClientAuth) -> Self {
        SessionConfig {
            realm: realm.into(),
            auth,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            strict_uris: false,
            roles: Self::default_roles(),
            agent: Some(concat!("wamp-proto/", env!("CARGO_PKG_VERSION")).to_owned()),
            timeouts: Timeouts::default(),
        }
    }

    /// The client roles and advanced-profile features this implementation supports.
    pub fn default_roles() -> Dict {
        fn role(features: &[&str]) -> Value {
            let features: Dict = features
                .iter()
                .map(|f| ((*f).to_owned(), Value::Bool(true)))
                .collect();
            Value::Dict(Dict::from_iter([(
                "features".to_owned(),
                Value::Dict(features),
            )]))
        }
        Dict::from_iter([
            (
                "caller".to_owned(),
                role(&[
                    "progressive_call_results",
                    "call_canceling",
                    "call_timeout",
                    "caller_identification",
                    "payload_passthru_mode",
                ]),
            ),
            (
                "callee".to_owned(),
                role(&[
                    "progressive_call_results",
                    "call_canceling",
                    "call_timeout",
                    "caller_identification",
                    "payload_passthru_mode",
                    "pattern_based_registration",
                    "shared_registration",
                ]),
            ),
            (
                "publisher".to_owned(),
                role(&[
                    "publisher_exclusion",
                    "publisher_identification",
                    "subscriber_blackwhite_listing",
                ]),
            ),
            (
                "subscriber".to_owned(),
                role(&["pattern_based_subscription", "publisher_identification"]),
            ),
        ])
    }
}

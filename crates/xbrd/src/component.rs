//! The WAMP component of the daemon: transports, authentication and the session lifecycle, reported to
//! [`Health`] (READY/ready), [`Metrics`] and the log, with one span per WAMP session.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;
use wamp_client::component::{Component, LifecycleEvent};
use wamp_client::transport::TransportConfig;
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::{Dict, Value};

use crate::config::{AuthMethod, Config, Serializer, Transport};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::ports::views::SessionView;

/// A JSON value as a WAMP value (integers stay integers).
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        serde_json::Value::String(s) => Value::Str(s.clone()),
        serde_json::Value::Array(a) => Value::List(a.iter().map(json_to_value).collect()),
        serde_json::Value::Object(o) => Value::Dict(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

/// The client authentication for the configuration.
pub fn client_auth(cfg: &Config) -> ClientAuth {
    let a = &cfg.authentication;
    let authid = a.authid.clone().unwrap_or_default();
    let mut auth = match &a.method {
        AuthMethod::Anonymous => ClientAuth::anonymous(),
        AuthMethod::Ticket(t) => ClientAuth::ticket(authid, t.expose().clone()),
        AuthMethod::Wampcra(s) => ClientAuth::wampcra(authid, s.expose().clone()),
        AuthMethod::Cryptosign(seed) => {
            ClientAuth::cryptosign(authid, CryptosignKey::from_seed(*seed.expose()))
        }
    };
    if let Some(role) = &a.authrole {
        auth = auth.with_authrole(role.clone());
    }
    if !a.authextra.is_empty() {
        let extra: Dict = a
            .authextra
            .iter()
            .map(|(k, v)| (k.clone(), json_to_value(v)))
            .collect();
        auth = auth.with_authextra(extra);
    }
    auth
}

/// The transport configuration for one configured transport.
pub fn transport(t: &Transport) -> TransportConfig {
    let serializer = match t.serializer {
        Serializer::Json => wamp_proto::Serializer::Json,
        Serializer::Msgpack => wamp_proto::Serializer::MsgPack,
        Serializer::Cbor => wamp_proto::Serializer::Cbor,
    };
    TransportConfig::new(t.url.as_str())
        .with_serializer(serializer)
        .with_retry(wamp_client::RetryPolicy {
            max_retries: t.retry.max_retries,
            initial_retry_delay: Duration::from_secs_f64(t.retry.initial_retry_delay),
            retry_delay_growth: t.retry.retry_delay_growth,
            retry_delay_jitter: t.retry.retry_delay_jitter,
            max_retry_delay: Duration::from_secs_f64(t.retry.max_retry_delay),
        })
}

/// A component for the configuration (no registrations yet; the role adds its own).
pub fn build(cfg: &Config) -> Component {
    cfg.transports.iter().fold(
        Component::new(cfg.realm.clone(), client_auth(cfg)),
        |c, t| c.transport(transport(t)),
    )
}

fn detail_str(details: &Dict, key: &str) -> Option<String> {
    details.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

/// Follows the component's lifecycle until it stops: session up/down into [`Health`] and metrics, and the
/// log inside a `wamp_session` span per session (the leave on shutdown included). Returns why it stopped.
pub async fn follow(
    mut events: tokio::sync::broadcast::Receiver<LifecycleEvent>,
    realm: String,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
) -> String {
    let mut url = String::new();
    let mut span =
        tracing::info_span!("wamp_session", session_id = tracing::field::Empty, realm = %realm);
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "missed lifecycle events");
                continue;
            }
            Err(RecvError::Closed) => return "the component ended".into(),
        };
        match ev {
            LifecycleEvent::Waiting {
                url: u,
                attempt,
                delay,
            } => {
                metrics.reconnects.inc();
                tracing::info!(url = %u, attempt, delay_ms = delay.as_millis() as u64, "connecting to the router");
            }
            LifecycleEvent::Connected { url: u } => {
                tracing::debug!(url = %u, "transport connected");
                url = u;
            }
            LifecycleEvent::ConnectFailed { url: u, error } => {
                tracing::warn!(url = %u, %error, "cannot connect to the router");
            }
            LifecycleEvent::Joined {
                session_id,
                details,
            } => {
                span = tracing::info_span!("wamp_session", session_id, realm = %realm);
                let view = SessionView {
                    session_id,
                    router_url: url.clone(),
                    realm: realm.clone(),
                    authid: detail_str(&details, "authid"),
                    authrole: detail_str(&details, "authrole"),
                };
                async {
                    tracing::info!(router = %view.router_url, authid = ?view.authid, authrole = ?view.authrole, "joined");
                }
                .instrument(span.clone())
                .await;
                metrics.sessions_joined.inc();
                metrics.session_up.set(1);
                health.set_session(Some(view));
            }
            LifecycleEvent::Ready {
                session_id,
                failures,
            } => {
                let _g = span.enter();
                if failures.is_empty() {
                    tracing::info!(session_id, "registrations and subscriptions in place");
                } else {
                    tracing::error!(
                        session_id,
                        ?failures,
                        "some registrations or subscriptions failed"
                    );
                }
            }
            LifecycleEvent::Left { reason } => {
                let _g = span.enter();
                tracing::info!(%reason, "left the session");
                metrics.session_up.set(0);
                health.set_session(None);
            }
            LifecycleEvent::Disconnected { reason, was_clean } => {
                let _g = span.enter();
                tracing::warn!(%reason, was_clean, "disconnected");
                metrics.session_up.set(0);
                health.set_session(None);
            }
            LifecycleEvent::Stopped { reason } => {
                metrics.session_up.set(0);
                health.set_session(None);
                return reason;
            }
        }
    }
}

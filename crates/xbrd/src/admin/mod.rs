//! The admin HTTP API (axum). Bound to loopback by default; `/v1/*` and `/metrics` require
//! `Authorization: Bearer <token>` (balances are in the metrics). `admin.metrics_listen`, when set,
//! serves `/metrics` alone without a token on a listener of its own, for a scrape network.
//!
//! Routes: `GET /health`, `GET /ready`, `GET /openapi.json` (no token), `GET /metrics` and under `/v1`:
//! `status`, `balances`, `balances/{address}`, `members/{address}`, `keys`, `keys/{api_id}/rotate` (POST),
//! `channels`, `transactions`, `publish` (POST), `events` (SSE), `invariants`, `channel/close` (POST),
//! `balances/history`.
//!
//! The operator's dashboard ([`dashboard`]): `GET /dashboard` and `GET /dashboard/assets/{file}`
//! are static files without a token; the page asks for the token and reads the routes above.

pub mod dto;
pub mod error;

pub mod balance_history;
pub mod dashboard;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;
use xbr_core::ApiId;

use crate::config::{Role, Secret, validate::parse_address_str, validate::parse_id_str};
use crate::health::Health;
use crate::metrics::{Metrics, RouteLabels};
use crate::ports::{ChainApi, RoleApi};
use dto::*;
use error::ApiError;

/// The OpenAPI description served at `/openapi.json` (checked against the router by tests).
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Holds the role once it is running; empty before the first join.
#[derive(Default)]
pub struct RoleSlot(RwLock<Option<Arc<dyn RoleApi>>>);

impl RoleSlot {
    /// Installs (or replaces) the running role.
    pub fn set(&self, role: Arc<dyn RoleApi>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(role);
    }

    /// Removes the role (on shutdown).
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The running role, or `503 not_ready`.
    pub fn get(&self) -> Result<Arc<dyn RoleApi>, ApiError> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                ApiError::not_ready("the role is not started yet (waiting for the WAMP session)")
            })
    }
}

/// Everything the handlers share.
pub struct AdminState {
    /// Configured role.
    pub role: Role,
    /// Configured realm.
    pub realm: String,
    /// Store path (for status).
    pub store_path: String,
    /// Bearer token for `/v1/*`.
    pub token: Secret<String>,
    /// Readiness inputs.
    pub health: Arc<Health>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The running role.
    pub role_api: Arc<RoleSlot>,
    /// The chain, once built.
    pub chain: Option<Arc<dyn ChainApi>>,
    /// Process start.
    pub started: Instant,
    /// Cancelled on shutdown (ends SSE streams).
    pub shutdown: CancellationToken,
    /// The balance sampler's history ([`balance_history::sample_balances`]).
    pub balance_history: Arc<balance_history::BalanceHistory>,
}

type Shared = Arc<AdminState>;

/// Builds the router.
pub fn router(state: Shared) -> Router {
    let v1 = Router::new()
        .route("/status", get(status))
        .route("/balances", get(balances))
        .route("/balances/{address}", get(balance_of))
        .route("/members/{address}", get(member))
        .route("/keys", get(keys))
        .route("/keys/{api_id}/rotate", post(rotate))
        .route("/channels", get(channels))
        .route("/transactions", get(transactions))
        .route("/publish", post(publish))
        .route("/events", get(events))
        .route("/invariants", get(invariants))
        .route("/channel/close", post(close_channel))
        .route("/balances/history", get(balances_history))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let guarded_metrics = Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .merge(guarded_metrics)
        .nest("/v1", v1)
        .merge(dashboard::routes())
        // After routing, so the latency histogram is labelled with the route pattern.
        .route_layer(middleware::from_fn_with_state(state.clone(), observe))
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state)
}

/// The router of `admin.metrics_listen`: `GET /metrics` alone, without a token.
pub fn metrics_router(state: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::not_found("no such route (only /metrics here)") })
        .with_state(state)
}

/// Serves `router` on a bound listener until `shutdown` is cancelled.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Serves the API on a bound listener until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_router(listener, router(state), shutdown).await
}

/// Binds the admin address; a clear error names it when taken.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

async fn require_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(t) if bool::from(t.as_bytes().ct_eq(state.token.expose().as_bytes())) => {
            next.run(req).await
        }
        Some(_) => ApiError::unauthorized("invalid bearer token").into_response(),
        None => {
            ApiError::unauthorized("missing `Authorization: Bearer <token>` header").into_response()
        }
    }
}

async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state
        .metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .observe(start.elapsed().as_secs_f64());
    resp
}

/// Liveness: always 200; `degraded` with the violations when the last invariant check found any.
async fn health(State(state): State<Shared>) -> Json<serde_json::Value> {
    match state.health.invariants() {
        Some(view) if !view.violations.is_empty() => {
            Json(serde_json::json!({ "status": "degraded", "invariants": view }))
        }
        _ => Json(serde_json::json!({ "status": "ok" })),
    }
}

async fn ready(State(state): State<Shared>) -> Response {
    let attach_errors = state.health.attach_errors();
    let checks = serde_json::json!({
        "store_open": state.health.store_open(),
        "session_joined": state.health.session().is_some(),
        "chain_reachable": state.health.chain().reachable,
        "invariants_hold": state.health.invariants_hold(),
        "role_declared": attach_errors.is_empty(),
    });
    match state.health.check() {
        Ok(()) => Json(serde_json::json!({ "ready": true, "checks": checks })).into_response(),
        Err(why) => {
            let mut body = ApiError::not_ready(why.to_string()).body();
            body["checks"] = checks;
            body["attach_errors"] = serde_json::json!(attach_errors);
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn status(State(state): State<Shared>) -> Json<StatusView> {
    let h = &state.health;
    Json(StatusView {
        role: state.role.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        realm: state.realm.clone(),
        session: h.session(),
        chain: h.chain(),
        store: StoreView {
            path: state.store_path.clone(),
            open: h.store_open(),
        },
        ready: h.check().is_ok(),
        attach_errors: h.attach_errors(),
    })
}

fn chain(state: &AdminState) -> Result<Arc<dyn ChainApi>, ApiError> {
    state
        .chain
        .clone()
        .ok_or_else(|| ApiError::not_ready("the chain client is not started yet"))
}

/// The balances of `address`; gauges are set only for the daemon's own addresses (`metrics`),
/// never for an address a query chose.
async fn balance_for(
    chain: &dyn ChainApi,
    metrics: Option<&Metrics>,
    label: Option<&str>,
    address: alloy_primitives::Address,
) -> Result<AddressBalance, ApiError> {
    let b = chain.balances(address).await.map_err(ApiError::from)?;
    let shown = address.to_checksum(None);
    if let Some(metrics) = metrics {
        metrics.set_balance(&shown, "eth", b.eth);
        metrics.set_balance(&shown, "xbr", b.xbr);
    }
    Ok(AddressBalance {
        label: label.map(str::to_owned),
        address: shown,
        eth: b.eth.to_string(),
        xbr: b.xbr.to_string(),
    })
}

async fn balances(State(state): State<Shared>) -> Result<Json<BalancesView>, ApiError> {
    Ok(Json(own_balances(&state).await?))
}

async fn balances_history(
    State(state): State<Shared>,
) -> Json<balance_history::BalanceHistoryView> {
    Json(state.balance_history.view())
}

/// The daemon's own balances (`GET /v1/balances`, the balance sampler); sets the balance gauges.
async fn own_balances(state: &AdminState) -> Result<BalancesView, ApiError> {
    let role = state.role_api.get()?;
    let chain = chain(state)?;
    let mut addresses = Vec::new();
    for own in role.own_addresses() {
        addresses.push(
            balance_for(
                chain.as_ref(),
                Some(&state.metrics),
                Some(own.label),
                own.address,
            )
            .await?,
        );
    }
    let channels = role.channels().await?;
    // A seller's or buyer's own channel; the maker lists every channel of its market.
    let own_channels = if state.role == Role::Marketmaker {
        &[][..]
    } else {
        &channels[..]
    };
    for c in own_channels {
        if let Ok(remaining) = alloy_primitives::U256::from_str_radix(&c.remaining, 10) {
            state
                .metrics
                .set_balance(&c.channel_oid.to_string(), "channel_remaining", remaining);
        }
    }
    Ok(BalancesView {
        addresses,
        channels,
    })
}

async fn balance_of(
    State(state): State<Shared>,
    Path(address): Path<String>,
) -> Result<Json<AddressBalance>, ApiError> {
    let address = parse_address_str(&address).map_err(ApiError::bad_request)?;
    let chain = chain(&state)?;
    Ok(Json(
        balance_for(chain.as_ref(), None, None, address).await?,
    ))
}

async fn member(
    State(state): State<Shared>,
    Path(address): Path<String>,
) -> Result<Json<MemberView>, ApiError> {
    let address = parse_address_str(&address).map_err(ApiError::bad_request)?;
    let m = chain(&state)?
        .member(address)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(MemberView {
        address: address.to_checksum(None),
        is_member: m.is_some(),
        registered: m.as_ref().map(|m| m.registered.to_string()),
        eula: m.as_ref().map(|m| m.eula.clone()),
        profile: m.as_ref().map(|m| m.profile.clone()),
        level: m.as_ref().map(|m| m.level.clone()),
    }))
}

async fn invariants(State(state): State<Shared>) -> Result<Json<InvariantsView>, ApiError> {
    match state.health.check_invariants().await {
        Some(Ok(view)) => Ok(Json(view)),
        Some(Err(e)) => Err(ApiError::internal(format!("invariant check failed: {e}"))),
        None => Err(ApiError::not_ready("the store is not open yet")),
    }
}

async fn keys(State(state): State<Shared>) -> Result<Json<KeysView>, ApiError> {
    Ok(Json(state.role_api.get()?.keys().await?))
}

async fn rotate(
    State(state): State<Shared>,
    Path(api_id): Path<String>,
) -> Result<Json<ApiKeysView>, ApiError> {
    let api_id: ApiId = parse_id_str(&api_id).map_err(ApiError::bad_request)?;
    Ok(Json(state.role_api.get()?.rotate_key(api_id).await?))
}

async fn channels(State(state): State<Shared>) -> Result<Json<Vec<ChannelView>>, ApiError> {
    Ok(Json(state.role_api.get()?.channels().await?))
}

async fn transactions(
    State(state): State<Shared>,
    query: Result<Query<TransactionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TransactionPage>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(format!(
            "limit and after must be non-negative integers: {e}"
        ))
    })?;
    if let Some(limit) = q.limit
        && !(1..=1000).contains(&limit)
    {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    Ok(Json(state.role_api.get()?.transactions(q).await?))
}

async fn publish(
    State(state): State<Shared>,
    body: Result<Json<PublishRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PublishReceipt>, ApiError> {
    let Json(req) = body.map_err(|e| {
        ApiError::bad_request(format!("expected a JSON body {{\"payload\": …}}: {e}"))
    })?;
    Ok(Json(state.role_api.get()?.publish(req).await?))
}

async fn events(
    State(state): State<Shared>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let rx = state.role_api.get()?.events()?;
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold((rx, shutdown), |(mut rx, shutdown)| async move {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return None,
            r = rx.recv() => r,
        };
        let event = match next {
            Ok(ev) => Event::default()
                .event("payload")
                .data(serde_json::to_string(&ev).unwrap_or_default()),
            // A slow client missed events; tell it how many instead of silently skipping.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                Event::default().event("lagged").data(n.to_string())
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, shutdown)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn close_channel(State(state): State<Shared>) -> Result<Json<ChannelClosed>, ApiError> {
    Ok(Json(state.role_api.get()?.close_channel().await?))
}

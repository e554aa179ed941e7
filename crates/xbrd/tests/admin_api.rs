//! The admin API in process, with a test double for the role and the chain: authentication, error bodies,
//! readiness, role-specific endpoints, the OpenAPI document against the router, metrics and SSE.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use alloy_primitives::{Address, U256};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use xbr_core::KeyId;
use xbrd::admin::dto::*;
use xbrd::admin::{AdminState, RoleSlot, metrics_router, router};
use xbrd::config::{Role, Secret};
use xbrd::health::Health;
use xbrd::metrics::Metrics;
use xbrd::ports::{
    ChainApi, ChainError, ChainHead, Membership, OnChainBalance, OwnAddress, RoleApi, RoleError,
};

const TOKEN: &str = "0123456789abcdef";
const DELEGATE: &str = "0xd03ea8624C8C5987235048901fB614fDcA89b117";

/// A seller or buyer double that records what it was asked.
struct FakeRole {
    role: Role,
    published: Mutex<Vec<PublishRequest>>,
    events: broadcast::Sender<DecryptedEvent>,
}

impl RoleApi for FakeRole {
    fn role(&self) -> Role {
        self.role
    }
    fn own_addresses(&self) -> Vec<OwnAddress> {
        vec![OwnAddress {
            label: "delegate",
            address: DELEGATE.parse().unwrap(),
        }]
    }
    fn keys(&self) -> BoxFuture<'_, Result<KeysView, RoleError>> {
        Box::pin(async move {
            if self.role != Role::Seller {
                return Err(RoleError::not_supported("keys", self.role));
            }
            Ok(KeysView { apis: vec![] })
        })
    }
    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, RoleError>> {
        Box::pin(async move {
            Ok(vec![ChannelView {
                channel_oid: "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a".parse().unwrap(),
                channel_type: "paying".into(),
                state: "open".into(),
                actor: DELEGATE.into(),
                delegate: DELEGATE.into(),
                recipient: DELEGATE.into(),
                amount: "1000000000000000000000".into(),
                remaining: "965000000000000000000".into(),
                inflight: "0".into(),
                seq: 2,
            }])
        })
    }
    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, RoleError>> {
        Box::pin(async move {
            let after = q.after.unwrap_or(0);
            let limit = q.limit.unwrap_or(100) as u64;
            let items: Vec<_> = (after + 1..=after + limit)
                .take_while(|id| *id <= 3)
                .map(|id| TransactionView {
                    id,
                    kind: "sale".into(),
                    key_id: format!("00000000-0000-0000-0000-00000000000{id}")
                        .parse()
                        .unwrap(),
                    amount: "35000000000000000000".into(),
                    channel_oid: "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a".parse().unwrap(),
                    channel_seq: id + 1,
                    balance: "0".into(),
                    counterparty: None,
                    status: None,
                    recovered: None,
                    voided: None,
                    time_ms: 0,
                })
                .collect();
            let next = items.last().map(|t| t.id).filter(|id| *id < 3);
            Ok(TransactionPage { items, next })
        })
    }
    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<PublishReceipt, RoleError>> {
        Box::pin(async move {
            if self.role != Role::Seller {
                return Err(RoleError::not_supported("publish", self.role));
            }
            self.published.lock().unwrap().push(req);
            Ok(PublishReceipt {
                topic: "io.crossbar.example".into(),
                key_id: KeyId([0x6b; 16]),
                publication: Some(7),
            })
        })
    }
    fn events(&self) -> Result<broadcast::Receiver<DecryptedEvent>, RoleError> {
        if self.role != Role::Buyer {
            return Err(RoleError::not_supported("events", self.role));
        }
        Ok(self.events.subscribe())
    }
    fn close_channel(&self) -> BoxFuture<'_, Result<ChannelClosed, RoleError>> {
        Box::pin(async move {
            if self.role == Role::Marketmaker {
                return Err(RoleError::not_supported("closing a channel", self.role));
            }
            Ok(ChannelClosed {
                channel_oid: "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a".parse().unwrap(),
                channel_type: "paying".into(),
                seq: 2,
                balance: "965000000000000000000".into(),
            })
        })
    }
}

struct FakeChain;

impl ChainApi for FakeChain {
    fn head(&self) -> BoxFuture<'_, Result<ChainHead, ChainError>> {
        Box::pin(async {
            Ok(ChainHead {
                chain_id: 1337,
                block: 42,
            })
        })
    }
    fn balances(&self, address: Address) -> BoxFuture<'_, Result<OnChainBalance, ChainError>> {
        Box::pin(async move {
            if address == Address::ZERO {
                return Err(ChainError::Unreachable(
                    "cannot reach Ethereum at http://127.0.0.1:1".into(),
                ));
            }
            Ok(OnChainBalance {
                eth: U256::from(10u64).pow(U256::from(21u64)),
                xbr: U256::from(35u128 * 10u128.pow(18)),
            })
        })
    }
    fn member(&self, address: Address) -> BoxFuture<'_, Result<Option<Membership>, ChainError>> {
        Box::pin(async move {
            Ok((address != Address::ZERO).then(|| Membership {
                registered: U256::from(12u64),
                eula: "QmU7Gizbre17x6V2VR1Q2GJEjz6m8S1bXmBtVxS2vmvb81".into(),
                profile: String::new(),
                level: "ACTIVE".into(),
            }))
        })
    }
}

struct Fixture {
    app: axum::Router,
    /// The `admin.metrics_listen` router.
    metrics_app: axum::Router,
    health: Arc<Health>,
    slot: Arc<RoleSlot>,
    role: Arc<FakeRole>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

fn fixture(role: Role) -> Fixture {
    let health = Arc::new(Health::default());
    let slot = Arc::new(RoleSlot::default());
    let metrics = Arc::new(Metrics::new());
    let shutdown = CancellationToken::new();
    let fake = Arc::new(FakeRole {
        role,
        published: Mutex::new(vec![]),
        events: broadcast::channel(16).0,
    });
    let state = Arc::new(AdminState {
        role,
        realm: "xbr-market".into(),
        store_path: "/tmp/x.sqlite".into(),
        token: Secret::new(TOKEN.to_string()),
        health: health.clone(),
        metrics: metrics.clone(),
        role_api: slot.clone(),
        chain: Some(Arc::new(FakeChain)),
        started: Instant::now(),
        shutdown: shutdown.clone(),
        balance_history: Default::default(),
    });
    Fixture {
        app: router(state.clone()),
        metrics_app: metrics_router(state),
        health,
        slot,
        role: fake,
        metrics,
        shutdown,
    }
}

impl Fixture {
    fn start_role(&self) {
        self.slot.set(self.role.clone());
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(
            body.map(|b| Body::from(b.to_owned()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&bytes).into(),
    ));
    (status, json)
}

fn assert_error(body: &serde_json::Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn v1_requires_the_bearer_token() {
    let f = fixture(Role::Seller);
    f.start_role();
    for path in [
        "/v1/status",
        "/v1/balances",
        "/v1/keys",
        "/v1/channels",
        "/v1/transactions",
        "/v1/events",
        "/v1/invariants",
    ] {
        let (s, b) = send(&f.app, "GET", path, None, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert_error(&b, "unauthorized");
        let (s, _) = send(&f.app, "GET", path, Some("0123456789abcdeX"), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
        let (s, _) = send(&f.app, "GET", path, Some("0123"), None).await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "{path} with a prefix of the token"
        );
    }
    let (s, _) = send(
        &f.app,
        "POST",
        "/v1/publish",
        None,
        Some(r#"{"payload":1}"#),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        f.role.published.lock().unwrap().is_empty(),
        "nothing published without a token"
    );
    let (s, b) = send(&f.app, "GET", "/v1/status", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["role"], "seller");
    // Public endpoints need no token.
    assert_eq!(
        send(&f.app, "GET", "/health", None, None).await.0,
        StatusCode::OK
    );
    // The metrics carry balances: behind the token.
    assert_eq!(
        send(&f.app, "GET", "/metrics", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&f.app, "GET", "/metrics", Some(TOKEN), None).await.0,
        StatusCode::OK
    );
}

/// The store open and the chain reachable (block 1 of chain 1337).
fn store_and_chain_up(health: &Health) {
    health.set_store_open(true);
    health.set_chain(ChainView {
        reachable: true,
        chain_id: Some(1337),
        block: Some(1),
        error: None,
    });
}

#[tokio::test]
async fn ready_reports_each_failed_check() {
    let f = fixture(Role::Buyer);
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_error(&b, "not_ready");
    assert_eq!(b["checks"]["store_open"], false);
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("store not open")
            && msg.contains("WAMP session not joined")
            && msg.contains("chain not reachable"),
        "{msg}"
    );
    store_and_chain_up(&f.health);
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(b["error"]["message"], "WAMP session not joined");
    f.health.set_session(Some(SessionView {
        session_id: 99,
        router_url: "ws://127.0.0.1:1/ws".into(),
        realm: "xbr-market".into(),
        authid: Some("anonymous-1".into()),
        authrole: Some("anonymous".into()),
    }));
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["ready"], true);
    let (_, st) = send(&f.app, "GET", "/v1/status", Some(TOKEN), None).await;
    assert_eq!(st["session"]["session_id"], 99);
    assert_eq!(st["chain"]["chain_id"], 1337);
    assert_eq!(st["ready"], true);
}

#[tokio::test]
async fn ready_names_a_procedure_another_session_holds() {
    let f = fixture(Role::Seller);
    store_and_chain_up(&f.health);
    f.health.set_session(Some(SessionView {
        session_id: 5,
        router_url: "ws://127.0.0.1:1/ws".into(),
        realm: "xbr-market".into(),
        authid: None,
        authrole: None,
    }));
    let sell = "xbr.provider.0xab.sell";
    f.health
        .set_attach_errors(5, &[format!("{sell}: wamp.error.procedure_already_exists")]);
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["checks"]["role_declared"], false);
    assert_eq!(b["attach_errors"][0]["uri"], sell);
    assert_eq!(
        b["attach_errors"][0]["error"],
        "wamp.error.procedure_already_exists"
    );
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains(sell), "{msg}");
    let (_, st) = send(&f.app, "GET", "/v1/status", Some(TOKEN), None).await;
    assert_eq!(st["ready"], false);
    assert_eq!(st["attach_errors"][0]["uri"], sell);
    // Repaired (the role attached): ready, nothing named.
    f.health.set_attach_errors(5, &[]);
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["checks"]["role_declared"], true);
    let (_, st) = send(&f.app, "GET", "/v1/status", Some(TOKEN), None).await;
    assert_eq!(st["attach_errors"], serde_json::json!([]));
}

#[tokio::test]
async fn a_queried_address_gets_no_balance_gauge() {
    let f = fixture(Role::Seller);
    f.start_role();
    let queried = "0x00000000000000000000000000000000000000ab";
    let (s, b) = send(
        &f.app,
        "GET",
        &format!("/v1/balances/{queried}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let text = f.metrics.render();
    assert!(
        !text.to_lowercase().contains(&queried.to_lowercase()),
        "{text}"
    );
    for family in ["xbrd_eth_balance_wei{", "xbrd_xbr_balance_base_units{"] {
        assert!(!text.contains(family), "{text}");
    }
}

#[tokio::test]
async fn the_metrics_listener_serves_metrics_alone_without_a_token() {
    let f = fixture(Role::Seller);
    let (s, b) = send(&f.metrics_app, "GET", "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.as_str().unwrap().contains("xbrd_shed_total"), "{b}");
    for path in ["/v1/status", "/ready", "/openapi.json"] {
        let (s, _) = send(&f.metrics_app, "GET", path, Some(TOKEN), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn role_endpoints_wait_for_the_role_and_respect_it() {
    let f = fixture(Role::Buyer);
    let (s, b) = send(&f.app, "GET", "/v1/channels", Some(TOKEN), None).await;
    assert_eq!(
        s,
        StatusCode::SERVICE_UNAVAILABLE,
        "before the role started"
    );
    assert_error(&b, "not_ready");
    f.start_role();
    let (s, b) = send(&f.app, "GET", "/v1/keys", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "not_supported");
    let (s, b) = send(
        &f.app,
        "POST",
        "/v1/publish",
        Some(TOKEN),
        Some(r#"{"payload":{"x":1}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "not_supported");
    let (s, b) = send(&f.app, "GET", "/v1/channels", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b[0]["remaining"], "965000000000000000000",
        "amounts are decimal strings"
    );
}

#[tokio::test]
async fn balances_and_members_from_the_chain() {
    let f = fixture(Role::Seller);
    f.start_role();
    let (s, b) = send(&f.app, "GET", "/v1/balances", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["addresses"][0]["label"], "delegate");
    assert_eq!(b["addresses"][0]["address"], DELEGATE);
    assert_eq!(b["addresses"][0]["xbr"], "35000000000000000000");
    assert_eq!(b["addresses"][0]["eth"], "1000000000000000000000");
    assert_eq!(b["channels"][0]["seq"], 2);
    let lower = DELEGATE.to_lowercase();
    let (s, b) = send(
        &f.app,
        "GET",
        &format!("/v1/balances/{lower}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["address"], DELEGATE, "addresses come back checksummed");
    let (s, b) = send(
        &f.app,
        "GET",
        "/v1/balances/0x0000000000000000000000000000000000000000",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_error(&b, "chain_error");
    let (s, b) = send(
        &f.app,
        "GET",
        "/v1/balances/not-an-address",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "bad_request");
    let (s, b) = send(
        &f.app,
        "GET",
        &format!("/v1/members/{DELEGATE}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["is_member"], true);
    assert_eq!(b["level"], "ACTIVE");
    assert_eq!(b["registered"], "12");
    let (_, b) = send(
        &f.app,
        "GET",
        "/v1/members/0x0000000000000000000000000000000000000000",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(b["is_member"], false);
    // The balance gauges follow the API reads.
    let metrics = f.metrics.render();
    let series = format!("xbrd_xbr_balance_base_units{{address=\"{DELEGATE}\"}} ");
    let xbr: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in {metrics}"))
        .parse()
        .unwrap();
    assert_eq!(xbr, 35e18, "{metrics}");
}

#[tokio::test]
async fn publish_transactions_and_rotate_validate_input() {
    let f = fixture(Role::Seller);
    f.start_role();
    let (s, b) = send(
        &f.app,
        "POST",
        "/v1/publish",
        Some(TOKEN),
        Some(r#"{"payload":{"temp":21.5}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["publication"], 7);
    assert_eq!(f.role.published.lock().unwrap()[0].payload["temp"], 21.5);
    let (s, b) = send(&f.app, "POST", "/v1/publish", Some(TOKEN), Some("not json")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "bad_request");
    let (s, b) = send(&f.app, "GET", "/v1/transactions?limit=2", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    assert_eq!(b["next"], 2);
    let (_, b) = send(
        &f.app,
        "GET",
        "/v1/transactions?limit=2&after=2",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(b["items"][0]["id"], 3);
    assert!(b["next"].is_null());
    for bad in ["limit=0", "limit=1001", "limit=-1", "after=x"] {
        let (s, b) = send(
            &f.app,
            "GET",
            &format!("/v1/transactions?{bad}"),
            Some(TOKEN),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
        assert_error(&b, "bad_request");
    }
    let (s, b) = send(
        &f.app,
        "POST",
        "/v1/keys/not-a-uuid/rotate",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&b, "bad_request");
    let (s, b) = send(&f.app, "GET", "/no/such/route", None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&b, "not_found");
}

/// A channel of the maker's store holding `inflight` with no sale in flight: money stuck.
fn maker_channel(inflight: u64) -> xbr_market::types::Channel {
    use xbr_market::types::{ChannelState, ChannelType};
    xbr_market::types::Channel {
        channel_oid: "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a".parse().unwrap(),
        channel_type: ChannelType::Payment,
        market_oid: xbr_core::MarketId([0xa1; 16]),
        member_oid: None,
        timestamp: 0,
        open_at: U256::ZERO,
        marketmaker: Address::ZERO,
        actor: Address::ZERO,
        delegate: Address::ZERO,
        recipient: Address::ZERO,
        amount: U256::from(100),
        timeout: 10,
        state: ChannelState::Open,
        seq: 1,
        remaining: U256::from(100 - inflight),
        inflight: U256::from(inflight),
        close: None,
    }
}

#[tokio::test]
async fn invariants_are_checked_on_demand_and_a_violation_degrades_health_and_ready() {
    use xbr_market::MakerStore as _;
    use xbrd::health::invariants::InvariantChecker;
    let f = fixture(Role::Marketmaker);
    // No store yet: nothing to check.
    let (s, b) = send(&f.app, "GET", "/v1/invariants", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_error(&b, "not_ready");
    store_and_chain_up(&f.health);
    f.health.set_session(Some(SessionView {
        session_id: 1,
        router_url: "ws://127.0.0.1:1/ws".into(),
        realm: "xbr-market".into(),
        authid: None,
        authrole: None,
    }));
    let store = Arc::new(xbr_market::MemoryStore::new());
    let stores = xbrd::roles::Stores::of(store.clone());
    f.health
        .set_invariant_checker(Some(Arc::new(InvariantChecker::new(
            Role::Marketmaker,
            stores,
        ))));
    store.insert_channel(&maker_channel(0)).unwrap();
    let (s, b) = send(&f.app, "GET", "/v1/invariants", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["role"], "marketmaker");
    assert!(b["checked_at"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(b["violations"], serde_json::json!([]));
    assert_eq!(
        send(&f.app, "GET", "/health", None, None).await.1["status"],
        "ok"
    );
    let (s, b) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["checks"]["invariants_hold"], true);

    // 2 in flight on a channel with no sale in flight: found, named, with the figures.
    let stuck = xbr_market::MemoryStore::new();
    stuck.insert_channel(&maker_channel(2)).unwrap();
    let stores = xbrd::roles::Stores::of(Arc::new(stuck));
    f.health
        .set_invariant_checker(Some(Arc::new(InvariantChecker::new(
            Role::Marketmaker,
            stores,
        ))));
    let (s, b) = send(&f.app, "GET", "/v1/invariants", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let violations = b["violations"].as_array().unwrap();
    let stuck = violations
        .iter()
        .find(|v| v["invariant"] == "inflight_matches_sales")
        .unwrap_or_else(|| panic!("{b}"));
    assert_eq!(stuck["channel_oid"], "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a");
    assert_eq!(stuck["party"], "marketmaker");
    assert_eq!(stuck["figures"]["inflight"], "2");
    assert_eq!(stuck["figures"]["unresolved_sales"], "0");
    assert!(
        stuck["message"].as_str().unwrap().contains("inflight=2"),
        "{b}"
    );
    let (s, h) = send(&f.app, "GET", "/health", None, None).await;
    assert_eq!(s, StatusCode::OK, "liveness stays 200");
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["invariants"]["violations"], b["violations"]);
    let (s, r) = send(&f.app, "GET", "/ready", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    assert_eq!(r["checks"]["invariants_hold"], false);
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invariants violated"),
        "{r}"
    );
}

#[tokio::test]
async fn channel_close_is_for_the_delegates() {
    let f = fixture(Role::Seller);
    f.start_role();
    let (s, b) = send(&f.app, "POST", "/v1/channel/close", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["channel_oid"], "5e5c7fd5-38a7-4e3b-9fa6-4dbc1f1c4c0a");
    assert_eq!(b["seq"], 2);
    assert_eq!(b["balance"], "965000000000000000000");
    let f = fixture(Role::Marketmaker);
    f.start_role();
    let (s, b) = send(&f.app, "POST", "/v1/channel/close", Some(TOKEN), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&b, "not_supported");
}

#[tokio::test]
async fn openapi_describes_exactly_the_routes() {
    let f = fixture(Role::Seller);
    let (s, doc) = send(&f.app, "GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 19, "one entry per route");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let uri = path
                .replace("{address}", DELEGATE)
                .replace("{file}", "dashboard.js")
                .replace("{api_id}", "627f1b5c-58c2-43b1-8422-a34f7d3f5a04");
            let needs_token = op.get("security").is_some();
            assert_eq!(
                needs_token,
                uri.starts_with("/v1/") || uri == "/metrics",
                "{method} {path}: security matches the router"
            );
            let (s, _) = send(&f.app, &method.to_uppercase(), &uri, None, Some("{}")).await;
            assert_ne!(s, StatusCode::NOT_FOUND, "{method} {path} is routed");
            assert_ne!(
                s,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} has that method"
            );
            if needs_token {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path} is guarded");
            }
            // Every $ref resolves.
            for r in op.to_string().match_indices("#/components/schemas/") {
                let rest = &op.to_string()[r.0 + r.1.len()..];
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
                assert!(
                    doc["components"]["schemas"].get(&name).is_some(),
                    "missing schema {name}"
                );
            }
        }
    }
}

#[tokio::test]
async fn sse_streams_decrypted_events_to_buyers() {
    let f = fixture(Role::Buyer);
    f.start_role();
    let req = Request::get("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    let ev = DecryptedEvent {
        topic: "io.crossbar.example".into(),
        key_id: KeyId([0x6b; 16]),
        payload: serde_json::json!({"n": 1}),
        publication: Some(5),
    };
    f.role.events.send(ev.clone()).unwrap();
    use futures_util::StreamExt;
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    assert!(text.starts_with("event: payload\n"), "{text}");
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    assert_eq!(serde_json::from_str::<DecryptedEvent>(data).unwrap(), ev);
    // Shutdown ends the stream.
    f.shutdown.cancel();
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .unwrap();
    assert!(end.is_none(), "stream ends on shutdown");
}

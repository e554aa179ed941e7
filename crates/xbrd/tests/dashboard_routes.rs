//! The dashboard's routes in process: the page and its assets are static (no token, no data) with
//! their content types and security headers; everything the page reads but `/ready` needs the
//! bearer token; `GET /v1/balances/history` serves the sampler's bounded history.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use xbrd::admin::balance_history::{BalanceHistory, BalanceSample};
use xbrd::admin::dashboard::{ASSETS, INDEX_HTML};
use xbrd::admin::dto::{AddressBalance, BalancesView};
use xbrd::admin::{AdminState, RoleSlot, router};
use xbrd::config::{Role, Secret};
use xbrd::health::Health;
use xbrd::metrics::Metrics;

const TOKEN: &str = "fedcba9876543210";

fn app(history: Arc<BalanceHistory>) -> axum::Router {
    router(Arc::new(AdminState {
        role: Role::Buyer,
        realm: "xbr-market".into(),
        store_path: "x.sqlite".into(),
        token: Secret::new(TOKEN.to_string()),
        health: Arc::new(Health::default()),
        metrics: Arc::new(Metrics::new()),
        role_api: Arc::new(RoleSlot::default()),
        chain: None,
        started: Instant::now(),
        shutdown: CancellationToken::new(),
        balance_history: history,
    }))
}

async fn get(
    app: &axum::Router,
    uri: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn the_page_is_static_html_with_a_strict_policy_and_needs_no_token() {
    let app = app(Default::default());
    for token in [None, Some("wrong")] {
        let (s, h, body) = get(&app, "/dashboard", token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(body, INDEX_HTML.as_bytes());
    }
    assert!(INDEX_HTML.contains("id=\"login-form\""));
}

#[tokio::test]
async fn every_asset_is_served_with_its_content_type_and_unknown_ones_are_404() {
    let app = app(Default::default());
    for a in ASSETS {
        let (s, h, body) = get(&app, &format!("/dashboard/assets/{}", a.name), None).await;
        assert_eq!(s, StatusCode::OK, "{}", a.name);
        assert_eq!(h[header::CONTENT_TYPE], a.content_type, "{}", a.name);
        assert_eq!(h[header::CACHE_CONTROL], "no-cache", "{}", a.name);
        assert_eq!(body, a.body, "{}", a.name);
    }
    let (s, h, body) = get(&app, "/dashboard/assets/..%2Fopenapi.json", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "not_found");
}

/// The API paths the page's script reads (`get("/…"`).
fn paths_the_page_reads() -> Vec<String> {
    let js = ASSETS
        .iter()
        .find(|a| a.name == "dashboard.js")
        .map(|a| String::from_utf8_lossy(a.body).into_owned())
        .unwrap();
    let mut paths: Vec<String> = js
        .match_indices("get(\"/")
        .map(|(i, m)| {
            js[i + m.len() - 1..]
                .chars()
                .take_while(|c| *c != '"')
                .collect()
        })
        .collect();
    // The transactions are paged with a template string.
    assert!(
        js.contains("get(`/v1/transactions?"),
        "the page reads the transactions"
    );
    paths.push("/v1/transactions".into());
    paths
}

#[tokio::test]
async fn what_the_page_reads_needs_the_token_except_readiness() {
    let app = app(Default::default());
    let paths = paths_the_page_reads();
    for want in [
        "/v1/status",
        "/v1/balances/history",
        "/v1/channels",
        "/v1/keys",
        "/metrics",
        "/ready",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "the page reads {want}: {paths:?}"
        );
    }
    for path in &paths {
        let (s, _, _) = get(&app, path, None).await;
        if path == "/ready" {
            assert_eq!(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "{path} answers without a token"
            );
        } else {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} without a token");
            let (s, _, _) = get(&app, path, Some("wrong")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
        }
    }
}

fn sample(n: u64) -> BalanceSample {
    BalanceSample::of(
        Role::Buyer,
        BalancesView {
            addresses: vec![AddressBalance {
                label: Some("delegate".into()),
                address: "0xd03ea8624C8C5987235048901fB614fDcA89b117".into(),
                eth: n.to_string(),
                xbr: "5".into(),
            }],
            channels: vec![],
        },
        n,
    )
}

#[tokio::test]
async fn the_history_is_served_oldest_first_and_bounded() {
    let history = Arc::new(BalanceHistory::new(2, Duration::from_secs(3)));
    let app = app(history.clone());
    let (s, _, body) = get(&app, "/v1/balances/history", Some(TOKEN)).await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({ "interval_secs": 3.0, "capacity": 2, "samples": [] })
    );
    for n in 1..=3 {
        history.push(sample(n));
    }
    let (_, _, body) = get(&app, "/v1/balances/history", Some(TOKEN)).await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let times: Vec<u64> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["time_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(times, [2, 3]);
    assert_eq!(v["samples"][1]["addresses"][0]["eth"], "3");
    assert_eq!(v["samples"][1]["channels"], serde_json::json!([]));
}

//! The real daemon process: admin API up before the router, readiness, token protection, and an orderly
//! exit on SIGTERM/SIGINT.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::{BIN, Daemon, SELLER_KEY, free_port, write_seller_config};

/// Starts a seller daemon in its own directory (kept alive with the daemon).
fn start(router: &str, gateway: &str) -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let admin = common::free_admin();
    let cfg = write_seller_config(dir.path(), router, gateway, &admin);
    let d = common::spawn(&cfg, &admin, |_| {});
    d.wait_up(Duration::from_secs(20));
    (d, dir)
}

fn get(d: &Daemon, path: &str, token: Option<&str>) -> Result<(u16, serde_json::Value), String> {
    d.get(path, token)
}

#[test]
fn admin_api_before_the_router_is_up_then_sigterm_exits_0() {
    // Nothing listens on the router or gateway ports.
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let (mut d, _dir) = start(&router, &gateway);
    let (s, b) = get(&d, "/health", None).unwrap();
    assert_eq!((s, &b["status"]), (200, &serde_json::json!("ok")));
    let (s, b) = get(&d, "/ready", None).unwrap();
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "not_ready");
    assert_eq!(b["checks"]["session_joined"], false);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("WAMP session not joined")
    );
    // /v1 needs the token the daemon created (mode 0600).
    let token_file = d.dir.join("state/admin.token");
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (s, b) = get(&d, "/v1/status", None).unwrap();
    assert_eq!(s, 401);
    assert_eq!(b["error"]["code"], "unauthorized");
    let (s, _) = get(&d, "/v1/status", Some("wrong")).unwrap();
    assert_eq!(s, 401);
    let (s, b) = get(&d, "/v1/status", Some(&d.token())).unwrap();
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["role"], "seller");
    assert!(b["session"].is_null());
    // The admin API answers before the store has opened: wait for it, then it must hold.
    common::wait_for("the store to open", Duration::from_secs(30), || {
        get(&d, "/v1/status", Some(&d.token())).is_ok_and(|(_, b)| b["store"]["open"] == true)
    });
    let (_, b) = get(&d, "/v1/status", Some(&d.token())).unwrap();
    assert_eq!(
        b["store"]["open"], true,
        "the store opens without the router"
    );
    assert!(b["session"].is_null());
    assert_eq!(b["chain"]["reachable"], false);
    let (s, m) = get(&d, "/metrics", Some(&d.token()))
        .map(|(s, _)| (s, ()))
        .unwrap();
    assert_eq!((s, m), (200, ()));
    // The metrics carry balances: not without the token.
    let (s, _) = get(&d, "/metrics", None).unwrap();
    assert_eq!(s, 401);

    d.signal("TERM");
    let (code, took) = d.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", d.stderr());
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    let log = d.stderr();
    assert!(log.contains("\"signal\":\"SIGTERM\""), "{log}");
    assert!(log.contains("store closed"), "{log}");
    assert!(
        !log.contains(SELLER_KEY) && !log.contains(&d.token()),
        "no secrets in logs"
    );
}

#[test]
fn sigint_also_stops_cleanly() {
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let (mut d, _dir) = start(&router, &gateway);
    d.signal("INT");
    let (code, took) = d.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", d.stderr());
    assert!(took < Duration::from_secs(5));
}

#[test]
fn admin_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_seller_config(
        dir.path(),
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:1",
        &addr,
    );
    let o = Command::new(BIN)
        .args(["run", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(&format!("admin.listen = {addr}")), "{e}");
}

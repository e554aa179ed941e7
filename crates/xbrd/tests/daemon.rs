//! The real daemon process: admin API up before the router, readiness, token protection, and an orderly
//! exit on SIGTERM/SIGINT.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_xbrd");
const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `xbrd run`, killed on drop if the test did not stop it.
struct Daemon {
    child: Child,
    admin: String,
    dir: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {sig}");
    }

    /// Waits for exit, returning the code and how long it took.
    fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            assert!(
                start.elapsed() < limit,
                "xbrd did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn write_config(dir: &Path, router: &str, gateway: &str, admin: &str) -> PathBuf {
    let key = dir.join("seller.key");
    std::fs::write(&key, SELLER_KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = dir.join("seller.toml");
    std::fs::write(
        &p,
        format!(
            r#"role = "seller"
realm = "xbr-market"
[[transports]]
url = "{router}"
initial_retry_delay = 0.2
max_retry_delay = 1
[ethereum]
gateway = "{gateway}"
private_key_file = "seller.key"
[ethereum.contracts]
token = "0x254dffcd3277C0b1660F6d42EFbB754edaBAbC2B"
network = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550"
[market]
maker = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9"
[[market.apis]]
api_id = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04"
prefix = "io.crossbar.example"
price = "35 XBR"
rotation_interval = "10s"
[admin]
listen = "{admin}"
[log]
format = "json"
level = "xbrd=debug,info"
"#
        ),
    )
    .unwrap();
    p
}

fn start(router: &str, gateway: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let admin = format!("127.0.0.1:{}", free_port());
    let cfg = write_config(dir.path(), router, gateway, &admin);
    let child = Command::new(BIN)
        .args(["run", "-c", cfg.to_str().unwrap()])
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let d = Daemon { child, admin, dir };
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&d, "/health", None).is_err() {
        assert!(Instant::now() < deadline, "admin API did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

/// A blocking GET with an optional bearer token → (status, JSON body).
fn get(d: &Daemon, path: &str, token: Option<&str>) -> Result<(u16, serde_json::Value), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = xbrd::status::http_client()
            .get(format!("http://{}{path}", d.admin))
            .timeout(Duration::from_secs(5));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    })
}

#[test]
fn admin_api_before_the_router_is_up_then_sigterm_exits_0() {
    // Nothing listens on the router or gateway ports.
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let mut d = start(&router, &gateway);
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
    let token_file = d.dir.path().join("state/admin.token");
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
    assert_eq!(
        b["store"]["open"], true,
        "the store opens without the router"
    );
    assert_eq!(b["chain"]["reachable"], false);
    let (s, m) = get(&d, "/metrics", None).map(|(s, _)| (s, ())).unwrap();
    assert_eq!((s, m), (200, ()));

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
    let mut d = start(&router, &gateway);
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
    let cfg = write_config(
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

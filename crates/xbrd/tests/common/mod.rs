//! Shared by the process-level tests: the `xbrd` binary, key files, configs, a running daemon with
//! its admin API, signals and exit.
#![allow(dead_code)]

pub mod market;

pub mod demo;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xbrd_testkit::REALM_MARKET_OPEN;

/// The daemon binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_xbrd");

/// The seller delegate key of the test configs (ganache account 4).
pub const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free loopback `host:port` for an admin API.
pub fn free_admin() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// Writes a key file (hex) with mode 0600.
pub fn write_key(dir: &Path, name: &str, hex: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, hex).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A seller config (key file `seller.key`, one interval-rotated API, fast reconnects, JSON logs)
/// on the open market realm: anonymous, no maker needed to join.
pub fn seller_toml(router: &str, gateway: &str, admin: &str) -> String {
    seller_toml_on(REALM_MARKET_OPEN, router, gateway, admin)
}

/// [`seller_toml`] on `realm`.
pub fn seller_toml_on(realm: &str, router: &str, gateway: &str, admin: &str) -> String {
    format!(
        r#"role = "seller"
realm = "{realm}"
[[transports]]
url = "{router}"
initial_retry_delay = 0.2
max_retry_delay = 0.5
[ethereum]
gateway = "{gateway}"
chain_id = 1337
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
    )
}

/// Writes `seller.key` and `seller.toml` (see [`seller_toml`]) into `dir`.
pub fn write_seller_config(dir: &Path, router: &str, gateway: &str, admin: &str) -> PathBuf {
    write_key(dir, "seller.key", SELLER_KEY);
    let p = dir.join("seller.toml");
    std::fs::write(&p, seller_toml(router, gateway, admin)).unwrap();
    p
}

/// The value of the sample `series` (a name with its labels as rendered, e.g.
/// `xbrd_chain_up` or `xbrd_build_info{version="0.1.0"}`) in a `/metrics` text.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// Polls `f` every 100 ms until it holds, failing the test after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `xbrd run`, killed on drop if the test did not stop it.
pub struct Daemon {
    /// The process.
    pub child: Child,
    /// Admin API `host:port`.
    pub admin: String,
    /// The directory holding the config (its `state/` holds the store and the admin token).
    pub dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `xbrd run -c cfg` (no NOTIFY_SOCKET); `configure` may set env and stdio (stderr is piped
/// by default).
pub fn spawn(cfg: &Path, admin: &str, configure: impl FnOnce(&mut Command)) -> Daemon {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "-c", cfg.to_str().unwrap()])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    Daemon {
        child: cmd.spawn().unwrap(),
        admin: admin.to_owned(),
        dir: cfg.parent().unwrap().to_owned(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking request to `admin` with an optional bearer token → (status, JSON body or Null).
pub fn request(
    admin: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), String> {
    runtime().block_on(async {
        let url = format!("http://{admin}{path}");
        let client = xbrd::status::http_client();
        let mut req = match method {
            "POST" => client.post(url),
            _ => client.get(url),
        }
        .timeout(Duration::from_secs(10));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, body))
    })
}

impl Daemon {
    /// The admin token the daemon created.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("state/admin.token"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// GET with an optional token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, serde_json::Value), String> {
        request(&self.admin, "GET", path, token, None)
    }

    /// GET under `/v1` with the daemon's token, expecting 200.
    pub fn v1(&self, path: &str) -> serde_json::Value {
        let (s, b) = self
            .get(&format!("/v1{path}"), Some(&self.token()))
            .unwrap();
        assert_eq!(s, 200, "GET /v1{path}: {b}");
        b
    }

    /// POST a JSON body under `/v1` with the daemon's token → (status, body).
    pub fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        request(
            &self.admin,
            "POST",
            &format!("/v1{path}"),
            Some(&self.token()),
            Some(body),
        )
        .unwrap()
    }

    /// The value of `name` (a sample without labels) in `GET /metrics`, asked with the token.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.metrics_text();
        sample(&text, name).unwrap_or_else(|| panic!("no metric {name} in {text}"))
    }

    /// `GET /metrics`, asked with the token.
    pub fn metrics_text(&self) -> String {
        let token = self.token();
        runtime().block_on(async {
            xbrd::status::http_client()
                .get(format!("http://{}/metrics", self.admin))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    /// Waits until the admin API answers `/health`.
    pub fn wait_up(&self, limit: Duration) {
        wait_for("the admin API", limit, || self.get("/health", None).is_ok());
    }

    /// Sends a signal (`TERM`, `INT`, …).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {sig}");
    }

    /// Waits for exit, returning the code and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
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

    /// Everything the daemon wrote to its (piped) stderr so far; call after exit.
    pub fn stderr(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

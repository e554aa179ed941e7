//! The real daemon against a real router (Crossbar.io) and chain (ganache), via xbrd-testkit:
//! `/ready` is 503 while the router is down and 200 once the session joined; READY=1 reaches a
//! `NOTIFY_SOCKET` only after the join; SIGTERM leaves the session with a GOODBYE the router answers and
//! the process exits 0 within 5 s.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xbrd_testkit::{Crossbar, Ganache, REALM_MARKET};

const BIN: &str = env!("CARGO_BIN_EXE_xbrd");
const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, router: &str, gateway: &str, admin: &str) -> std::path::PathBuf {
    let key = dir.join("seller.key");
    std::fs::write(&key, SELLER_KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let p = dir.join("seller.toml");
    std::fs::write(
        &p,
        format!(
            r#"role = "seller"
realm = "{REALM_MARKET}"
[[transports]]
url = "{router}"
initial_retry_delay = 0.2
max_retry_delay = 0.5
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

fn ready_status(admin: &str) -> Option<(u16, serde_json::Value)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = xbrd::status::http_client()
            .get(format!("http://{admin}/ready"))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        let s = resp.status().as_u16();
        Some((s, resp.json().await.unwrap_or_default()))
    })
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ready_follows_the_router_notify_after_join_and_sigterm_says_goodbye() {
    let chain = Ganache::start();
    let mut router = Crossbar::start();
    router.stop();

    let dir = tempfile::tempdir().unwrap();
    let admin = format!("127.0.0.1:{}", free_port());
    let cfg = write_config(dir.path(), &router.ws_url, &chain.url, &admin);
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log_path = dir.path().join("xbrd.log");
    let child = Command::new(BIN)
        .args(["run", "-c", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &notify_path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let mut daemon = Kill(child);

    // Router down: the admin API answers, /ready is 503 because the session is not joined.
    wait_for("the admin API", Duration::from_secs(30), || {
        ready_status(&admin).is_some()
    });
    wait_for("the chain probe", Duration::from_secs(30), || {
        ready_status(&admin).is_some_and(|(_, b)| b["checks"]["chain_reachable"] == true)
    });
    let (s, b) = ready_status(&admin).unwrap();
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["checks"]["session_joined"], false);
    assert_eq!(b["checks"]["store_open"], true);
    let mut buf = [0u8; 512];
    let early = notify
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned());
    assert!(
        !early.as_deref().unwrap_or("").contains("READY=1"),
        "no READY before the join: {early:?}"
    );

    // Router up: the component reconnects and joins; /ready turns 200 and READY=1 arrives.
    router.restart();
    wait_for("/ready 200", Duration::from_secs(60), || {
        ready_status(&admin).is_some_and(|(s, _)| s == 200)
    });
    let mut got = String::new();
    wait_for("READY=1 on NOTIFY_SOCKET", Duration::from_secs(10), || {
        if let Ok(n) = notify.recv(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        got.contains("READY=1")
    });
    assert!(got.contains("STATUS=joined, session "), "{got}");

    // SIGTERM: GOODBYE answered by the router, exit 0 within 5 s, STOPPING=1 sent.
    let pid = daemon.0.id().to_string();
    let t0 = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "no exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t0.elapsed();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    // "left the session" is logged only on the router's GOODBYE reply (Crossbar answers with
    // `wamp.close.normal`), so it shows the router saw ours; the link then closed cleanly.
    assert!(
        log.contains("left the session") && log.contains("\"was_clean\":true"),
        "{log}"
    );
    assert!(log.contains("left the WAMP session"), "{log}");
    let mut tail = String::new();
    while let Ok(n) = notify.recv(&mut buf) {
        tail.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(tail.contains("STOPPING=1"), "{tail}");
    assert!(!log.contains(SELLER_KEY));
}

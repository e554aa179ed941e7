//! The real daemon against a real router (Crossbar.io) and chain (ganache), via xbrd-testkit:
//! `/ready` is 503 while the router is down and 200 once the session joined; READY=1 reaches a
//! `NOTIFY_SOCKET` only after the join; SIGTERM leaves the session with a GOODBYE the router answers and
//! the process exits 0 within 5 s.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{SELLER_KEY, free_admin, wait_for, write_seller_config};
use xbrd_testkit::{Crossbar, DevChain};

fn ready_status(admin: &str) -> Option<(u16, serde_json::Value)> {
    common::request(admin, "GET", "/ready", None, None).ok()
}

#[test]
fn ready_follows_the_router_notify_after_join_and_sigterm_says_goodbye() {
    let chain = DevChain::ganache();
    let mut router = Crossbar::start();
    router.stop();

    let dir = tempfile::tempdir().unwrap();
    let admin = free_admin();
    let cfg = write_seller_config(dir.path(), &router.ws_url, &chain.url, &admin);
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log_path = dir.path().join("xbrd.log");
    let mut daemon = common::spawn(&cfg, &admin, |c| {
        c.env("NOTIFY_SOCKET", &notify_path)
            .stderr(Stdio::from(std::fs::File::create(&log_path).unwrap()));
    });

    // Router down: the admin API answers, /ready is 503 because the session is not joined.
    wait_for("the admin API", Duration::from_secs(30), || {
        ready_status(&admin).is_some()
    });
    // The store opens and the chain probe answers independently: wait for both, then look.
    wait_for(
        "the store and the chain probe",
        Duration::from_secs(30),
        || {
            ready_status(&admin).is_some_and(|(_, b)| {
                b["checks"]["chain_reachable"] == true && b["checks"]["store_open"] == true
            })
        },
    );
    let (s, b) = ready_status(&admin).unwrap();
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["checks"]["session_joined"], false);
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
    let pid = daemon.child.id().to_string();
    let t0 = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(s) = daemon.child.try_wait().unwrap() {
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

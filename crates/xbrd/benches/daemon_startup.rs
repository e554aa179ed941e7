//! Start-to-ready time and idle memory of `xbrd run`, per role, against the real peers.
//!
//! Starts ganache (XBR contracts deployed and the dev market of `config/dev-market.toml` bootstrapped with
//! `xbrd chain deploy|bootstrap`) and Crossbar.io through xbrd-testkit, then for each role (market maker,
//! seller, buyer) starts `xbrd run` `XBRD_BENCH_RUNS` times (default 10), one at a time, and measures
//! - start-to-ready: from spawn until `GET /ready` answers 200 (store open, session joined, chain
//!   reachable), polled every 5 ms;
//! - idle RSS: `VmRSS` of `/proc/<pid>/status` after the ready daemon has been idle for
//!   `XBRD_BENCH_IDLE_SECS` seconds (default 3; the seller runs without its sample feed, and the
//!   seller and buyer runs have a market maker running to attach to).
//!
//! Each daemon is stopped with SIGTERM and must exit 0. Prints p50 and max per role.
//!
//! Run: `cargo bench -p xbrd --bench daemon_startup` (needs the peers: `scripts/peers.sh install`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xbrd_testkit::{Crossbar, DevChain, REALM_MARKET_OPEN, free_port, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_xbrd");
const READY_LIMIT: Duration = Duration::from_secs(60);

/// ganache's public deterministic dev keys (never use them on a real chain): deployer (account 0),
/// market maker (6), seller delegate (4), buyer delegate (5), as in `scripts/demo.sh`.
const DEPLOYER_KEY: &str = "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d";
const ROLES: [(&str, &str); 3] = [
    (
        "marketmaker",
        "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
    ),
    (
        "seller",
        "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743",
    ),
    (
        "buyer",
        "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
    ),
];
const MAKER: &str = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn write_secret(path: &Path, text: &str) {
    std::fs::write(path, format!("{text}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn xbrd(args: &[&str], what: &str) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The market id of `config/dev-market.toml` as a UUID.
fn market_uuid(desc: &str) -> String {
    let table: toml::Table = toml::from_str(desc).unwrap();
    let id: xbr_core::MarketId = table["market_id"].as_str().unwrap().parse().unwrap();
    id.to_string()
}

fn role_market(role: &str, market_id: &str) -> String {
    match role {
        "marketmaker" => format!("market_id = \"{market_id}\"\n"),
        "seller" => format!(
            "maker = \"{MAKER}\"\n\
             [[market.apis]]\n\
             api_id = \"627f1b5c-58c2-43b1-8422-a34f7d3f5a04\"\n\
             prefix = \"io.crossbar.example\"\n\
             price = \"35 XBR\"\n\
             rotation_interval = \"10s\"\n"
        ),
        _ => format!(
            "maker = \"{MAKER}\"\nmax_price = \"100 XBR\"\ntopics = [\"io.crossbar.example\"]\n"
        ),
    }
}

/// Writes `<dir>/<role>-<run>/xbrd.toml` (fresh state directory per run).
fn write_config(
    dir: &Path,
    role: &str,
    run: u64,
    router: &str,
    gateway: &str,
    market_id: &str,
) -> (PathBuf, SocketAddr) {
    let d = dir.join(format!("{role}-{run}"));
    std::fs::create_dir_all(&d).unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let path = d.join("xbrd.toml");
    std::fs::write(
        &path,
        format!(
            "role = \"{role}\"\n\
             realm = \"{REALM_MARKET_OPEN}\"\n\
             [[transports]]\n\
             url = \"{router}\"\n\
             serializer = \"cbor\"\n\
             [ethereum]\n\
             gateway = \"{gateway}\"\n\
             chain_id = 1337\n\
             private_key_file = \"../{role}.key\"\n\
             contracts_file = \"../contracts.toml\"\n\
             [market]\n\
             {market}\
             [store]\n\
             state_dir = \"state\"\n\
             [admin]\n\
             listen = \"{admin}\"\n\
             [log]\n\
             level = \"warn\"\n",
            market = role_market(role, market_id),
        ),
    )
    .unwrap();
    (path, admin)
}

/// The HTTP status of `GET /ready`, if the admin API answers.
fn ready_status(admin: SocketAddr) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&admin, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match s.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    std::str::from_utf8(&head[..got])
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

/// Stops the daemon if a measurement panics.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn sigterm_and_wait(d: &mut Daemon, log: &Path) {
    let pid = d.0.id().to_string();
    Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = d.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "xbrd did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "xbrd exited with {status}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

struct Sample {
    ready: Duration,
    rss_kib: u64,
}

/// Spawns `xbrd run -c config` and waits for `/ready` 200; returns the daemon and the time it took.
fn start_ready(config: &Path, admin: SocketAddr) -> (Daemon, Duration) {
    let log = config.with_file_name("xbrd.log");
    let t0 = Instant::now();
    let mut d = Daemon(
        Command::new(BIN)
            .args(["run", "-c"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    loop {
        if ready_status(admin) == Some(200) {
            break;
        }
        if let Some(s) = d.0.try_wait().unwrap() {
            panic!(
                "xbrd exited ({s}) before ready: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < READY_LIMIT,
            "xbrd not ready within {READY_LIMIT:?}: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (d, t0.elapsed())
}

fn measure(config: &Path, admin: SocketAddr, idle: Duration) -> Sample {
    let log = config.with_file_name("xbrd.log");
    let (mut d, ready) = start_ready(config, admin);
    std::thread::sleep(idle);
    assert_eq!(
        ready_status(admin),
        Some(200),
        "not ready any more after idling"
    );
    let rss_kib = vm_rss_kib(d.0.id());
    sigterm_and_wait(&mut d, &log);
    Sample { ready, rss_kib }
}

fn p50_max<T: Ord + Copy>(mut v: Vec<T>) -> (T, T) {
    v.sort();
    (v[(v.len() - 1) / 2], v[v.len() - 1])
}

fn main() {
    let runs = env_number("XBRD_BENCH_RUNS", 10).max(1);
    let idle = Duration::from_secs(env_number("XBRD_BENCH_IDLE_SECS", 3));

    let chain = DevChain::ganache();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_secret(&d.join("deployer.key"), DEPLOYER_KEY);
    for (role, key) in ROLES {
        write_secret(&d.join(format!("{role}.key")), key);
    }
    let desc = std::fs::read_to_string(repo_root().join("config/dev-market.toml")).unwrap();
    write_secret(&d.join("dev-market.toml"), &desc);
    let path = |name: &str| d.join(name).to_str().unwrap().to_owned();
    xbrd(
        &[
            "chain",
            "deploy",
            "--gateway",
            &chain.url,
            "--key-file",
            &path("deployer.key"),
            "--bytecode",
            xbrd_testkit::contracts_dir().to_str().unwrap(),
            "--out",
            &path("contracts.toml"),
        ],
        "xbrd chain deploy",
    );
    xbrd(
        &[
            "chain",
            "bootstrap",
            "--gateway",
            &chain.url,
            "--contracts-file",
            &path("contracts.toml"),
            "--market",
            &path("dev-market.toml"),
            "--funder-key-file",
            &path("deployer.key"),
        ],
        "xbrd chain bootstrap",
    );
    let router = Crossbar::start();
    let market_id = market_uuid(&desc);

    println!(
        "xbrd run: start-to-ready and idle RSS ({runs} runs per role, idle {}s, {})",
        idle.as_secs(),
        if cfg!(debug_assertions) {
            "debug build"
        } else {
            "optimised build"
        }
    );
    println!(
        "{:<12} {:>14} {:>14} {:>14} {:>14}",
        "role", "ready p50 ms", "ready max ms", "RSS p50 MiB", "RSS max MiB"
    );
    // The seller and the buyer are measured with a market maker running (as in a market): their roles
    // attach to it during the idle time.
    let mut maker: Option<Daemon> = None;
    for (role, _) in ROLES {
        if role != "marketmaker" && maker.is_none() {
            let (config, admin) = write_config(
                d,
                "marketmaker",
                runs,
                &router.ws_url,
                &chain.url,
                &market_id,
            );
            maker = Some(start_ready(&config, admin).0);
        }
        let mut ready = Vec::new();
        let mut rss = Vec::new();
        for run in 0..runs {
            let (config, admin) =
                write_config(d, role, run, &router.ws_url, &chain.url, &market_id);
            let s = measure(&config, admin, idle);
            ready.push(s.ready);
            rss.push(s.rss_kib);
        }
        let (r50, rmax) = p50_max(ready);
        let (m50, mmax) = p50_max(rss);
        println!(
            "{role:<12} {:>14.1} {:>14.1} {:>14.1} {:>14.1}",
            r50.as_secs_f64() * 1e3,
            rmax.as_secs_f64() * 1e3,
            m50 as f64 / 1024.0,
            mmax as f64 / 1024.0
        );
    }
}

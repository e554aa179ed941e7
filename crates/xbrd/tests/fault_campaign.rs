//! The money path under process faults, on the real peers (ganache with the XBR contracts,
//! Crossbar.io) and the three roles as `xbrd run` processes: the seller rotates its key every
//! 200 ms at 1 XBR a key and publishes continuously, the buyer buys every key. For about two
//! minutes, maker, seller and buyer are killed with SIGKILL at random (some kills a fraction of a
//! second apart) and restarted with the same command, some restarts with failpoints that crash
//! the process inside a purchase, and the router crashes and comes back. Then, with everything
//! running: trading resumes (the buyer buys and decrypts after the last restart), the seller stops
//! publishing, and at rest nothing is in flight, the maker agrees with the buyer (payment channel)
//! and the seller (paying channel) on seq and remaining, and every invariant of every role's
//! store holds (`GET /v1/invariants`).
//!
//! The schedule is random from a seed printed at the start; `FAULT_SEED=<n>` replays it. What is
//! asserted does not depend on the seed, and every wait is for a condition with a deadline.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::market::{
    self, BUYER, CONSUMER, MAKER, Routes, SELLER, agreement, amount, common_toml, deploy_market,
    description, follow_events, key, start_role,
};
use common::{Daemon, free_admin};
use serde_json::Value;
use xbr_market::invariants::Violation;
use xbrd_testkit::{Crossbar, DevChain};

const API: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";
/// Role kills in the campaign.
const KILLS: usize = 30;
/// Router crashes (each followed by a restart) in the campaign.
const ROUTER_RESTARTS: usize = 3;
/// Chance (%) that a kill is followed by another a fraction of a second later.
const QUICK_PERCENT: u64 = 30;
/// Chance (%) that a restarted role runs with failpoints that crash it inside a purchase.
const ARMED_PERCENT: u64 = 40;
/// How long a role, trading, or the rest state may take to come back: generous, a few seconds
/// are enough on a quiet machine.
const RECOVERY: Duration = Duration::from_secs(120);
/// How long the market may take to come to rest once nothing is published: a sale left in
/// flight by a crash may wait for the maker's sweeper.
const REST: Duration = Duration::from_secs(180);

/// The roles, in the order of [`Campaign::roles`].
const ROLES: [&str; 3] = ["marketmaker", "seller", "buyer"];
/// Per role: failpoints that crash the process inside a purchase, at a small probability.
const FAILPOINTS: [&str; 3] = [
    "maker::after_reserve=3%return(crash);maker::before_sell=3%return(crash)",
    "seller::after_record=5%return(crash)",
    "buyer::after_intent=5%return(crash)",
];

/// A small deterministic generator (splitmix64): the schedule replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

fn seed() -> u64 {
    match std::env::var("FAULT_SEED") {
        Ok(s) => s.trim().parse().expect("FAULT_SEED is a u64"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGKILL the role (index into [`ROLES`]) and start it again.
    Kill(usize),
    /// Crash the router and start it again on the same ports.
    Router,
}

/// The campaign: each fault with the pause before it.
fn schedule(rng: &mut Rng) -> Vec<(Duration, Fault)> {
    let mut faults: Vec<Fault> = (0..KILLS)
        .map(|_| Fault::Kill(rng.below(ROLES.len() as u64) as usize))
        .collect();
    for k in (1..=ROUTER_RESTARTS).rev() {
        let at = k * KILLS / (ROUTER_RESTARTS + 1) + rng.below(3) as usize;
        faults.insert(at.min(faults.len()), Fault::Router);
    }
    faults
        .into_iter()
        .map(|f| {
            let pause = if rng.chance(QUICK_PERCENT) {
                rng.millis(100, 600)
            } else {
                rng.millis(2500, 7000)
            };
            (pause, f)
        })
        .collect()
}

/// One role's process across kills and restarts.
struct Proc {
    role: &'static str,
    failpoints: &'static str,
    daemon: Option<Daemon>,
    dir: PathBuf,
    admin: String,
    token: String,
    /// Running with failpoints.
    armed: bool,
    kills: usize,
    /// Exits on its own (a failpoint's crash), each followed by a restart.
    crashes: usize,
}

impl Proc {
    fn new(i: usize, daemon: Daemon) -> Self {
        Proc {
            role: ROLES[i],
            failpoints: FAILPOINTS[i],
            dir: daemon.dir.clone(),
            admin: daemon.admin.clone(),
            token: daemon.token(),
            daemon: Some(daemon),
            armed: false,
            kills: 0,
            crashes: 0,
        }
    }

    /// Starts the role with its command (failpoints in the environment when `armed`).
    fn spawn(&mut self, armed: bool) {
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("xbrd.log"))
            .unwrap();
        let cfg = self.dir.join(format!("{}.toml", self.role));
        let failpoints = self.failpoints;
        self.daemon = Some(common::spawn(&cfg, &self.admin, |c| {
            c.stderr(log);
            if armed {
                c.env("FAILPOINTS", failpoints);
            } else {
                c.env_remove("FAILPOINTS");
            }
        }));
        self.armed = armed;
    }

    /// SIGKILL.
    fn kill(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.child.kill();
            let _ = d.child.wait();
        }
        self.kills += 1;
    }

    /// Restarts the role (without failpoints) if it exited on its own.
    fn reap(&mut self) {
        let exited = self
            .daemon
            .as_mut()
            .is_none_or(|d| d.child.try_wait().ok().flatten().is_some());
        if exited {
            println!("{} exited on its own; restarted", self.role);
            self.crashes += 1;
            self.spawn(false);
        }
    }

    /// `GET /v1<path>` → the body if 200 (`None` while the role is down or not started).
    fn v1(&self, path: &str) -> Option<Value> {
        match common::request(
            &self.admin,
            "GET",
            &format!("/v1{path}"),
            Some(&self.token),
            None,
        ) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// Every sale or purchase, through the pages.
    fn transactions(&self) -> Option<Vec<Value>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.v1(&format!("/transactions?limit=1000&after={after}"))?;
            all.extend(page["items"].as_array()?.iter().cloned());
            match page["next"].as_u64() {
                Some(next) => after = next,
                None => return Some(all),
            }
        }
    }
}

/// Polls `f` every 250 ms until it holds (`true`) or `limit` passes (`false`).
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if f() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct Campaign {
    roles: [Proc; 3],
    router: Crossbar,
    router_restarts: usize,
    seed: u64,
    /// The run directory (configs, stores, logs), kept when the test fails.
    dir: PathBuf,
}

impl Campaign {
    fn maker(&self) -> &Proc {
        &self.roles[0]
    }
    fn seller(&mut self) -> &mut Proc {
        &mut self.roles[1]
    }
    fn buyer(&self) -> &Proc {
        &self.roles[2]
    }

    fn run(&mut self, faults: &[(Duration, Fault)], rng: &mut Rng) {
        let start = Instant::now();
        for (pause, fault) in faults {
            // The pause is the schedule itself, not a wait for a condition.
            std::thread::sleep(*pause);
            for p in &mut self.roles {
                p.reap();
            }
            match *fault {
                Fault::Kill(i) => {
                    let armed = rng.chance(ARMED_PERCENT);
                    println!(
                        "{:>6.1}s kill {}{}",
                        start.elapsed().as_secs_f64(),
                        ROLES[i],
                        if armed {
                            ", restart with failpoints"
                        } else {
                            ""
                        }
                    );
                    self.roles[i].kill();
                    self.roles[i].spawn(armed);
                }
                Fault::Router => {
                    println!("{:>6.1}s crash the router", start.elapsed().as_secs_f64());
                    self.router.kill();
                    self.router.restart();
                    self.router_restarts += 1;
                }
            }
        }
        // Everything running, nothing armed: a role still armed is killed once more and
        // restarted without failpoints.
        for p in &mut self.roles {
            p.reap();
            if p.armed {
                p.kill();
                p.spawn(false);
            }
        }
    }

    /// Violations of the agreement at rest, or `None` while a role does not answer.
    fn agreement(&self) -> Option<Vec<Violation>> {
        let maker = self.maker().v1("/channels")?;
        let buyer = self.buyer().v1("/channels")?;
        let seller = self.roles[1].v1("/channels")?;
        Some(agreement(&maker, &seller, &buyer))
    }

    /// The maker's sales by status, and those resolved by recovery.
    fn sales_summary(&self) -> String {
        let Some(sales) = self.maker().transactions() else {
            return "maker sales: not available".into();
        };
        let count = |status: &str, recovered: Option<bool>| {
            sales
                .iter()
                .filter(|t| t["status"] == status)
                .filter(|t| recovered.is_none_or(|r| t["recovered"].as_bool() == Some(r)))
                .count()
        };
        let mut s = format!(
            "sales completed={} rolled_back={} inflight={} seller_signed={}",
            count("completed", None),
            count("failed", None),
            count("inflight", None),
            count("seller_signed", None)
        );
        s += &format!(
            "; resolved by recovery: completed={} rolled_back={}",
            count("completed", Some(true)),
            count("failed", Some(true))
        );
        s
    }

    fn summary(&self) -> String {
        let kills: Vec<String> = self
            .roles
            .iter()
            .map(|p| format!("{}={}", p.role, p.kills))
            .collect();
        let crashes: Vec<String> = self
            .roles
            .iter()
            .map(|p| format!("{}={}", p.role, p.crashes))
            .collect();
        format!(
            "fault campaign seed={}: kills {} (failpoint crashes {}), router restarts={}; {}",
            self.seed,
            kills.join(" "),
            crashes.join(" "),
            self.router_restarts,
            self.sales_summary()
        )
    }

    /// Everything a failure report needs: the summary, each role's channels and invariants.
    fn report(&self, what: &str) -> String {
        let mut out = format!("{what}\n{}\n", self.summary());
        for p in &self.roles {
            out += &format!(
                "{}: channels {}\n{}: invariants {}\n",
                p.role,
                p.v1("/channels").unwrap_or(Value::Null),
                p.role,
                p.v1("/invariants").unwrap_or(Value::Null),
            );
        }
        out += &format!(
            "logs and stores kept in {} (replay with FAULT_SEED={})",
            self.dir.display(),
            self.seed
        );
        out
    }
}

/// The seller's config: one API rotating every 200 ms at 1 XBR, the sample feed publishing
/// every 200 ms when `feed`.
fn seller_market(maker: &str, feed: bool) -> String {
    market::seller_market(maker, API, "200ms")
        + &format!(
            "[market.sample_feed]\nenabled = {feed}\napi_id = \"{API}\"\ninterval = \"200ms\"\n"
        )
}

#[test]
fn kills_crashes_and_router_restarts_leave_every_invariant_holding() {
    let seed = seed();
    println!("fault campaign seed {seed} (replay with FAULT_SEED={seed})");
    let mut rng = Rng(seed);
    let faults = schedule(&mut rng);

    let ganache = DevChain::ganache();
    let (_rt, chain) = deploy_market(&ganache, &description(1900, 1900));
    let contracts = *chain.addresses();
    let router = Crossbar::start();
    let dir = tempfile::Builder::new()
        .prefix("xbrd-fault-")
        .tempdir()
        .unwrap()
        .keep();
    let maker_address = key(MAKER).address().to_checksum(None);
    let admins = [free_admin(), free_admin(), free_admin()];
    let routes = Routes::of(&router);
    let toml = |i: usize| common_toml(ROLES[i], &routes, &ganache.url, &contracts, &admins[i]);
    let seller_toml = |feed| toml(1) + &seller_market(&maker_address, feed);
    let buyer_toml = toml(2)
        + &format!(
            "[market]\nmaker = \"{maker_address}\"\nmember = \"{}\"\nmax_price = \"10 XBR\"\ntopics = [\"io.crossbar.example\"]\n",
            key(CONSUMER).address()
        );
    let maker = start_role(&dir, ROLES[0], MAKER, toml(0), &admins[0]);
    let seller = start_role(&dir, ROLES[1], SELLER, seller_toml(true), &admins[1]);
    let buyer = start_role(&dir, ROLES[2], BUYER, buyer_toml, &admins[2]);
    let mut c = Campaign {
        roles: [
            Proc::new(0, maker),
            Proc::new(1, seller),
            Proc::new(2, buyer),
        ],
        router,
        router_restarts: 0,
        seed,
        dir: dir.clone(),
    };

    // Trading runs before the first fault.
    let trading = wait_until(RECOVERY, || {
        c.buyer().transactions().is_some_and(|t| !t.is_empty())
    });
    assert!(trading, "{}", c.report("no purchase before the campaign"));

    c.run(&faults, &mut rng);

    // All running again.
    for p in &c.roles {
        let up = wait_until(RECOVERY, || p.v1("/channels").is_some());
        assert!(up, "{}", c.report(&format!("{} did not come back", p.role)));
    }

    // Trading resumed: the buyer buys new keys and decrypts events after the last restart.
    let events = follow_events(c.buyer().daemon.as_ref().unwrap());
    let bought = c.buyer().transactions().map_or(0, |t| t.len());
    let mut decrypted = 0;
    let resumed = wait_until(RECOVERY, || {
        decrypted += events.try_iter().count();
        decrypted >= 3 && c.buyer().transactions().is_some_and(|t| t.len() > bought)
    });
    assert!(
        resumed,
        "{}",
        c.report(&format!(
            "trading did not resume: {decrypted} events decrypted, purchases still {bought}"
        ))
    );
    drop(events);

    // Rest: the seller stops publishing (a clean restart without the feed), so nothing more is
    // bought; then nothing is in flight and the parties agree.
    let seller = c.seller();
    let mut d = seller.daemon.take().unwrap();
    d.signal("TERM");
    d.wait_exit(Duration::from_secs(10));
    drop(d);
    std::fs::write(seller.dir.join("seller.toml"), seller_toml(false)).unwrap();
    seller.spawn(false);
    let mut last = None;
    let at_rest = wait_until(REST, || {
        last = c.agreement();
        last.as_ref().is_some_and(Vec::is_empty)
            && c.maker().v1("/channels").is_some_and(|chs| {
                chs.as_array()
                    .unwrap()
                    .iter()
                    .all(|ch| amount(&ch["inflight"]).is_zero())
            })
    });
    let shown: Vec<String> = last.iter().flatten().map(Violation::to_string).collect();
    assert!(
        at_rest,
        "{}",
        c.report(&format!(
            "not at rest: something stays in flight or the parties disagree: {shown:#?}"
        ))
    );

    // Every invariant of every role's store.
    let mut violated = Vec::new();
    for p in &c.roles {
        let view = p.v1("/invariants");
        let list = view.as_ref().and_then(|v| v["violations"].as_array());
        match list {
            Some(list) if list.is_empty() => {}
            _ => violated.push(format!("{}: {}", p.role, view.unwrap_or(Value::Null))),
        }
    }
    assert!(
        violated.is_empty(),
        "{}",
        c.report(&format!("invariants violated: {violated:#?}"))
    );

    println!("{}", c.summary());
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
}

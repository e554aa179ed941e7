//! A local XBR market for the process-level tests: ganache with the XBR contracts deployed and a
//! market bootstrapped with xbr-chain (a payment channel for the buyer, a paying channel for the
//! seller), the role configs, and the three roles as `xbrd run` processes on the secured market
//! realm: the maker over the router's maker transport (role `xbrmm`), the seller and the buyer
//! with WAMP-cryptosign keys (`xbrd keygen`) registered once for their members (`xbrd market
//! register-key`), checked by the maker's dynamic authenticator.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use alloy_primitives::U256;
use xbr_chain::{
    ContractAddresses, ContractBytecode, Gateway, MarketDescription, SimpleBlockchain, bootstrap,
    deploy,
};
use xbr_core::ChannelId;
use xbr_core::eth::EthPrivateKey;
use xbr_market::invariants::{self, Party, Position, Violation};
use xbrd_testkit::{Crossbar, DevChain, REALM_MARKET};

use super::{BIN, Daemon, wait_for, write_key};

/// Ganache's deterministic accounts 0..=6.
pub const KEYS: [&str; 7] = xbrd_testkit::GANACHE_KEYS;
/// The market maker's account.
pub const MAKER: usize = 6;
/// The seller's member (the paying channel's recipient).
pub const PROVIDER: usize = 2;
/// The buyer's member (who opened the payment channel).
pub const CONSUMER: usize = 3;
/// The seller delegate.
pub const SELLER: usize = 4;
/// The buyer delegate.
pub const BUYER: usize = 5;
/// The buyer's payment channel.
pub const PAYMENT: ChannelId = ChannelId([0xb1; 16]);
/// The seller's paying channel.
pub const PAYING: ChannelId = ChannelId([0xc1; 16]);

/// Account `i`'s key.
pub fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(KEYS[i]).unwrap()
}

/// `n` XBR in base units.
pub fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// The market: owner, maker, the two members, and channels of `payment_xbr` (buyer) and
/// `paying_xbr` (seller).
pub fn description(payment_xbr: u64, paying_xbr: u64) -> MarketDescription {
    description_with(payment_xbr, paying_xbr, &[])
}

/// [`description`] with more members: (key hex, actor `provider`/`consumer`/`provider_consumer`),
/// each with 100 XBR.
pub fn description_with(
    payment_xbr: u64,
    paying_xbr: u64,
    extra_members: &[(&str, &str)],
) -> MarketDescription {
    let mut members = vec![
        serde_json::json!({ "key": KEYS[PROVIDER], "actor": "provider", "xbr": xbr(1000).to_string() }),
        serde_json::json!({ "key": KEYS[CONSUMER], "actor": "consumer", "xbr": xbr(2000).to_string() }),
    ];
    for (key, actor) in extra_members {
        members
            .push(serde_json::json!({ "key": key, "actor": actor, "xbr": xbr(100).to_string() }));
    }
    serde_json::from_value(serde_json::json!({
        "market_id": format!("0x{}", "a1".repeat(16)),
        "owner": { "key": KEYS[1], "xbr": xbr(100).to_string() },
        "maker": { "key": KEYS[MAKER], "xbr": xbr(5000).to_string() },
        "members": members,
        "channels": [
            { "channel_id": format!("0x{}", "b1".repeat(16)), "kind": "payment",
              "member": key(CONSUMER).address(), "delegate": key(BUYER).address(), "amount": xbr(payment_xbr).to_string() },
            { "channel_id": format!("0x{}", "c1".repeat(16)), "kind": "paying",
              "member": key(PROVIDER).address(), "delegate": key(SELLER).address(), "amount": xbr(paying_xbr).to_string() }
        ]
    }))
    .unwrap()
}

/// Deploys the XBR contracts on `ganache` and bootstraps `market`; the runtime (for later chain
/// reads) and the chain.
pub fn deploy_market(
    ganache: &DevChain,
    market: &MarketDescription,
) -> (tokio::runtime::Runtime, SimpleBlockchain) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let chain = rt.block_on(async {
        let (gateway, _) = Gateway::connect(&ganache.url).await.unwrap();
        let code = ContractBytecode::load(&xbrd_testkit::contracts_dir()).unwrap();
        let deployment = deploy(&gateway, &key(0), key(0).address(), &code)
            .await
            .unwrap();
        let chain = SimpleBlockchain::new(gateway, deployment.contracts);
        bootstrap(&chain, &key(0), market).await.unwrap();
        chain
    });
    (rt, chain)
}

/// Where the roles join the secured market realm: the maker over the router's maker transport
/// (role `xbrmm`), the delegates over the path of the maker's dynamic authenticator.
#[derive(Clone, Debug)]
pub struct Routes {
    /// The maker's router URL.
    pub maker: String,
    /// The seller's and the buyer's router URL.
    pub delegates: String,
}

impl Routes {
    /// The routes of `router`.
    pub fn of(router: &Crossbar) -> Routes {
        Routes {
            maker: router.maker_url.clone(),
            delegates: router.ws_market_url.clone(),
        }
    }
}

/// The delegate roles' WAMP-cryptosign key files (`xbrd keygen --name`), in the role's dir.
const WAMP_KEY: &str = "wamp";

/// The member a delegate role acts for: the seller for [`PROVIDER`], the buyer for [`CONSUMER`].
pub fn member_of(role: &str) -> Option<usize> {
    match role {
        "seller" => Some(PROVIDER),
        "buyer" => Some(CONSUMER),
        _ => None,
    }
}

/// The parts every role's config shares: the maker joins over `routes.maker`; a delegate over
/// `routes.delegates` with its cryptosign key (`wamp.priv`, written by [`prepare_role`]).
pub fn common_toml(
    role: &str,
    routes: &Routes,
    gateway: &str,
    c: &ContractAddresses,
    admin: &str,
) -> String {
    let (router, auth) = match member_of(role) {
        Some(_) => (
            &routes.delegates,
            format!("method = \"cryptosign\"\nprivate_key_file = \"{WAMP_KEY}.priv\""),
        ),
        None => (&routes.maker, "method = \"anonymous\"".to_owned()),
    };
    format!(
        r#"role = "{role}"
realm = "{REALM_MARKET}"
[[transports]]
url = "{router}"
serializer = "cbor"
initial_retry_delay = 0.2
max_retry_delay = 1
[authentication]
{auth}
[ethereum]
gateway = "{gateway}"
chain_id = 1337
private_key_file = "{role}.key"
[ethereum.contracts]
token = "{}"
network = "{}"
domain = "{}"
catalog = "{}"
market = "{}"
channel = "{}"
[admin]
listen = "{admin}"
[log]
format = "json"
level = "xbrd=debug,xbr_market=debug,info"
"#,
        c.token, c.network, c.domain, c.catalog, c.market, c.channel
    )
}

/// Writes `<dir>/<role>/` (Ethereum key, config; for a delegate a cryptosign key from `xbrd
/// keygen`); the config's path.
pub fn prepare_role(dir: &Path, role: &str, key_index: usize, toml: String) -> PathBuf {
    let role_dir = dir.join(role);
    std::fs::create_dir_all(&role_dir).unwrap();
    write_key(&role_dir, &format!("{role}.key"), KEYS[key_index]);
    if member_of(role).is_some() {
        xbrd(&[
            "keygen",
            "--out",
            role_dir.to_str().unwrap(),
            "--name",
            WAMP_KEY,
        ]);
    }
    let cfg = role_dir.join(format!("{role}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    cfg
}

/// `xbrd market register-key` for the delegate of `cfg` on behalf of `member` (a key index): the
/// maker must be up. The member's key file is written for the command and removed after it.
pub fn register_delegate(cfg: &Path, member: usize) {
    let dir = tempfile::tempdir().unwrap();
    let member_key = write_key(dir.path(), "member.key", KEYS[member]);
    xbrd(&[
        "market",
        "register-key",
        "-c",
        cfg.to_str().unwrap(),
        "--member-key-file",
        member_key.to_str().unwrap(),
    ]);
}

/// Runs `xbrd args…`, asserting success; its stdout.
fn xbrd(args: &[&str]) -> String {
    let out = std::process::Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xbrd {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts the role of `cfg` (written by [`prepare_role`]), logging to `xbrd.log` next to it;
/// waits until its admin API answers.
pub fn run_role(cfg: &Path, admin: &str) -> Daemon {
    let log = std::fs::File::create(cfg.parent().unwrap().join("xbrd.log")).unwrap();
    let d = super::spawn(cfg, admin, |c| {
        c.stderr(log);
    });
    d.wait_up(Duration::from_secs(30));
    d
}

/// [`prepare_role`], [`register_delegate`] for a delegate (the maker must run), [`run_role`];
/// the maker is returned once it runs (its authenticator answers).
pub fn start_role(dir: &Path, role: &str, key_index: usize, toml: String, admin: &str) -> Daemon {
    let cfg = prepare_role(dir, role, key_index, toml);
    match member_of(role) {
        Some(member) => {
            register_delegate(&cfg, member);
            run_role(&cfg, admin)
        }
        None => {
            let maker = run_role(&cfg, admin);
            wait_running(&maker);
            maker
        }
    }
}

/// Waits until the role runs: its admin API serves `/v1/channels`.
pub fn wait_running(d: &Daemon) {
    wait_for("the role to run", Duration::from_secs(90), || {
        d.get("/v1/channels", Some(&d.token()))
            .is_ok_and(|(s, _)| s == 200)
    });
}

/// The role's log.
pub fn log_of(d: &Daemon) -> String {
    std::fs::read_to_string(d.dir.join("xbrd.log")).unwrap_or_default()
}

/// Starts a stopped role again on the same config, store and log; waits until it runs.
pub fn respawn(d: Daemon, role: &str) -> Daemon {
    let dir = d.dir.clone();
    let admin = d.admin.clone();
    drop(d);
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("xbrd.log"))
        .unwrap();
    let d = super::spawn(&dir.join(format!("{role}.toml")), &admin, |c| {
        c.stderr(log);
    });
    d.wait_up(Duration::from_secs(30));
    wait_running(&d);
    d
}

/// SIGTERM; the role exits 0 within 5 s.
pub fn terminate(d: &mut Daemon) {
    d.signal("TERM");
    let (code, took) = d.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", log_of(d));
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
}

/// Streams `GET /v1/events` of `d` into a channel of decrypted events (a thread of its own).
pub fn follow_events(d: &Daemon) -> mpsc::Receiver<serde_json::Value> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let url = format!("http://{}/v1/events", d.admin);
    let token = d.token();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut resp = xbrd::status::http_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let _ = ready_tx.send(());
            let mut buf = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                buf.extend_from_slice(&chunk);
                while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
                    let block: Vec<u8> = buf.drain(..end + 2).collect();
                    let mut is_payload = false;
                    for line in block.lines() {
                        let line = line.unwrap();
                        if line == "event: payload" {
                            is_payload = true;
                        } else if let Some(data) = line.strip_prefix("data: ")
                            && is_payload
                            && tx.send(serde_json::from_str(data).unwrap()).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("SSE stream open");
    rx
}

/// The channel `oid` in a `/v1/channels` (or `/v1/balances` `channels`) answer.
pub fn channel_of<'a>(view: &'a serde_json::Value, oid: &ChannelId) -> &'a serde_json::Value {
    view.as_array()
        .unwrap()
        .iter()
        .find(|c| c["channel_oid"] == oid.to_string())
        .unwrap_or_else(|| panic!("no channel {oid} in {view}"))
}

/// A seller's `[market]` section: `maker`, the seller's member ([`PROVIDER`]), one API `api` on
/// `io.crossbar.example` at 1 XBR a key, a new key every `rotation` (e.g. `"200ms"`).
pub fn seller_market(maker: &str, api: &str, rotation: &str) -> String {
    format!(
        r#"[market]
maker = "{maker}"
member = "{}"
[[market.apis]]
api_id = "{api}"
prefix = "io.crossbar.example"
price = "1 XBR"
rotation_interval = "{rotation}"
"#,
        key(PROVIDER).address()
    )
}

/// A base-unit amount in an admin API answer (decimal string).
pub fn amount(v: &serde_json::Value) -> U256 {
    U256::from_str(v.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// A channel's position in a `/v1/channels` answer.
pub fn position(channels: &serde_json::Value, oid: &ChannelId) -> Position {
    let c = channel_of(channels, oid);
    Position {
        seq: c["seq"].as_u64().unwrap(),
        remaining: amount(&c["remaining"]),
        inflight: amount(&c["inflight"]),
    }
}

/// Where the maker disagrees with the buyer ([`PAYMENT`]) or the seller ([`PAYING`]), from each
/// role's `/v1/channels`.
pub fn agreement(
    maker: &serde_json::Value,
    seller: &serde_json::Value,
    buyer: &serde_json::Value,
) -> Vec<Violation> {
    let mut v = invariants::agreement(
        PAYMENT,
        position(maker, &PAYMENT),
        Party::Buyer,
        position(buyer, &PAYMENT),
    );
    v.extend(invariants::agreement(
        PAYING,
        position(maker, &PAYING),
        Party::Seller,
        position(seller, &PAYING),
    ));
    v
}

//! The daemon's chain settings end to end, through the real binary: keystore files made by
//! Foundry's `cast wallet new` opened with each passphrase source, the chain id pin refusing a
//! gateway on another chain (ganache and anvil), and the chain gauges following the gateway.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{BIN, free_admin, free_port, sample, seller_toml, spawn, wait_for, write_key};
use xbrd_testkit::{ChainKind, DevChain};

const PASSPHRASE: &str = "correct horse battery staple";

/// A keystore made by `cast wallet new` (scrypt, as Foundry writes it), mode 0600 → (file, address).
fn cast_keystore(dir: &Path, passphrase: &str) -> (PathBuf, String) {
    xbrd_testkit::cast_wallet_new(dir, "delegate", passphrase)
}

/// A seller configuration in `dir` whose `[ethereum]` key is the keystore with `passphrase_line`
/// (and `extra_ethereum` lines).
fn keystore_config(dir: &Path, keystore: &Path, ethereum_lines: &str) -> PathBuf {
    let toml = seller_toml("ws://127.0.0.1:1/ws", "http://127.0.0.1:2", &free_admin()).replace(
        "private_key_file = \"seller.key\"\n",
        &format!(
            "private_key_file = \"{}\"\n{ethereum_lines}\n",
            keystore.display()
        ),
    );
    let p = dir.join("seller.toml");
    std::fs::write(&p, toml).unwrap();
    p
}

fn config_check(cfg: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(["config", "check", "-c", cfg.to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn stdout_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn cast_keystores_open_with_each_passphrase_source() {
    let dir = tempfile::tempdir().unwrap();
    let (keystore, address) = cast_keystore(dir.path(), PASSPHRASE);
    let creds = tempfile::tempdir().unwrap();
    write_key(creds.path(), "key-passphrase", &format!("{PASSPHRASE}\n"));
    let pass_file = write_key(dir.path(), "passphrase", &format!("{PASSPHRASE}\n"));
    let cases = [
        (
            format!("private_key_passphrase_file = \"{}\"", pass_file.display()),
            vec![],
            "file ",
        ),
        (
            "private_key_passphrase_env = \"SELLER_KEY_PASSPHRASE\"".into(),
            vec![("SELLER_KEY_PASSPHRASE", PASSPHRASE)],
            "environment variable SELLER_KEY_PASSPHRASE",
        ),
        (
            "private_key_passphrase_credential = \"key-passphrase\"".into(),
            vec![("CREDENTIALS_DIRECTORY", creds.path().to_str().unwrap())],
            "systemd credential \"key-passphrase\"",
        ),
    ];
    for (line, env, from) in cases {
        let cfg = keystore_config(dir.path(), &keystore, &line);
        let o = config_check(&cfg, &env);
        let v = stdout_json(&o);
        assert_eq!(
            v["ethereum"]["delegate_address"],
            address.as_str(),
            "{line}"
        );
        assert_eq!(v["ethereum"]["key"]["format"], "keystore v3", "{line}");
        let shown = v["ethereum"]["key"]["passphrase_from"].as_str().unwrap();
        assert!(shown.starts_with(from), "{line}: {shown}");
        assert_eq!(v["ethereum"]["chain_id"], 1337);
        assert_eq!(v["warnings"], serde_json::json!([]));
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains(PASSPHRASE), "the passphrase was shown: {all}");
    }
}

#[test]
fn a_wrong_or_missing_passphrase_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let (keystore, _) = cast_keystore(dir.path(), PASSPHRASE);
    let cfg = keystore_config(dir.path(), &keystore, "private_key_passphrase_env = \"P\"");
    let o = config_check(&cfg, &[("P", "not it")]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ethereum.private_key_file") && err.contains("wrong passphrase"),
        "{err}"
    );
    assert!(!err.contains("not it"), "{err}");
    let cfg = keystore_config(dir.path(), &keystore, "");
    let o = config_check(&cfg, &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("encrypted keystore") && err.contains("private_key_passphrase_credential"),
        "{err}"
    );
}

#[test]
fn a_missing_chain_id_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::write_seller_config(
        dir.path(),
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:2",
        &free_admin(),
    );
    let unpinned = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("chain_id = 1337\n", "");
    std::fs::write(&cfg, unpinned).unwrap();
    let v = stdout_json(&config_check(&cfg, &[]));
    assert_eq!(v["ethereum"]["chain_id"], serde_json::Value::Null);
    assert_eq!(v["ethereum"]["key"]["format"], "raw key");
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("ethereum.chain_id is not set"),
        "{warnings}"
    );
    let v = stdout_json(&config_check(&cfg, &[("XBRD__ETHEREUM__CHAIN_ID", "1337")]));
    assert_eq!(
        (v["ethereum"]["chain_id"].clone(), v["warnings"].clone()),
        (1337.into(), serde_json::json!([]))
    );
}

/// A seller on `chain` (no router: the chain probe runs regardless) pinned to `chain_id`.
fn seller_on(chain: &DevChain, chain_id: u64, dir: &Path) -> common::Daemon {
    let admin = free_admin();
    write_key(dir, "seller.key", common::SELLER_KEY);
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let toml = seller_toml(&router, &chain.url, &admin)
        .replace("chain_id = 1337\n", &format!("chain_id = {chain_id}\n"));
    let cfg = dir.join("seller.toml");
    std::fs::write(&cfg, toml).unwrap();
    let d = spawn(&cfg, &admin, |_| {});
    d.wait_up(Duration::from_secs(20));
    d
}

fn refuses_a_gateway_on_another_chain(kind: ChainKind) {
    let chain = DevChain::start(kind);
    assert_eq!(chain.chain_id, 1337);
    let dir = tempfile::tempdir().unwrap();
    let mut d = seller_on(&chain, 1, dir.path());
    let want = "serves chain 1337, but chain 1 is configured";
    wait_for(
        "/ready to name the wrong chain",
        Duration::from_secs(20),
        || {
            let (s, b) = d.get("/ready", None).unwrap();
            s == 503
                && b["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("wrong chain") && m.contains(want))
        },
    );
    let status = d.v1("/status");
    assert_eq!(status["chain"]["reachable"], false, "{status}");
    let error = status["chain"]["error"].as_str().unwrap_or_default();
    assert!(error.contains(want), "{status}");
    d.signal("TERM");
    d.wait_exit(Duration::from_secs(10));
    let log = d.stderr();
    assert!(
        log.contains("refusing the Ethereum gateway") && log.contains(want),
        "{log}"
    );

    // The right pin: the same chain is reachable.
    let dir = tempfile::tempdir().unwrap();
    let d = seller_on(&chain, 1337, dir.path());
    wait_for("the chain probe", Duration::from_secs(20), || {
        d.v1("/status")["chain"]["reachable"] == true
    });
    assert_eq!(d.v1("/status")["chain"]["chain_id"], 1337);
}

#[test]
fn refuses_a_gateway_on_another_chain_ganache() {
    refuses_a_gateway_on_another_chain(ChainKind::Ganache);
}

#[test]
fn refuses_a_gateway_on_another_chain_anvil() {
    refuses_a_gateway_on_another_chain(ChainKind::Anvil);
}

#[test]
fn chain_gauges_follow_the_gateway() {
    let mut chain = DevChain::ganache();
    for _ in 0..3 {
        chain.json_rpc("evm_mine", serde_json::json!([])).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let admin = free_admin();
    write_key(dir.path(), "seller.key", common::SELLER_KEY);
    // No router: the chain probe runs regardless.
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let cfg = dir.path().join("seller.toml");
    let toml = seller_toml(&router, &chain.url, &admin)
        .replace("[admin]\n", "[admin]\nchain_interval = \"200ms\"\n");
    std::fs::write(&cfg, toml).unwrap();
    let mut d = spawn(&cfg, &admin, |_| {});
    d.wait_up(Duration::from_secs(20));
    // The metrics once `xbrd_chain_up` is `up`, with the head block seen (at least the 3 mined).
    let chain_up = |up: f64| {
        let mut text = String::new();
        wait_for(
            &format!("xbrd_chain_up {up}"),
            Duration::from_secs(20),
            || {
                text = d.metrics_text();
                sample(&text, "xbrd_chain_up") == Some(up)
            },
        );
        let head = sample(&text, "xbrd_chain_head_block");
        assert!(head.is_some_and(|b| b >= 3.0), "{text}");
        text
    };
    let text = chain_up(1.0);
    let version = env!("CARGO_PKG_VERSION");
    let build = format!("xbrd_build_info{{version=\"{version}\"}}");
    assert_eq!(sample(&text, &build), Some(1.0), "{text}");
    assert_eq!(sample(&text, "xbrd_router_session_up"), Some(0.0), "{text}");

    // Down: the last head seen stays.
    chain.stop();
    chain_up(0.0);
    d.signal("TERM");
    let (code, _) = d.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0));
}

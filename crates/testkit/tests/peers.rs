//! The harness against the real peers: they start, answer, restart and stop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use xbrd_testkit::net::{
    port_is_open, rawsocket_handshake_tcp, rawsocket_handshake_unix, websocket_upgrade_status,
};
use xbrd_testkit::{ChainKind, Crossbar, DevChain, PythonPeer};

/// A WebSocket upgrade offering `wamp.2.json`, written by hand; returns the status line.
fn raw_upgrade(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    head.lines().next().unwrap_or_default().to_owned()
}

fn assert_router_answers(router: &Crossbar) {
    let status = raw_upgrade(router.ws_port, "/ws");
    assert!(
        status.starts_with("HTTP/1.1 101"),
        "/ws answered {status:?}"
    );
    assert_eq!(
        websocket_upgrade_status(router.ws_port, "/ws-auth", "wamp.2.cbor").unwrap(),
        101
    );
    // RawSocket: the router echoes the magic byte and accepts the serializer (JSON = 1).
    let reply = rawsocket_handshake_tcp(router.rs_port, 1).unwrap();
    assert_eq!(reply[0], 0x7F, "rawsocket reply {reply:02x?}");
    assert_eq!(reply[1] & 0x0F, 1, "rawsocket reply {reply:02x?}");
    let reply = rawsocket_handshake_unix(&router.unix_path, 2).unwrap();
    assert_eq!(reply[0], 0x7F, "unix rawsocket reply {reply:02x?}");
    assert_eq!(reply[1] & 0x0F, 2, "unix rawsocket reply {reply:02x?}");
    // The maker's socket (role xbrmm on the market realm).
    let reply = rawsocket_handshake_unix(&router.maker_unix_path, 2).unwrap();
    assert_eq!(reply[0], 0x7F, "maker rawsocket reply {reply:02x?}");
    assert_eq!(
        router.maker_url,
        format!("rs+unix://{}", router.maker_unix_path.display())
    );
    assert_eq!(
        websocket_upgrade_status(router.ws_port, "/ws-market", "wamp.2.cbor").unwrap(),
        101
    );
}

#[test]
fn crossbar_starts_answers_restarts_and_stops() {
    let mut router = Crossbar::start();
    assert_eq!(
        router.ws_url,
        format!("ws://127.0.0.1:{}/ws", router.ws_port)
    );
    assert_eq!(
        router.ws_auth_url,
        format!("ws://127.0.0.1:{}/ws-auth", router.ws_port)
    );
    assert_eq!(router.rs_url, format!("rs://127.0.0.1:{}", router.rs_port));
    assert_router_answers(&router);
    // A path that is not a WebSocket endpoint is refused: the probe can tell.
    assert_ne!(
        websocket_upgrade_status(router.ws_port, "/no-such-path", "wamp.2.json").unwrap(),
        101
    );

    let first_pid = router.pid().unwrap();
    router.restart();
    assert_ne!(router.pid().unwrap(), first_pid);
    assert_router_answers(&router);

    let pid = router.pid().unwrap();
    router.stop();
    assert!(!router.is_running());
    assert!(!port_is_open(router.ws_port));
    assert!(!port_is_open(router.rs_port));
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "crossbar controller {pid} still exists"
    );
    // Stopping twice is harmless.
    router.stop();
}

#[test]
fn crossbar_with_a_custom_config_serves_its_realm() {
    let mut config = xbrd_testkit::default_crossbar_config();
    let realms = config["workers"][0]["realms"].as_array_mut().unwrap();
    let mut extra = realms[0].clone();
    extra["name"] = "custom-realm".into();
    realms.push(extra);
    let router = Crossbar::start_with_config(config.clone());
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(router.node_dir().join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        written["workers"][0]["realms"][4]["name"], "custom-realm",
        "the node config is the one given"
    );
    assert_router_answers(&router);
    let (ws_port, rs_port) = (router.ws_port, router.rs_port);
    drop(router);
    assert!(!port_is_open(ws_port));
    assert!(!port_is_open(rs_port));
}

#[test]
fn ganache_starts_with_chain_id_1337_and_stops() {
    let mut chain = DevChain::ganache();
    assert_eq!(chain.chain_id, 1337);
    assert_eq!(chain.url, format!("http://127.0.0.1:{}", chain.port));

    // eth_chainId by a hand-written HTTP POST.
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", chain.port)).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: serde_json::Value =
        serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["result"], "0x539");
    assert_eq!(json["id"], 7);

    // The deterministic wallet: 10 accounts, the first one is the well-known one.
    let accounts = chain
        .json_rpc("eth_accounts", serde_json::json!([]))
        .unwrap();
    let accounts = accounts["result"].as_array().unwrap();
    assert_eq!(accounts.len(), 10);
    assert_eq!(
        accounts[0].as_str().unwrap().to_lowercase(),
        "0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1"
    );

    let port = chain.port;
    chain.stop();
    assert!(!port_is_open(port));
}

/// Account 0 and 1 of the dev wallet.
const DEV_ADDRESSES: [&str; 2] = [
    "0x90f8bf6a479f320ead074411a4b0e7944ea8c9c1",
    "0xffcf8fdee72ac11b5c542428b35eef5769c409f0",
];

fn quantity(value: &Value) -> u64 {
    u64::from_str_radix(value.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

fn send_one_wei(chain: &DevChain) -> Value {
    chain.rpc(
        "eth_sendTransaction",
        json!([{ "from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[1], "value": "0x1" }]),
    )
}

/// The receipt of `tx`, once there: anvil answers `eth_sendTransaction` before its automine
/// task has put the transaction in a block.
fn wait_for_receipt(chain: &DevChain, tx: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let receipt = chain.rpc("eth_getTransactionReceipt", json!([tx]));
        if !receipt.is_null() {
            return receipt;
        }
        assert!(Instant::now() < deadline, "{tx} not mined within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `kind` and checks the chain id, the pinned version, the dev wallet, automine off/on,
/// mining and balances.
fn dev_chain_starts_and_obeys_the_dev_controls(kind: ChainKind) {
    let mut chain = DevChain::start(kind);
    assert_eq!(chain.kind, kind);
    assert_eq!(chain.chain_id, 1337);
    assert_eq!(chain.url, format!("http://127.0.0.1:{}", chain.port));
    assert_eq!(chain.rpc("eth_chainId", json!([])), "0x539");
    // The versions scripts/peers.sh pins.
    let version = chain.rpc("web3_clientVersion", json!([]));
    let want = match kind {
        ChainKind::Ganache => "Ganache/v7.9.2/",
        ChainKind::Anvil => "anvil/v1.7.1",
    };
    assert!(version.as_str().unwrap().starts_with(want), "{version}");
    let accounts = chain.rpc("eth_accounts", json!([]));
    let accounts: Vec<String> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(accounts.len(), 10);
    assert_eq!(accounts[..2], DEV_ADDRESSES);
    let thousand_eth = "0x3635c9adc5dea00000";
    assert_eq!(
        chain.rpc("eth_getBalance", json!([DEV_ADDRESSES[1], "latest"])),
        thousand_eth
    );

    // Automine off: a transfer stays pending until a block is mined.
    let start = chain.block_number();
    chain.set_automine(false);
    let pending = send_one_wei(&chain);
    assert_eq!(
        chain.rpc("eth_getTransactionReceipt", json!([pending])),
        Value::Null
    );
    assert_eq!(chain.block_number(), start);
    chain.mine(1);
    let receipt = chain.rpc("eth_getTransactionReceipt", json!([pending]));
    assert_eq!(quantity(&receipt["blockNumber"]), start + 1);
    chain.mine(3);
    assert_eq!(chain.block_number(), start + 4);

    // Automine on again (ganache mines an empty block on resuming): a transfer gets a block of
    // its own without being asked for.
    chain.set_automine(true);
    let resumed = chain.block_number();
    let mined = send_one_wei(&chain);
    let receipt = wait_for_receipt(&chain, &mined);
    assert_eq!(quantity(&receipt["blockNumber"]), resumed + 1);

    chain.set_balance(DEV_ADDRESSES[1], "0xde0b6b3a7640000");
    assert_eq!(
        chain.rpc("eth_getBalance", json!([DEV_ADDRESSES[1], "latest"])),
        "0xde0b6b3a7640000"
    );

    let port = chain.port;
    chain.stop();
    assert!(!port_is_open(port));
    // Stopping twice is harmless.
    chain.stop();
}

#[test]
fn ganache_obeys_the_dev_controls() {
    dev_chain_starts_and_obeys_the_dev_controls(ChainKind::Ganache);
}

#[test]
fn anvil_obeys_the_dev_controls() {
    dev_chain_starts_and_obeys_the_dev_controls(ChainKind::Anvil);
}

#[test]
fn cast_is_installed_at_the_pinned_version() {
    let output = std::process::Command::new(xbrd_testkit::cast_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(version.starts_with("cast Version: 1.7.1"), "{version}");
}

#[test]
fn python_peer_lines_are_read_and_exit_is_seen() {
    let script = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    std::fs::write(
        script.path(),
        "import sys, os, autobahn\n\
         print('autobahn', autobahn.__version__)\n\
         print('arg', sys.argv[1], 'env', os.environ['XBRD_TESTKIT_PROBE'])\n\
         print('to stderr', file=sys.stderr)\n\
         sys.exit(3)\n",
    )
    .unwrap();
    let mut peer = PythonPeer::spawn(script.path(), &["hello"], &[("XBRD_TESTKIT_PROBE", "42")]);
    let version = peer.wait_for_line("autobahn", Duration::from_secs(30));
    assert_eq!(version, "autobahn 26.10.2");
    assert_eq!(
        peer.wait_for_line("arg", Duration::from_secs(10)),
        "arg hello env 42"
    );
    assert_eq!(peer.wait(Duration::from_secs(10)).code(), Some(3));
    assert!(peer.output().contains("[stderr] to stderr"));
}

#[test]
fn python_peer_is_killed_on_drop() {
    let script = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    std::fs::write(
        script.path(),
        "import time\nprint('ready')\ntime.sleep(300)\n",
    )
    .unwrap();
    let mut peer = PythonPeer::spawn(script.path(), &[], &[]);
    peer.wait_for_line("ready", Duration::from_secs(30));
    let pid = peer.pid();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    drop(peer);
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn python_peer_that_exits_early_fails_the_wait_loudly() {
    let script = tempfile::Builder::new().suffix(".py").tempfile().unwrap();
    std::fs::write(script.path(), "raise SystemExit('boom')\n").unwrap();
    let mut peer = PythonPeer::spawn(script.path(), &[], &[]);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        peer.wait_for_line("never", Duration::from_secs(30))
    }))
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("before printing"), "{message}");
    assert!(message.contains("boom"), "{message}");
}

#[test]
fn crossbar_can_be_frozen_thawed_killed_and_restarted() {
    let mut router = Crossbar::start();

    router.freeze();
    // The kernel still accepts the connection, but nobody answers the upgrade.
    let frozen = websocket_upgrade_status(router.ws_port, "/ws", "wamp.2.json");
    assert!(frozen.is_err(), "a frozen router answered: {frozen:?}");
    router.thaw();
    assert_eq!(
        websocket_upgrade_status(router.ws_port, "/ws", "wamp.2.json").unwrap(),
        101
    );

    let pid = router.pid().unwrap();
    router.kill();
    assert!(!router.is_running());
    assert!(!port_is_open(router.ws_port));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());

    router.restart();
    assert_router_answers(&router);

    // Dropping a frozen router still stops it.
    router.freeze();
    let ws_port = router.ws_port;
    drop(router);
    assert!(!port_is_open(ws_port));
}

/// The shipped router config (`deploy/crossbar/config.json`) starts, and on its market realm an
/// anonymous session may read the maker's status but nothing else.
#[test]
fn the_deploy_config_lets_anonymous_sessions_only_read_the_market_status() {
    let path = xbrd_testkit::repo_root().join("deploy/crossbar/config.json");
    let config = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let router = Crossbar::start_with_config(config);
    for (procedure, want) in [
        // Allowed: nobody registered it here.
        ("xbr.marketmaker.get_status", "wamp.error.no_such_procedure"),
        ("xbr.marketmaker.revoke_offer", "wamp.error.not_authorized"),
        ("xbr.marketmaker.place_offer", "wamp.error.not_authorized"),
        ("xbr.marketmaker.open_channel", "wamp.error.not_authorized"),
        (
            "xbr.marketmaker.authenticator.authenticate",
            "wamp.error.not_authorized",
        ),
    ] {
        let mut peer = PythonPeer::spawn(
            Path::new("tests/peers/python/interop_peer.py"),
            &[
                &router.ws_url,
                "xbr-market",
                "json",
                "call",
                procedure,
                "[]",
            ],
            &[],
        );
        let line = peer.wait_for_line("ERROR", Duration::from_secs(60));
        assert!(line.contains(want), "{procedure}: {line}");
    }
}

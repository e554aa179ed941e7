//! A ganache dev chain on a free port.

use std::fs;
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::crossbar::tail;
use crate::net;
use crate::paths;
use crate::process::{self, ManagedProcess};

/// The private keys of ganache's deterministic accounts 0..=6 (the dev mnemonic "myth like
/// bonus …", spec §4.5). Public knowledge: for dev chains only. 0 deploys, 1 owns the market,
/// 2 and 3 are the provider and consumer members, 4 and 5 their delegates, 6 the market maker.
pub const GANACHE_KEYS: [&str; 7] = [
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
    "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
    "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743",
    "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
    "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
];

const PORT_ATTEMPTS: usize = 3;

/// A running ganache 7 chain on 127.0.0.1: deterministic wallet
/// ([`GANACHE_MNEMONIC`](crate::GANACHE_MNEMONIC), 10 unlocked accounts with 1000 ETH each),
/// chain id and network id 1337, in-memory state. Dropping it stops it.
pub struct Ganache {
    /// JSON-RPC URL: `http://127.0.0.1:PORT`.
    pub url: String,
    /// The JSON-RPC port.
    pub port: u16,
    /// Chain id (and network id): 1337.
    pub chain_id: u64,
    dir: TempDir,
    process: Option<ManagedProcess>,
}

impl Ganache {
    /// Starts a fresh chain.
    ///
    /// # Panics
    /// If ganache is not installed or does not answer `eth_chainId` within the readiness timeout (`$XBRD_PEER_READY_TIMEOUT`, default 180 s; the panic
    /// message carries the end of its log).
    pub fn start() -> Ganache {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix("xbrd-ganache-")
                .tempdir()
                .unwrap_or_else(|e| panic!("xbrd-testkit: cannot create a temp dir: {e}"));
            let port = net::free_port();
            let mut ganache = Ganache {
                url: format!("http://127.0.0.1:{port}"),
                port,
                chain_id: crate::GANACHE_CHAIN_ID,
                dir,
                process: None,
            };
            match ganache.launch() {
                Ok(()) => return ganache,
                Err(e) if attempt < PORT_ATTEMPTS && e.contains("EADDRINUSE") => {
                    eprintln!("xbrd-testkit: ganache port {port} was taken meanwhile; retrying");
                }
                Err(e) => panic!(
                    "xbrd-testkit: ganache {e} (port {port}).\n--- end of {} ---\n{}",
                    ganache.log_path().display(),
                    tail(&ganache.log_path(), 40)
                ),
            }
        }
    }

    /// Stops the chain (SIGTERM, SIGKILL after a timeout). Idempotent; its state is lost.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Sends one JSON-RPC request and returns the whole response object
    /// (`{"jsonrpc", "id", "result" | "error"}`).
    pub fn json_rpc(&self, method: &str, params: Value) -> std::io::Result<Value> {
        net::json_rpc(self.port, method, params)
    }

    /// The file ganache's output goes to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("ganache.log")
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.log_path())
            .map_err(|e| format!("cannot create its log file: {e}"))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot clone its log file: {e}"))?;
        let chain_id = self.chain_id.to_string();
        let mut cmd = process::command("node");
        cmd.arg(paths::ganache_cli())
            .args(["--server.host", "127.0.0.1", "--server.port"])
            .arg(self.port.to_string())
            .args(["--wallet.deterministic", "--chain.chainId", &chain_id])
            .args(["--chain.networkId", &chain_id])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let process =
            ManagedProcess::spawn("ganache", cmd).map_err(|e| format!("cannot run node: {e}"))?;
        let process = self.process.insert(process);
        let deadline = Instant::now() + process::ready_timeout();
        loop {
            if let Some(status) = process.try_exit() {
                let log = fs::read_to_string(self.log_path()).unwrap_or_default();
                self.process = None;
                let port_taken = if log.contains("EADDRINUSE") {
                    " EADDRINUSE"
                } else {
                    ""
                };
                return Err(format!("exited during start-up ({status}){port_taken}"));
            }
            if let Ok(response) = net::json_rpc(self.port, "eth_chainId", Value::Array(vec![])) {
                let want = format!("0x{:x}", self.chain_id);
                if response["result"] == want.as_str() {
                    return Ok(());
                }
                self.stop();
                return Err(format!(
                    "answered eth_chainId with {response}, expected {want}"
                ));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "was not ready within {:?}",
                    process::ready_timeout()
                ));
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Ganache {
    fn drop(&mut self) {
        self.stop();
    }
}

//! Dev chains on a free port: ganache 7 or Foundry's anvil, both with the dev wallet
//! ([`DEV_MNEMONIC`](crate::DEV_MNEMONIC)) and chain id 1337, so the same keys and addresses work
//! on either. The dev controls (automine, mining, balances) are in the `controls` submodule.

use std::fmt;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::crossbar::tail;
use crate::net;
use crate::paths;
use crate::process::{self, ManagedProcess};

mod controls;

/// The private keys of the dev wallet's accounts 0..=6 (the dev mnemonic "myth like bonus …",
/// spec §4.5), the same on ganache and anvil. Public knowledge: for dev chains only. 0 deploys,
/// 1 owns the market, 2 and 3 are the provider and consumer members, 4 and 5 their delegates,
/// 6 the market maker.
pub const DEV_KEYS: [&str; 7] = [
    "4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
    "646f1ce2fdad0e6deeeb5c7e8e5543bdde65e86029e2fd9fc169899c440a7913",
    "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743",
    "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd",
    "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52",
];

/// [`DEV_KEYS`] under its older name (ganache was the only dev chain).
pub const GANACHE_KEYS: [&str; 7] = DEV_KEYS;

/// Attempts with a fresh port when another process took ours first.
const PORT_ATTEMPTS: usize = 3;

/// Which dev chain implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChainKind {
    /// ganache 7 (Node.js), the chain the XBR reference stack was developed against.
    Ganache,
    /// Foundry's anvil (a native binary; starts faster, behaves closer to geth).
    Anvil,
}

impl ChainKind {
    /// Every kind, for tests that run against each chain.
    pub const ALL: [ChainKind; 2] = [ChainKind::Ganache, ChainKind::Anvil];

    /// The lower-case name: `ganache` or `anvil`.
    pub fn name(self) -> &'static str {
        match self {
            ChainKind::Ganache => "ganache",
            ChainKind::Anvil => "anvil",
        }
    }

    /// The command that starts this chain on 127.0.0.1:`port` with the dev wallet.
    fn command(self, port: u16, chain_id: u64) -> Command {
        let port = port.to_string();
        let chain_id = chain_id.to_string();
        match self {
            ChainKind::Ganache => {
                let mut cmd = process::command("node");
                cmd.arg(paths::ganache_cli())
                    .args(["--server.host", "127.0.0.1", "--server.port", &port])
                    .args(["--wallet.deterministic", "--chain.chainId", &chain_id])
                    .args(["--chain.networkId", &chain_id]);
                cmd
            }
            ChainKind::Anvil => {
                let mut cmd = process::command(paths::anvil_bin());
                cmd.args(["--host", "127.0.0.1", "--port", &port])
                    .args(["--chain-id", &chain_id])
                    .args(["--mnemonic", crate::DEV_MNEMONIC])
                    .args(["--accounts", "10", "--balance", "1000"]);
                cmd
            }
        }
    }
}

impl fmt::Display for ChainKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A running dev chain on 127.0.0.1: the dev wallet ([`DEV_MNEMONIC`](crate::DEV_MNEMONIC),
/// 10 unlocked accounts with 1000 ETH each, keys [`DEV_KEYS`]), chain id (and, on ganache,
/// network id) 1337, in-memory state, automine on. Dropping it stops it.
pub struct DevChain {
    /// JSON-RPC URL: `http://127.0.0.1:PORT`.
    pub url: String,
    /// The JSON-RPC port.
    pub port: u16,
    /// Chain id: 1337.
    pub chain_id: u64,
    /// Which implementation runs.
    pub kind: ChainKind,
    dir: TempDir,
    process: Option<ManagedProcess>,
}

/// The dev chain under its older name; start one with [`DevChain::ganache`].
pub type Ganache = DevChain;

impl DevChain {
    /// Starts a fresh chain of `kind`.
    ///
    /// # Panics
    /// If the chain is not installed or does not answer `eth_chainId` within the readiness
    /// timeout (`$XBRD_PEER_READY_TIMEOUT`, default 180 s; the panic message carries the end of
    /// its log).
    pub fn start(kind: ChainKind) -> DevChain {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix(&format!("xbrd-{kind}-"))
                .tempdir()
                .unwrap_or_else(|e| panic!("xbrd-testkit: cannot create a temp dir: {e}"));
            let port = net::free_port();
            let mut chain = DevChain {
                url: format!("http://127.0.0.1:{port}"),
                port,
                chain_id: crate::DEV_CHAIN_ID,
                kind,
                dir,
                process: None,
            };
            match chain.launch() {
                Ok(()) => return chain,
                Err(LaunchError::PortTaken) if attempt < PORT_ATTEMPTS => {
                    eprintln!("xbrd-testkit: {kind} port {port} was taken meanwhile; retrying");
                }
                Err(e) => panic!(
                    "xbrd-testkit: {kind} {e} (port {port}).\n--- end of {} ---\n{}",
                    chain.log_path().display(),
                    tail(&chain.log_path(), 40)
                ),
            }
        }
    }

    /// Starts a fresh ganache chain.
    pub fn ganache() -> DevChain {
        DevChain::start(ChainKind::Ganache)
    }

    /// Starts a fresh anvil chain.
    pub fn anvil() -> DevChain {
        DevChain::start(ChainKind::Anvil)
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

    /// Sends one JSON-RPC request and returns its `result`.
    ///
    /// # Panics
    /// If the request fails or the chain answers with an error.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        let response = self
            .json_rpc(method, params)
            .unwrap_or_else(|e| panic!("xbrd-testkit: {} {method}: {e}", self.kind));
        match response.get("result") {
            Some(result) if response.get("error").is_none() => result.clone(),
            _ => panic!("xbrd-testkit: {} {method} failed: {response}", self.kind),
        }
    }

    /// The file the chain's output goes to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.kind))
    }

    fn launch(&mut self) -> Result<(), LaunchError> {
        let log = fs::File::create(self.log_path())
            .map_err(|e| LaunchError::Other(format!("cannot create its log file: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| LaunchError::Other(format!("cannot clone its log file: {e}")))?;
        let mut cmd = self.kind.command(self.port, self.chain_id);
        cmd.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let process = ManagedProcess::spawn(self.kind.name(), cmd)
            .map_err(|e| LaunchError::Other(format!("cannot be run: {e}")))?;
        let process = self.process.insert(process);
        let deadline = Instant::now() + process::ready_timeout();
        loop {
            if let Some(status) = process.try_exit() {
                self.process = None;
                let log = fs::read_to_string(self.log_path()).unwrap_or_default();
                if log.contains("EADDRINUSE") || log.contains("Address already in use") {
                    return Err(LaunchError::PortTaken);
                }
                return Err(LaunchError::Other(format!(
                    "exited during start-up ({status})"
                )));
            }
            if let Ok(response) = net::json_rpc(self.port, "eth_chainId", Value::Array(vec![])) {
                let want = format!("0x{:x}", self.chain_id);
                if response["result"] == want.as_str() {
                    return Ok(());
                }
                self.stop();
                return Err(LaunchError::Other(format!(
                    "answered eth_chainId with {response}, expected {want}"
                )));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(LaunchError::Other(format!(
                    "was not ready within {:?}",
                    process::ready_timeout()
                )));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for DevChain {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a start attempt failed.
enum LaunchError {
    /// Another process bound the port first: retry with a fresh one.
    PortTaken,
    /// Anything else, described.
    Other(String),
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::PortTaken => f.write_str("could not bind its port"),
            LaunchError::Other(what) => f.write_str(what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_in_lower_case() {
        let names: Vec<String> = ChainKind::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["ganache", "anvil"]);
    }
}

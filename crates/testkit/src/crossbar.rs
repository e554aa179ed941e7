//! A Crossbar.io router on free ports, from the in-repo node config.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::net::{self, port_is_open};
use crate::paths;
use crate::process::{self, ManagedProcess};

/// Attempts with fresh ports when another process took one of ours first.
const PORT_ATTEMPTS: usize = 3;
/// File name of the general RawSocket Unix socket in the node config.
const UNIX_SOCKET: &str = "rawsocket.sock";
/// File name of the maker's RawSocket Unix socket (role `xbrmm`) in the node config.
const MAKER_SOCKET: &str = "xbrmm.sock";

/// The node config in the repository (`tests/peers/crossbar/config.json`): realm1 anonymous,
/// realm2 with ticket/wampcra/cryptosign users, the secured market realm `xbr-market` (roles
/// `xbrmm`, `user` under the maker's dynamic authorizer, `anonymous`) and the open
/// `xbr-market-open`; WebSocket at `/ws`, `/ws-auth`
/// and `/ws-market` (the maker's dynamic cryptosign authenticator, or anonymous), RawSocket over
/// TCP and over two Unix sockets (`rawsocket.sock`; `xbrmm.sock`, where every session is the
/// maker, role `xbrmm`). Ports and socket paths are rewritten by [`Crossbar::start_with_config`].
pub fn default_crossbar_config() -> Value {
    let path = paths::repo_root().join("tests/peers/crossbar/config.json");
    let text = fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("xbrd-testkit: cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("xbrd-testkit: {} is not JSON: {e}", path.display()))
}

/// A running Crossbar.io router bound to 127.0.0.1. Dropping it stops it.
pub struct Crossbar {
    /// WebSocket URL accepting anonymous and authenticated clients: `ws://127.0.0.1:P/ws`.
    pub ws_url: String,
    /// WebSocket URL accepting authenticated clients only: `ws://127.0.0.1:P/ws-auth`.
    pub ws_auth_url: String,
    /// RawSocket over TCP: `rs://127.0.0.1:Q`.
    pub rs_url: String,
    /// RawSocket over this Unix socket.
    pub unix_path: PathBuf,
    /// WebSocket URL of the market's delegates: `ws://127.0.0.1:P/ws-market` (WAMP-cryptosign
    /// through the maker's dynamic authenticator, or anonymous).
    pub ws_market_url: String,
    /// The maker's RawSocket Unix socket: every session on it gets role `xbrmm`.
    pub maker_unix_path: PathBuf,
    /// [`maker_unix_path`](Crossbar::maker_unix_path) as a client URL: `rs+unix:///…/xbrmm.sock`.
    pub maker_url: String,
    /// The WebSocket port (P).
    pub ws_port: u16,
    /// The RawSocket TCP port (Q).
    pub rs_port: u16,
    /// What the node config listens on (after rewriting).
    listeners: Listeners,
    dir: TempDir,
    process: Option<ManagedProcess>,
}

impl Crossbar {
    /// Starts a router with [`default_crossbar_config`].
    ///
    /// # Panics
    /// If the peers are not installed or the router is not ready within the readiness timeout (`$XBRD_PEER_READY_TIMEOUT`, default 180 s; the panic
    /// message carries the end of Crossbar's log).
    pub fn start() -> Crossbar {
        Crossbar::start_with_config(default_crossbar_config())
    }

    /// Starts a router with `config` (a Crossbar node config). In every transport the port
    /// (`web` → WebSocket port, `rawsocket` over TCP → RawSocket port) and the Unix socket path
    /// are replaced; everything else is used as given.
    pub fn start_with_config(config: Value) -> Crossbar {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = tempfile::Builder::new()
                .prefix("xbrd-crossbar-")
                .tempdir()
                .unwrap_or_else(|e| panic!("xbrd-testkit: cannot create a temp dir: {e}"));
            let ws_port = net::free_port();
            let rs_port = net::free_port();
            let unix_path = dir.path().join(UNIX_SOCKET);
            let maker_unix_path = dir.path().join(MAKER_SOCKET);
            let node_dir = dir.path().join(".crossbar");
            fs::create_dir_all(&node_dir)
                .unwrap_or_else(|e| panic!("xbrd-testkit: cannot create the node dir: {e}"));
            let (config, listeners) = rewrite_config(config.clone(), ws_port, rs_port, dir.path());
            let text = serde_json::to_string_pretty(&config).expect("JSON value serializes");
            fs::write(node_dir.join("config.json"), text)
                .unwrap_or_else(|e| panic!("xbrd-testkit: cannot write the node config: {e}"));
            let mut crossbar = Crossbar {
                ws_url: format!("ws://127.0.0.1:{ws_port}/ws"),
                ws_auth_url: format!("ws://127.0.0.1:{ws_port}/ws-auth"),
                rs_url: format!("rs://127.0.0.1:{rs_port}"),
                unix_path,
                ws_market_url: format!("ws://127.0.0.1:{ws_port}/ws-market"),
                maker_url: format!("rs+unix://{}", maker_unix_path.display()),
                maker_unix_path,
                listeners,
                ws_port,
                rs_port,
                dir,
                process: None,
            };
            match crossbar.launch() {
                Ok(()) => return crossbar,
                Err(StartError::PortTaken) if attempt < PORT_ATTEMPTS => {
                    eprintln!("xbrd-testkit: a Crossbar port was taken meanwhile; retrying");
                }
                Err(e) => panic!("{}", crossbar.failure(e)),
            }
        }
    }

    /// Stops the router: SIGTERM to its process group (controller and workers), SIGKILL after
    /// a timeout. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Kills the router and its workers with SIGKILL, like a crash: no goodbyes, connections
    /// reset. [`restart`](Crossbar::restart) brings it back on the same ports.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Freezes the router (SIGSTOP to its process group): its sockets stay open but nothing
    /// answers, like a half-open connection or a hung host. Undo with [`thaw`](Crossbar::thaw);
    /// [`stop`](Crossbar::stop) and drop work on a frozen router too.
    pub fn freeze(&self) {
        let process = self
            .process
            .as_ref()
            .expect("xbrd-testkit: Crossbar is not running");
        assert!(
            process.signal("STOP"),
            "xbrd-testkit: cannot SIGSTOP Crossbar"
        );
    }

    /// Resumes a router frozen by [`freeze`](Crossbar::freeze) (SIGCONT).
    pub fn thaw(&self) {
        let process = self
            .process
            .as_ref()
            .expect("xbrd-testkit: Crossbar is not running");
        assert!(
            process.signal("CONT"),
            "xbrd-testkit: cannot SIGCONT Crossbar"
        );
    }

    /// Stops the router and starts it again on the same ports with the same node dir.
    ///
    /// # Panics
    /// If it is not ready again within the readiness timeout.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.launch() {
            panic!("{}", self.failure(e));
        }
    }

    /// True while the router process is alive.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|process| process.try_exit().is_none())
    }

    /// The router's PID (the process group leader), if running.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ManagedProcess::pid)
    }

    /// The Crossbar node directory (`<tmp>/.crossbar`, holding `config.json`).
    pub fn node_dir(&self) -> PathBuf {
        self.dir.path().join(".crossbar")
    }

    /// The file Crossbar's stdout and stderr go to.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("crossbar.log")
    }

    /// The last `lines` lines of Crossbar's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path(), lines)
    }

    fn launch(&mut self) -> Result<(), StartError> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| StartError::Spawn(format!("cannot open the log file: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| StartError::Spawn(format!("cannot clone the log file: {e}")))?;
        // A socket file left by a killed router would block the Unix listener.
        for socket in &self.listeners.unix {
            let _ = fs::remove_file(socket);
        }
        let mut cmd = process::command(paths::crossbar_bin());
        cmd.arg("start")
            .arg("--cbdir")
            .arg(self.node_dir())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let process = ManagedProcess::spawn("crossbar", cmd)
            .map_err(|e| StartError::Spawn(format!("cannot run crossbar: {e}")))?;
        self.process = Some(process);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), StartError> {
        let deadline = Instant::now() + process::ready_timeout();
        loop {
            if let Some(status) = self.process.as_mut().and_then(ManagedProcess::try_exit) {
                self.process = None;
                let log = fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(if log.contains("Address already in use") {
                    StartError::PortTaken
                } else {
                    StartError::Exited(status.to_string())
                });
            }
            if self.accepts_clients() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(StartError::Timeout);
            }
            thread::sleep(Duration::from_millis(200));
        }
    }

    /// The RawSocket TCP port (if configured) and every Unix socket accept, and `/ws` upgrades
    /// a WAMP WebSocket.
    fn accepts_clients(&self) -> bool {
        (!self.listeners.rawsocket_tcp || port_is_open(self.rs_port))
            && self
                .listeners
                .unix
                .iter()
                .all(|socket| std::os::unix::net::UnixStream::connect(socket).is_ok())
            && net::websocket_upgrade_status(self.ws_port, "/ws", "wamp.2.json").ok() == Some(101)
    }

    fn failure(&self, error: StartError) -> String {
        let what = match error {
            StartError::PortTaken => "could not bind its ports (taken by another process)".into(),
            StartError::Spawn(e) => e,
            StartError::Exited(status) => format!("exited during start-up ({status})"),
            StartError::Timeout => format!("was not ready within {:?}", process::ready_timeout()),
        };
        format!(
            "xbrd-testkit: Crossbar {what}; ws port {}, rawsocket port {}, node dir {}.\n\
             --- end of {} ---\n{}",
            self.ws_port,
            self.rs_port,
            self.node_dir().display(),
            self.log_path().display(),
            self.log_tail(40)
        )
    }
}

impl Drop for Crossbar {
    fn drop(&mut self) {
        self.stop();
    }
}

enum StartError {
    PortTaken,
    Spawn(String),
    Exited(String),
    Timeout,
}

/// What a node config listens on.
#[derive(Debug, Default, PartialEq)]
struct Listeners {
    /// Unix socket paths.
    unix: Vec<PathBuf>,
    /// Whether a RawSocket transport listens on TCP.
    rawsocket_tcp: bool,
}

/// Points every transport of `config` at our ports, and every Unix socket into `socket_dir`
/// (keeping its file name); the config and what it listens on.
fn rewrite_config(
    mut config: Value,
    ws_port: u16,
    rs_port: u16,
    socket_dir: &Path,
) -> (Value, Listeners) {
    let mut listeners = Listeners::default();
    let workers = config
        .get_mut("workers")
        .and_then(Value::as_array_mut)
        .map(|workers| workers.as_mut_slice())
        .unwrap_or_default();
    for worker in workers {
        let Some(transports) = worker.get_mut("transports").and_then(Value::as_array_mut) else {
            continue;
        };
        for transport in transports {
            let kind = transport
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let Some(endpoint) = transport.get_mut("endpoint").and_then(Value::as_object_mut)
            else {
                continue;
            };
            match endpoint.get("type").and_then(Value::as_str) {
                Some("unix") => {
                    let name = endpoint
                        .get("path")
                        .and_then(Value::as_str)
                        .and_then(|path| Path::new(path).file_name())
                        .map_or_else(|| UNIX_SOCKET.into(), |name| name.to_owned());
                    let path = socket_dir.join(name);
                    endpoint.insert("path".into(), path.to_string_lossy().into());
                    listeners.unix.push(path);
                }
                Some("tcp") if kind == "web" || kind == "websocket" => {
                    endpoint.insert("port".into(), ws_port.into());
                    endpoint.insert("interface".into(), "127.0.0.1".into());
                }
                Some("tcp") if kind == "rawsocket" => {
                    listeners.rawsocket_tcp = true;
                    endpoint.insert("port".into(), rs_port.into());
                    endpoint.insert("interface".into(), "127.0.0.1".into());
                }
                _ => {}
            }
        }
    }
    (config, listeners)
}

pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_config_sets_ports_socket_and_interface() {
        let (config, listeners) =
            rewrite_config(default_crossbar_config(), 40001, 40002, Path::new("/tmp/x"));
        assert_eq!(
            listeners,
            Listeners {
                unix: vec!["/tmp/x/rawsocket.sock".into(), "/tmp/x/xbrmm.sock".into()],
                rawsocket_tcp: true
            }
        );
        let transports = config["workers"][0]["transports"].as_array().unwrap();
        let mut seen = (0, 0, 0);
        for t in transports {
            let endpoint = &t["endpoint"];
            match (
                t["type"].as_str().unwrap(),
                endpoint["type"].as_str().unwrap(),
            ) {
                ("web", "tcp") => {
                    assert_eq!(endpoint["port"], 40001);
                    assert_eq!(endpoint["interface"], "127.0.0.1");
                    seen.0 += 1;
                }
                ("rawsocket", "tcp") => {
                    assert_eq!(endpoint["port"], 40002);
                    assert_eq!(endpoint["interface"], "127.0.0.1");
                    seen.1 += 1;
                }
                ("rawsocket", "unix") => {
                    assert_eq!(endpoint["path"], listeners.unix[seen.2].to_str().unwrap());
                    seen.2 += 1;
                }
                other => panic!("unexpected transport {other:?}"),
            }
        }
        assert_eq!(seen, (1, 1, 2));
    }

    #[test]
    fn default_config_has_the_four_realms() {
        let config = default_crossbar_config();
        let realms: Vec<&str> = config["workers"][0]["realms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|realm| realm["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            realms,
            [
                crate::REALM_ANONYMOUS,
                crate::REALM_AUTH,
                crate::REALM_MARKET,
                crate::REALM_MARKET_OPEN
            ]
        );
    }
}

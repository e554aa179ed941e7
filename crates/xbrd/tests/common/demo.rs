//! `scripts/demo.sh` as a child of a test: on free ports, with a run directory of the test's and
//! this build's `xbrd` (`XBRD_BIN`).
//!
//! Whatever happens, every process the script started is stopped: on drop the script gets SIGTERM
//! (its trap stops its process groups) and then `scripts/peers.sh stop --dir <run dir>` stops any
//! recorded process still alive.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// `n` distinct free ports on 127.0.0.1 (all listeners are held until every port is picked).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// Wraps the command in `setpriv --pdeathsig TERM` where that works, so the child is told to stop
/// even if this test process dies without running destructors.
pub fn command(program: &str) -> Command {
    let pdeathsig = Command::new("setpriv")
        .args(["--pdeathsig", "TERM", "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if pdeathsig {
        let mut c = Command::new("setpriv");
        c.args(["--pdeathsig", "TERM", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// The running script; stops it and everything it recorded on drop.
pub struct Demo {
    /// The script.
    pub child: Child,
    /// Its run directory (configs, keys, stores, logs, `admin.env`); kept after the script ends.
    pub run_dir: PathBuf,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Demo {
    /// Starts `scripts/demo.sh args…` with its run directory, stdout and stderr under `tmp`, every
    /// port free, and `env` on top.
    pub fn start(tmp: &Path, args: &[&str], env: &[(&str, String)]) -> Demo {
        let run_dir = tmp.join("run");
        let ports = free_ports(6);
        let stdout_path = tmp.join("demo.out");
        let stderr_path = tmp.join("demo.err");
        let mut cmd = command("bash");
        cmd.arg(xbrd_testkit::repo_root().join("scripts/demo.sh"))
            .args(args)
            .current_dir(xbrd_testkit::repo_root())
            .env("XBRD_BIN", BIN)
            .env("XBRD_DEMO_DIR", &run_dir)
            .env("XBRD_CHAIN_PORT", ports[0].to_string())
            .env("XBRD_CROSSBAR_WS_PORT", ports[1].to_string())
            .env("XBRD_CROSSBAR_RS_PORT", ports[2].to_string())
            .env("XBRD_MAKER_ADMIN_PORT", ports[3].to_string())
            .env("XBRD_SELLER_ADMIN_PORT", ports[4].to_string())
            .env("XBRD_BUYER_ADMIN_PORT", ports[5].to_string())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(File::create(&stdout_path).unwrap())
            .stderr(File::create(&stderr_path).unwrap());
        if let Some(peers) = std::env::var_os("XBRD_PEERS_DIR") {
            cmd.env("XBRD_PEERS_DIR", peers);
        }
        Demo {
            child: cmd.spawn().expect("spawn scripts/demo.sh"),
            run_dir,
            stdout_path,
            stderr_path,
        }
    }

    /// Waits up to `limit` for the script to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the demo script") {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What the script printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// What the script logged on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-s", "TERM", &self.child.id().to_string()])
                .status();
            if self.wait(Duration::from_secs(90)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        // Anything still recorded in the run directory (e.g. after a SIGKILL of the script).
        let _ = Command::new("bash")
            .arg(xbrd_testkit::repo_root().join("scripts/peers.sh"))
            .args(["stop", "--dir"])
            .arg(&self.run_dir)
            .env("XBRD_STOP_TIMEOUT", "5")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

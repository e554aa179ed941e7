//! Child processes owned by the harness: own process group, parent-death signal, run-dir
//! records, and a stop that reaches the whole group.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a peer gets between SIGTERM and SIGKILL.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the rest of a group (e.g. Crossbar's workers) gets after its leader has exited.
const GROUP_TIMEOUT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// How long a peer gets to become ready: `$XBRD_PEER_READY_TIMEOUT` seconds, default 180
/// (Crossbar needs 7-9 s on a quiet machine, much more on a loaded one).
pub(crate) fn ready_timeout() -> Duration {
    let secs = std::env::var("XBRD_PEER_READY_TIMEOUT")
        .ok()
        .and_then(|secs| secs.trim().parse().ok())
        .unwrap_or(180);
    Duration::from_secs(secs)
}

/// A command for `program`, wrapped in `setpriv --pdeathsig TERM` where that works.
pub(crate) fn command(program: impl AsRef<OsStr>) -> Command {
    if pdeathsig_supported() {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn pdeathsig_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        Command::new("setpriv")
            .args(["--pdeathsig", "TERM", "--", "true"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns on one thread that lives as long as the process: the parent-death signal is tied to
/// the spawning thread, and test threads come and go.
fn spawn_on_spawner_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("xbrd-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in queue {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("xbrd-testkit: cannot start the spawner thread");
        jobs
    });
    let (reply, result) = mpsc::channel();
    spawner
        .send((cmd, reply))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
}

/// A running child in its own process group, stopped (group-wide) on drop.
pub(crate) struct ManagedProcess {
    name: String,
    child: Child,
    pgid: u32,
    record: Option<PathBuf>,
    exit: Option<ExitStatus>,
    stopped: bool,
}

impl ManagedProcess {
    /// Spawns `cmd` as the leader of a new process group and records it in `$XBRD_RUN_DIR`.
    pub(crate) fn spawn(name: &str, mut cmd: Command) -> io::Result<ManagedProcess> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        let child = spawn_on_spawner_thread(cmd)?;
        let pid = child.id();
        let record = write_record(name, pid);
        Ok(ManagedProcess {
            name: name.to_owned(),
            child,
            pgid: pid,
            record,
            exit: None,
            stopped: false,
        })
    }

    pub(crate) fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub(crate) fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's exit status if it has exited (without waiting).
    pub(crate) fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `timeout` for the child to exit by itself.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends `signal` (a name such as `STOP`, `CONT`, `KILL`) to the whole process group,
    /// unless it has been stopped already.
    pub(crate) fn signal(&self, signal: &str) -> bool {
        !self.stopped && signal_group(self.pgid, signal)
    }

    /// SIGTERM to the group (plus SIGCONT, in case it is frozen), SIGKILL after
    /// [`STOP_TIMEOUT`]; then waits for the rest of the group. Idempotent.
    pub(crate) fn stop(&mut self) {
        self.end(false);
    }

    /// SIGKILL to the group at once, like a crash; then reaps. Idempotent.
    pub(crate) fn kill(&mut self) {
        self.end(true);
    }

    fn end(&mut self, hard: bool) {
        if self.stopped {
            return;
        }
        if self.try_exit().is_none() {
            if hard {
                signal_group(self.pgid, "KILL");
                self.exit = self.child.wait().ok();
            } else {
                signal_group(self.pgid, "TERM");
                signal_group(self.pgid, "CONT");
                if self.wait_exit(STOP_TIMEOUT).is_none() {
                    eprintln!(
                        "xbrd-testkit: {} (pid {}) ignored SIGTERM for {STOP_TIMEOUT:?}; sending SIGKILL",
                        self.name, self.pgid
                    );
                    signal_group(self.pgid, "KILL");
                    self.exit = self.child.wait().ok();
                }
            }
        }
        // The leader is reaped; its group may still hold children (Crossbar's workers).
        let deadline = Instant::now() + GROUP_TIMEOUT;
        while group_alive(self.pgid) && Instant::now() < deadline {
            if hard {
                signal_group(self.pgid, "KILL");
            }
            thread::sleep(POLL);
        }
        if group_alive(self.pgid) {
            signal_group(self.pgid, "KILL");
        }
        self.stopped = true;
        if let Some(record) = self.record.take() {
            let _ = fs::remove_file(record);
        }
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends `signal` to every process of group `pgid` (no unsafe code: runs `kill`).
fn signal_group(pgid: u32, signal: &str) -> bool {
    Command::new("kill")
        .args(["-s", signal, "--", &format!("-{pgid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, "0")
}

/// Writes `<run-dir>/testkit-<name>-<pid>.pid` = "pid pgid starttime" if `$XBRD_RUN_DIR` is set,
/// in the format `scripts/peers.sh stop --dir` understands.
fn write_record(name: &str, pid: u32) -> Option<PathBuf> {
    let run_dir = std::env::var_os("XBRD_RUN_DIR").filter(|dir| !dir.is_empty())?;
    write_record_in(Path::new(&run_dir), name, pid)
}

fn write_record_in(run_dir: &Path, name: &str, pid: u32) -> Option<PathBuf> {
    let start_time = proc_start_time(pid)?;
    let path = run_dir.join(format!("testkit-{name}-{pid}.pid"));
    let written = fs::create_dir_all(run_dir)
        .and_then(|()| fs::write(&path, format!("{pid} {pid} {start_time}\n")));
    match written {
        Ok(()) => Some(path),
        Err(e) => {
            eprintln!(
                "xbrd-testkit: cannot record {name} (pid {pid}) in {}: {e}",
                run_dir.display()
            );
            None
        }
    }
}

/// Field 22 of `/proc/<pid>/stat`: the start time, which tells a reused PID from ours.
fn proc_start_time(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_ends_the_whole_process_group() {
        // A leader that starts a grandchild in the same group and ignores nothing special.
        let mut cmd = command("sh");
        cmd.args(["-c", "sleep 300 & echo $! ; wait"])
            .stdout(Stdio::piped())
            .stdin(Stdio::null());
        let mut process = ManagedProcess::spawn("group-test", cmd).unwrap();
        let mut line = String::new();
        let stdout = process.child.stdout.take().unwrap();
        io::BufRead::read_line(&mut io::BufReader::new(stdout), &mut line).unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        assert!(Path::new(&format!("/proc/{grandchild}")).exists());
        assert!(group_alive(process.pgid));

        process.stop();

        assert!(process.try_exit().is_some());
        assert!(!group_alive(process.pgid));
        assert!(!Path::new(&format!("/proc/{grandchild}")).exists());
    }

    #[test]
    fn record_names_pid_group_and_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let own = std::process::id();
        let path = write_record_in(&dir.path().join("run"), "probe", own).unwrap();
        assert_eq!(
            path,
            dir.path().join(format!("run/testkit-probe-{own}.pid"))
        );
        let fields: Vec<String> = fs::read_to_string(&path)
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            fields,
            [
                own.to_string(),
                own.to_string(),
                proc_start_time(own).unwrap()
            ]
        );
        // A process that does not exist is not recorded.
        assert!(write_record_in(dir.path(), "gone", u32::MAX).is_none());
    }

    #[test]
    fn start_time_is_read_for_a_live_process() {
        let own = std::process::id();
        let start = proc_start_time(own).unwrap();
        assert!(start.parse::<u64>().is_ok());
        assert_eq!(proc_start_time(own).unwrap(), start);
    }
}

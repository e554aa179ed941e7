//! Autobahn|Python scripts as test peers, driven by the lines they print.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::paths;
use crate::process::{self, ManagedProcess};

/// Lines of output kept for failure messages.
const KEPT_LINES: usize = 200;

type Transcript = Arc<Mutex<VecDeque<String>>>;

/// A Python script run with the peers' venv interpreter (Autobahn|Python importable), with
/// unbuffered output. Its stdout is read line by line; stdout and stderr are kept for failure
/// messages. Dropping it kills it (its whole process group).
pub struct PythonPeer {
    script: PathBuf,
    process: ManagedProcess,
    stdout: mpsc::Receiver<String>,
    stderr_reader: thread::JoinHandle<()>,
    stderr_closed: mpsc::Receiver<()>,
    transcript: Transcript,
}

impl PythonPeer {
    /// Runs `python script args…` with `env` added to the environment. A relative `script`
    /// is resolved against the repository root (e.g. `tests/peers/python/x.py`).
    ///
    /// # Panics
    /// If the script does not exist or Python cannot be started.
    pub fn spawn(script: &Path, args: &[&str], env: &[(&str, &str)]) -> PythonPeer {
        let script = if script.is_absolute() {
            script.to_path_buf()
        } else {
            paths::repo_root().join(script)
        };
        assert!(
            script.is_file(),
            "xbrd-testkit: Python peer script {} does not exist",
            script.display()
        );
        let mut cmd = process::command(paths::python());
        cmd.arg("-u")
            .arg(&script)
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let name = script
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_else(|| "python".into());
        let mut process = ManagedProcess::spawn(&format!("python-{name}"), cmd)
            .unwrap_or_else(|e| panic!("xbrd-testkit: cannot run {}: {e}", script.display()));

        let transcript = Transcript::default();
        let (lines, stdout) = mpsc::channel();
        let out = process.take_stdout().expect("stdout is piped");
        let err = process.take_stderr().expect("stderr is piped");
        let out_transcript = Arc::clone(&transcript);
        thread::spawn(move || {
            for line in read_lines(out) {
                keep(&out_transcript, format!("[stdout] {line}"));
                // The receiver may be gone (peer dropped); keep draining the pipe regardless.
                let _ = lines.send(line);
            }
        });
        let err_transcript = Arc::clone(&transcript);
        // Dropped by the reader at end of file: `stderr_closed` then stops waiting at once.
        let (stderr_open, stderr_closed) = mpsc::channel::<()>();
        let stderr_reader = thread::spawn(move || {
            let _open = stderr_open;
            for line in read_lines(err) {
                keep(&err_transcript, format!("[stderr] {line}"));
            }
        });
        PythonPeer {
            script,
            process,
            stdout,
            stderr_reader,
            stderr_closed,
            transcript,
        }
    }

    /// Reads stdout lines until one contains `needle` and returns it (lines before it are
    /// consumed).
    ///
    /// # Panics
    /// If the script exits first or `timeout` passes; the message carries its recent output.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}",
                        self.failure(&format!(
                            "printed no line containing {needle:?} within {timeout:?}"
                        ))
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.process.wait_exit(Duration::from_secs(5));
                    let status = status.map_or("still running".into(), |s| s.to_string());
                    panic!(
                        "{}",
                        self.failure(&format!(
                            "closed stdout ({status}) before printing a line containing {needle:?}"
                        ))
                    )
                }
            }
        }
    }

    /// Waits for the script to exit by itself and returns its status.
    ///
    /// # Panics
    /// If it is still running after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        match self.process.wait_exit(timeout) {
            Some(status) => {
                // Its last stderr lines may still be in the pipe: let the reader reach the end.
                self.wait_stderr_closed(Duration::from_secs(5));
                status
            }
            None => panic!(
                "{}",
                self.failure(&format!("did not exit within {timeout:?}"))
            ),
        }
    }

    /// The script's PID.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Its recent stdout and stderr lines, each prefixed with `[stdout]` or `[stderr]`.
    pub fn output(&self) -> String {
        let transcript = self.transcript.lock().unwrap_or_else(|e| e.into_inner());
        transcript.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Stops the script (SIGTERM to its process group, SIGKILL after a timeout). Idempotent.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Waits (at most `timeout`: a grandchild may hold the pipe open) until the stderr reader
    /// has read everything the script wrote.
    fn wait_stderr_closed(&self, timeout: Duration) {
        if !self.stderr_reader.is_finished() {
            let _ = self.stderr_closed.recv_timeout(timeout);
        }
    }

    fn failure(&self, what: &str) -> String {
        // If the script has exited, let its last stderr lines (often a traceback) arrive.
        self.wait_stderr_closed(Duration::from_secs(2));
        format!(
            "xbrd-testkit: Python peer {} {what}.\n--- its recent output ---\n{}",
            self.script.display(),
            self.output()
        )
    }
}

fn read_lines(pipe: impl Read) -> impl Iterator<Item = String> {
    BufReader::new(pipe)
        .split(b'\n')
        .map_while(Result::ok)
        .map(|line| {
            String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_owned()
        })
}

fn keep(transcript: &Transcript, line: String) {
    let mut transcript = transcript.lock().unwrap_or_else(|e| e.into_inner());
    if transcript.len() == KEPT_LINES {
        transcript.pop_front();
    }
    transcript.push_back(line);
}

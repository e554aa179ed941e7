//! The production router configuration started for real: Crossbar.io with a self-signed
//! certificate serves WAMP over TLS WebSocket (and nothing in plain text) on its public port, and
//! the maker's Unix socket accepts connections.

mod common;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, wait_for};

/// The router's process group, stopped on drop (SIGTERM, then SIGKILL).
struct Router(Child);

impl Drop for Router {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        for _ in 0..100 {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// A self-signed certificate for localhost as `tls/server.{key,crt}` (and the chain file).
fn self_signed(tls: &Path) {
    std::fs::create_dir_all(tls).unwrap();
    let o = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(tls.join("server.key"))
        .arg("-out")
        .arg(tls.join("server.crt"))
        .output()
        .expect("openssl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::copy(tls.join("server.crt"), tls.join("chain.crt")).unwrap();
}

/// The answer to a WAMP WebSocket upgrade of `/ws` over TLS (`openssl s_client`), with the
/// certificate's description.
fn tls_upgrade(port: u16) -> String {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_quiet",
            "-servername",
            "localhost",
        ])
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut answer = [0u8; 512];
    let n = stdout.read(&mut answer).unwrap_or(0);
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&answer[..n]),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn production_router_serves_wamp_over_tls_only() {
    let repo = xbrd_testkit::repo_root();
    let mut config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("deploy/crossbar/config.production.json")).unwrap(),
    )
    .unwrap();
    // On this machine: a free port on loopback instead of 0.0.0.0:443; everything else as shipped.
    let port = free_port();
    let web = config["workers"][0]["transports"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["type"] == "web")
        .unwrap();
    web["endpoint"]["port"] = port.into();
    web["endpoint"]["interface"] = "127.0.0.1".into();
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join(".crossbar");
    std::fs::create_dir_all(node.join("xbrmm")).unwrap();
    self_signed(&node.join("tls"));
    std::fs::write(node.join("config.json"), config.to_string()).unwrap();
    let log = std::fs::File::create(dir.path().join("crossbar.log")).unwrap();
    let router = Router(
        Command::new(xbrd_testkit::peers_dir().join("venv/bin/crossbar"))
            .args(["start", "--cbdir", node.to_str().unwrap()])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let socket = node.join("xbrmm/xbrmm.sock");
    wait_for("the router's listeners", Duration::from_secs(180), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    let answer = tls_upgrade(port);
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(answer.contains("wamp.2.json"), "{answer}");
    // Plain text on the same port is no WebSocket.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(
        !String::from_utf8_lossy(&buf[..n]).contains(" 101 "),
        "no plain-text WebSocket"
    );
    drop(router);
}

//! Small blocking network probes used for readiness checks and by tests of the harness itself.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is never one this process handed out before, which keeps two ports of the same
/// peer distinct. Another process may still grab it before it is bound; peers started by this
/// crate retry with fresh ports when that happens.
pub fn free_port() -> u16 {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(Default::default);
    for _ in 0..100 {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .unwrap_or_else(|e| panic!("xbrd-testkit: cannot bind a port on 127.0.0.1: {e}"))
            .port();
        let mut handed_out = handed_out.lock().unwrap_or_else(|e| e.into_inner());
        if handed_out.insert(port) {
            return port;
        }
    }
    panic!("xbrd-testkit: no fresh free port after 100 attempts")
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// True if something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_is_open(port: u16) -> bool {
    TcpStream::connect_timeout(&localhost(port), Duration::from_millis(500)).is_ok()
}

/// Reads an HTTP response head (up to the blank line) and returns its status code.
fn read_status(stream: &mut impl Read) -> io::Result<u16> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        head.push(byte[0]);
        if head.len() > 16 * 1024 {
            return Err(io::Error::other("HTTP response head larger than 16 KiB"));
        }
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other(format!("not an HTTP response: {status_line:?}")))
}

/// Sends a WebSocket upgrade request for `path` offering the WAMP `subprotocol` (e.g.
/// `wamp.2.json`) to 127.0.0.1:`port` and returns the HTTP status (101 = upgrade accepted).
pub fn websocket_upgrade_status(port: u16, path: &str, subprotocol: &str) -> io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&localhost(port), PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {subprotocol}\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    read_status(&mut stream)
}

/// The 4-byte WAMP RawSocket handshake offering serializer `serializer` (1 = JSON,
/// 2 = MsgPack, 3 = CBOR) with the largest message size; returns the router's 4-byte reply.
fn rawsocket_handshake(stream: &mut (impl Read + Write), serializer: u8) -> io::Result<[u8; 4]> {
    stream.write_all(&[0x7F, 0xF0 | (serializer & 0x0F), 0, 0])?;
    let mut reply = [0u8; 4];
    stream.read_exact(&mut reply)?;
    Ok(reply)
}

/// RawSocket handshake over TCP to 127.0.0.1:`port`; returns the router's 4-byte reply.
pub fn rawsocket_handshake_tcp(port: u16, serializer: u8) -> io::Result<[u8; 4]> {
    let mut stream = TcpStream::connect_timeout(&localhost(port), PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    rawsocket_handshake(&mut stream, serializer)
}

/// RawSocket handshake over the Unix socket at `path`; returns the router's 4-byte reply.
pub fn rawsocket_handshake_unix(path: &Path, serializer: u8) -> io::Result<[u8; 4]> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    rawsocket_handshake(&mut stream, serializer)
}

/// POSTs a JSON-RPC 2.0 request to `http://127.0.0.1:port/` and returns the parsed response body.
pub fn json_rpc(
    port: u16,
    method: &str,
    params: serde_json::Value,
) -> io::Result<serde_json::Value> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut stream = TcpStream::connect_timeout(&localhost(port), PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!(
        "POST / HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let status = read_status(&mut stream)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if status != 200 {
        return Err(io::Error::other(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&response)
        )));
    }
    serde_json::from_slice(&response).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        TcpListener::bind((Ipv4Addr::LOCALHOST, a)).unwrap();
        TcpListener::bind((Ipv4Addr::LOCALHOST, b)).unwrap();
    }

    #[test]
    fn port_is_open_tells_listening_from_closed() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(port_is_open(port));
        drop(listener);
        assert!(!port_is_open(port));
    }

    #[test]
    fn read_status_parses_the_status_line() {
        let mut response: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(read_status(&mut response).unwrap(), 101);
        let mut garbage: &[u8] = b"hello\r\n\r\n";
        assert!(read_status(&mut garbage).is_err());
    }
}

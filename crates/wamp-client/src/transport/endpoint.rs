//! Parsing of transport URLs into the endpoint to connect to.
//!
//! Accepted forms:
//!
//! | URL                          | transport                                   |
//! |------------------------------|---------------------------------------------|
//! | `ws://host:port/path`        | WebSocket over TCP                          |
//! | `wss://host:port/path`       | WebSocket over TLS                          |
//! | `rs://host:port`             | RawSocket over TCP (`tcp://` is an alias)   |
//! | `rss://host:port`            | RawSocket over TLS (`tls://` is an alias)   |
//! | `rs+unix:///abs/path/socket` | RawSocket over a Unix domain socket (`unix://` is an alias) |

use std::path::PathBuf;

use url::Url;

use crate::error::TransportError;

/// Where and how to connect: the parsed form of a transport URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// WebSocket (`ws://`, or `wss://` when `tls` is set). `url` is the full URL for the HTTP upgrade.
    WebSocket {
        /// The URL sent in the upgrade request.
        url: Url,
        /// Host to connect to (also the TLS server name).
        host: String,
        /// TCP port.
        port: u16,
        /// Whether to run TLS under the WebSocket.
        tls: bool,
    },
    /// RawSocket over TCP (`rs://`, or `rss://` when `tls` is set).
    RawSocketTcp {
        /// Host to connect to (also the TLS server name).
        host: String,
        /// TCP port.
        port: u16,
        /// Whether to run TLS under the RawSocket.
        tls: bool,
    },
    /// RawSocket over a Unix domain socket.
    RawSocketUnix {
        /// Filesystem path of the socket.
        path: PathBuf,
    },
}

impl Endpoint {
    /// Parses a transport URL (see the module docs for the accepted forms).
    pub fn parse(url: &str) -> Result<Self, TransportError> {
        let invalid = |reason: &str| TransportError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        let host_port = |default_port: Option<u16>| -> Result<(String, u16), TransportError> {
            let host = parsed
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| invalid("missing host"))?;
            // IPv6 literals come back bracketed; the socket layer wants them bare.
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = parsed
                .port()
                .or(default_port)
                .ok_or_else(|| invalid("missing port"))?;
            Ok((host, port))
        };
        match scheme.as_str() {
            "ws" | "wss" => {
                let tls = scheme == "wss";
                let (host, port) = host_port(Some(if tls { 443 } else { 80 }))?;
                Ok(Endpoint::WebSocket {
                    url: parsed.clone(),
                    host,
                    port,
                    tls,
                })
            }
            "rs" | "tcp" | "rss" | "tls" => {
                let tls = scheme == "rss" || scheme == "tls";
                let (host, port) = host_port(None)?;
                Ok(Endpoint::RawSocketTcp { host, port, tls })
            }
            "rs+unix" | "unix" => {
                if parsed.host_str().is_some_and(|h| !h.is_empty()) {
                    return Err(invalid(
                        "a unix socket URL has no host: use rs+unix:///absolute/path",
                    ));
                }
                let path = parsed.path();
                if path.is_empty() || path == "/" {
                    return Err(invalid("missing socket path"));
                }
                Ok(Endpoint::RawSocketUnix {
                    path: PathBuf::from(path),
                })
            }
            other => Err(invalid(&format!(
                "unsupported scheme {other:?} (expected ws, wss, rs, rss or rs+unix)"
            ))),
        }
    }

    /// Whether this endpoint speaks WebSocket (as opposed to RawSocket).
    pub fn is_websocket(&self) -> bool {
        matches!(self, Endpoint::WebSocket { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_websocket_urls() {
        let ep = Endpoint::parse("ws://127.0.0.1:8080/ws").unwrap();
        match ep {
            Endpoint::WebSocket {
                host,
                port,
                tls,
                url,
            } => {
                assert_eq!(host, "127.0.0.1");
                assert_eq!(port, 8080);
                assert!(!tls);
                assert_eq!(url.path(), "/ws");
            }
            other => panic!("unexpected {other:?}"),
        }
        let ep = Endpoint::parse("wss://example.com/ws").unwrap();
        assert!(matches!(
            ep,
            Endpoint::WebSocket {
                port: 443,
                tls: true,
                ..
            }
        ));
    }

    #[test]
    fn parses_rawsocket_urls() {
        assert_eq!(
            Endpoint::parse("rs://localhost:8081").unwrap(),
            Endpoint::RawSocketTcp {
                host: "localhost".into(),
                port: 8081,
                tls: false
            }
        );
        assert_eq!(
            Endpoint::parse("rss://[::1]:9000").unwrap(),
            Endpoint::RawSocketTcp {
                host: "::1".into(),
                port: 9000,
                tls: true
            }
        );
        assert_eq!(
            Endpoint::parse("rs+unix:///tmp/router.sock").unwrap(),
            Endpoint::RawSocketUnix {
                path: PathBuf::from("/tmp/router.sock")
            }
        );
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "http://x:1",
            "rs://host-without-port",
            "rs+unix://",
            "rs+unix://host/path",
            "not a url",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(
                matches!(err, TransportError::InvalidUrl { .. }),
                "{url}: {err}"
            );
        }
    }
}

//! `rss://` (RawSocket over TLS) against the in-process fake router behind a rustls server with
//! a freshly generated certificate: trusted through a CA file it works; a wrong server name or
//! an untrusted certificate is a clear TLS error.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::fake_router::{Behavior, serve_connection};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_rustls::TlsAcceptor;
use wamp_client::{CallOptions, Error, Session, TlsOptions, TransportConfig, TransportError};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};

struct TlsRouter {
    port: u16,
    ca_pem: String,
    _task: tokio::task::JoinHandle<()>,
    _kick: broadcast::Sender<()>,
}

async fn tls_router() -> TlsRouter {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let ca_pem = cert.cert.pem();
    let chain = vec![CertificateDer::from(cert.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let (kick, _) = broadcast::channel(1);
    let k = kick.clone();
    let task = tokio::spawn(async move {
        let mut index = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let kick = k.subscribe();
            let (seen, _) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                // Failed handshakes (the negative tests) just end the connection.
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_connection(index, tls, Behavior::default(), seen, kick).await;
                }
            });
            index += 1;
        }
    });
    TlsRouter {
        port,
        ca_pem,
        _task: task,
        _kick: kick,
    }
}

fn transport(url: &str, tls: TlsOptions) -> TransportConfig {
    TransportConfig::new(url)
        .with_serializer(Serializer::Json)
        .with_connect_timeout(Duration::from_secs(20))
        .with_tls(tls)
}

fn config() -> SessionConfig {
    SessionConfig::new("realm1", ClientAuth::anonymous())
}

#[tokio::test]
async fn rawsocket_over_tls_with_a_ca_file() {
    let router = tls_router().await;
    let dir = tempfile_dir();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &router.ca_pem).unwrap();

    // Trusted CA, matching name: joins and calls.
    let tls = TlsOptions {
        ca_file: Some(ca_file.clone()),
        server_name: None,
    };
    let url = format!("rss://localhost:{}", router.port);
    let session = Session::connect(&transport(&url, tls), config())
        .await
        .expect("TLS join");
    let out = session
        .call(
            "test.echo",
            vec![Value::bytes(vec![1u8, 2])],
            Dict::new(),
            CallOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(out.args, vec![Value::bytes(vec![1u8, 2])]);
    session.leave().await.unwrap();

    // Connecting by IP with an explicit server name works too.
    let tls = TlsOptions {
        ca_file: Some(ca_file.clone()),
        server_name: Some("localhost".into()),
    };
    let url = format!("rss://127.0.0.1:{}", router.port);
    let session = Session::connect(&transport(&url, tls), config())
        .await
        .expect("TLS join by IP");
    session.leave().await.unwrap();

    // Wrong server name: refused by certificate verification.
    let tls = TlsOptions {
        ca_file: Some(ca_file),
        server_name: Some("not-the-router.example".into()),
    };
    let err = Session::connect(&transport(&url, tls), config())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(TransportError::Tls(m)) if m.contains("handshake")),
        "{err}"
    );

    // System roots do not trust a self-signed certificate.
    let err = Session::connect(
        &transport(
            &format!("rss://localhost:{}", router.port),
            TlsOptions::default(),
        ),
        config(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Tls(_))),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wamp-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

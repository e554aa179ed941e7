//! TLS client configuration (rustls): system root certificates or a given CA file.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::TransportError;
use crate::transport::stream::Stream;

/// Which certificates a TLS connection trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) to trust instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Server name to verify instead of the URL's host.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// Builds the rustls client configuration.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TransportError> {
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| {
                        TransportError::Tls(format!("cannot read CA file {}: {e}", path.display()))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        TransportError::Tls(format!("bad PEM in CA file {}: {e}", path.display()))
                    })?;
                if certs.is_empty() {
                    return Err(TransportError::Tls(format!(
                        "CA file {} holds no certificate",
                        path.display()
                    )));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| TransportError::Tls(format!("bad CA certificate: {e}")))?;
                }
            }
            None => {
                let loaded = rustls_native_certs::load_native_certs();
                let (added, _ignored) = roots.add_parsable_certificates(loaded.certs);
                if added == 0 {
                    return Err(TransportError::Tls(
                        "no usable system root certificates found (give a CA file)".into(),
                    ));
                }
            }
        }
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| TransportError::Tls(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// Runs the TLS handshake over a connected TCP stream.
    pub async fn connect(&self, host: &str, tcp: TcpStream) -> Result<Stream, TransportError> {
        let config = self.client_config()?;
        let name = self.server_name.as_deref().unwrap_or(host).to_string();
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| TransportError::Tls(format!("invalid server name {name:?}: {e}")))?;
        let tls = TlsConnector::from(config)
            .connect(server_name, tcp)
            .await
            .map_err(|e| TransportError::Tls(format!("handshake with {name} failed: {e}")))?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_is_a_clear_error() {
        let opts = TlsOptions {
            ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
            server_name: None,
        };
        let err = opts.client_config().unwrap_err();
        assert!(err.to_string().contains("cannot read CA file"), "{err}");
    }
}

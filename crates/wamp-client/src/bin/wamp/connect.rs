//! From connection options to a joined session.

use std::time::Duration;

use wamp_client::transport::{Endpoint, TlsOptions};
use wamp_client::{Session, TransportConfig};
use wamp_proto::Serializer;
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::session::SessionConfig;

use crate::cli::{AuthMethodArg, ConnectionArgs, SerializerArg};
use crate::failure::Failure;

/// The transport configuration the options describe.
pub fn transport(conn: &ConnectionArgs) -> Result<TransportConfig, Failure> {
    Endpoint::parse(&conn.url).map_err(|e| Failure::Usage(e.to_string()))?;
    let timeout = seconds("--connect-timeout", conn.connect_timeout)?;
    let mut transport = TransportConfig::new(conn.url.clone()).with_connect_timeout(timeout);
    if let Some(serializer) = conn.serializer {
        transport = transport.with_serializer(serializer.into());
    }
    if let Some(ca_file) = &conn.ca_file {
        transport = transport.with_tls(TlsOptions {
            ca_file: Some(ca_file.clone()),
            ..TlsOptions::default()
        });
    }
    Ok(transport)
}

impl From<SerializerArg> for Serializer {
    fn from(s: SerializerArg) -> Self {
        match s {
            SerializerArg::Json => Serializer::Json,
            SerializerArg::Msgpack => Serializer::MsgPack,
            SerializerArg::Cbor => Serializer::Cbor,
        }
    }
}

/// The authentication the options describe. Without `--authmethod` the method follows from the
/// one secret given (ticket, secret → wampcra, private key → cryptosign), else anonymous.
pub fn auth(conn: &ConnectionArgs) -> Result<ClientAuth, Failure> {
    let method = match conn.authmethod {
        Some(m) => m,
        None => match (&conn.ticket, &conn.secret, &conn.private_key) {
            (None, None, None) => AuthMethodArg::Anonymous,
            (Some(_), None, None) => AuthMethodArg::Ticket,
            (None, Some(_), None) => AuthMethodArg::Wampcra,
            (None, None, Some(_)) => AuthMethodArg::Cryptosign,
            _ => {
                return Err(Failure::Usage(
                    "several of --ticket, --secret, --private-key given: choose one with --authmethod".into(),
                ));
            }
        },
    };
    let authid = || {
        conn.authid.clone().ok_or_else(|| {
            Failure::Usage(format!(
                "--authmethod {} needs --authid",
                method_name(method)
            ))
        })
    };
    let missing =
        |what: &str| Failure::Usage(format!("--authmethod {} needs {what}", method_name(method)));
    let auth = match method {
        AuthMethodArg::Anonymous => {
            let auth = ClientAuth::anonymous();
            match &conn.authid {
                // An anonymous session may still announce who it is.
                Some(id) => ClientAuth {
                    authid: Some(id.clone()),
                    ..auth
                },
                None => auth,
            }
        }
        AuthMethodArg::Ticket => {
            let ticket = conn
                .ticket
                .clone()
                .ok_or_else(|| missing("--ticket (or WAMP_TICKET)"))?;
            ClientAuth::ticket(authid()?, ticket)
        }
        AuthMethodArg::Wampcra => {
            let secret = conn
                .secret
                .clone()
                .ok_or_else(|| missing("--secret (or WAMP_SECRET)"))?;
            ClientAuth::wampcra(authid()?, secret)
        }
        AuthMethodArg::Scram => {
            let password = conn
                .secret
                .clone()
                .ok_or_else(|| missing("--secret (or WAMP_SECRET)"))?;
            ClientAuth::scram(authid()?, password)
        }
        AuthMethodArg::Cryptosign => {
            let hex = conn
                .private_key
                .as_deref()
                .ok_or_else(|| missing("--private-key (or WAMP_PRIVATE_KEY)"))?;
            let key = CryptosignKey::from_hex(hex.trim())
                .map_err(|e| Failure::Usage(format!("--private-key: {e}")))?;
            ClientAuth::cryptosign(authid()?, key)
        }
    };
    Ok(match &conn.authrole {
        Some(role) => auth.with_authrole(role.clone()),
        None => auth,
    })
}

fn method_name(method: AuthMethodArg) -> &'static str {
    match method {
        AuthMethodArg::Anonymous => "anonymous",
        AuthMethodArg::Ticket => "ticket",
        AuthMethodArg::Wampcra => "wampcra",
        AuthMethodArg::Cryptosign => "cryptosign",
        AuthMethodArg::Scram => "scram",
    }
}

/// A positive, finite number of seconds.
pub fn seconds(option: &str, value: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Failure::Usage(format!(
                "{option} must be a positive number of seconds, not {value}"
            ))
        })
}

/// Connects and joins the realm.
pub async fn session(conn: &ConnectionArgs) -> Result<Session, Failure> {
    let transport = transport(conn)?;
    let config = SessionConfig::new(conn.realm.clone(), auth(conn)?);
    Session::connect(&transport, config).await.map_err(|e| {
        Failure::Local(format!(
            "cannot join realm {:?} at {}: {e}",
            conn.realm, conn.url
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::cli::Cli;

    fn connection(args: &[&str]) -> ConnectionArgs {
        let mut argv = vec!["wamp"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["call", "com.example.x"]);
        Cli::try_parse_from(argv).unwrap().connection
    }

    #[test]
    fn authmethod_follows_from_the_secret_given() {
        assert_eq!(auth(&connection(&[])).unwrap().authmethods(), ["anonymous"]);
        let ticket = auth(&connection(&["--authid", "alice", "--ticket", "t"])).unwrap();
        assert_eq!(ticket.authmethods(), ["ticket"]);
        let cra = auth(&connection(&["--authid", "bob", "--secret", "s"])).unwrap();
        assert_eq!(cra.authmethods(), ["wampcra"]);
        let seed = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
        let sign = auth(&connection(&["--authid", "carol", "--private-key", seed])).unwrap();
        assert_eq!(sign.authmethods(), ["cryptosign"]);
        let scram = auth(&connection(&[
            "--authmethod",
            "scram",
            "--authid",
            "d",
            "--secret",
            "p",
        ]))
        .unwrap();
        assert_eq!(scram.authmethods(), ["scram"]);
    }

    #[test]
    fn missing_or_conflicting_credentials_are_usage_errors() {
        let no_id = auth(&connection(&["--ticket", "t"])).unwrap_err();
        assert!(matches!(&no_id, Failure::Usage(m) if m.contains("--authid")));
        let no_secret =
            auth(&connection(&["--authmethod", "wampcra", "--authid", "bob"])).unwrap_err();
        assert!(matches!(&no_secret, Failure::Usage(m) if m.contains("--secret")));
        let both = auth(&connection(&[
            "--authid", "x", "--ticket", "t", "--secret", "s",
        ]))
        .unwrap_err();
        assert!(matches!(both, Failure::Usage(_)));
        let bad_key = auth(&connection(&["--authid", "carol", "--private-key", "zz"])).unwrap_err();
        assert!(matches!(&bad_key, Failure::Usage(m) if m.contains("--private-key")));
    }

    #[test]
    fn bad_urls_and_timeouts_are_usage_errors() {
        assert!(matches!(
            transport(&connection(&["--url", "http://x"])),
            Err(Failure::Usage(_))
        ));
        for bad in [
            "--connect-timeout=0",
            "--connect-timeout=-1",
            "--connect-timeout=inf",
        ] {
            assert!(
                matches!(transport(&connection(&[bad])), Err(Failure::Usage(_))),
                "{bad}"
            );
        }
        let t = transport(&connection(&[
            "--url",
            "rs://127.0.0.1:1",
            "--serializer",
            "msgpack",
        ]))
        .unwrap();
        assert_eq!(t.serializers, vec![Serializer::MsgPack]);
    }
}

//! `xbrd market register-key`: registers a delegate's WAMP-cryptosign key with the market maker
//! on behalf of its member, once (spec §8.5). It joins the configuration's realm over its first
//! transport with cryptosign under the delegate's key (`[authentication] private_key_file`) and
//! the first-login `authextra`: the member's address and its EIP-712 MarketMemberLogin signature
//! over (member, delegate public key), made with the member's key from `--member-key-file`. The
//! session must come back with role `user`; the maker's authenticator stores the key once that
//! session joined (it proved it holds the key), so the command then joins with the key alone
//! until it is admitted as `user` (the key registered) before it reports success. The member's
//! key is only read to sign, never stored. Afterwards the delegate joins with its key alone
//! (`xbrd run`).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use wamp_client::Session;
use wamp_proto::Dict;
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::session::SessionConfig;
use xbr_core::eth::EthPrivateKey;
use xbr_market::maker::authenticator::{ROLE_USER, member_login_authextra};

use crate::cli::RegisterKeyArgs;
use crate::component::transport;
use crate::config::secret::{KeyKind, read_key_file};
use crate::config::{self, AuthMethod, Config, ConfigError, Transport};

/// What `register-key` prints.
#[derive(Debug, Serialize)]
pub struct Registered {
    /// The authid the market gave the delegate (`member-<hex>`).
    pub authid: String,
    /// The role (`user`).
    pub authrole: String,
    /// The delegate's cryptosign public key (hex).
    pub pubkey: String,
    /// The member's address.
    pub member: String,
    /// The realm.
    pub realm: String,
}

/// Registers the key of the configuration's delegate for the member whose key is in
/// `--member-key-file`. Configuration and key-file problems are [`ConfigError`]s.
pub async fn register_key(args: &RegisterKeyArgs) -> anyhow::Result<Registered> {
    let cfg = config::load(&args.config)?;
    let key = delegate_key(&cfg, "register-key registers the delegate's cryptosign key")?;
    let member_key = read_key_file(&args.member_key_file, KeyKind::Ethereum).map_err(|source| {
        ConfigError::KeyFile {
            field: "--member-key-file".into(),
            source,
        }
    })?;
    let member = EthPrivateKey::from_bytes(member_key.expose())
        .context("--member-key-file does not hold a valid secp256k1 key")?;
    let t = first_transport(&cfg)?;
    let login = member_login_authextra(&member, key.public_key());
    let (authid, authrole) = join_once(t, &cfg.realm, &key, login)
        .await
        .with_context(|| {
            format!(
                "joining realm {:?} at {} with the first login",
                cfg.realm, t.url
            )
        })?;
    if authrole != ROLE_USER {
        bail!(
            "the market admitted the key as {authrole:?} ({authid}), not as a member's \"user\": is {} an actor of the market?",
            member.address()
        );
    }
    wait_registered(t, &cfg.realm, &key).await?;
    Ok(Registered {
        authid,
        authrole,
        pubkey: key.public_key_hex(),
        member: member.address().to_string(),
        realm: cfg.realm,
    })
}

/// The delegate's WAMP-cryptosign key (`[authentication]` must be cryptosign; `why` says what
/// needs it).
pub(crate) fn delegate_key(cfg: &Config, why: &str) -> Result<CryptosignKey, ConfigError> {
    match &cfg.authentication.method {
        AuthMethod::Cryptosign(seed) => Ok(CryptosignKey::from_seed(*seed.expose())),
        other => Err(ConfigError::Invalid {
            field: "authentication.method".into(),
            expected: format!("\"cryptosign\" ({why})"),
            got: format!("{:?}", other.name()),
        }),
    }
}

/// The configuration's first transport.
pub(crate) fn first_transport(cfg: &Config) -> anyhow::Result<&Transport> {
    cfg.transports
        .first()
        .context("the configuration has no transport")
}

/// Joins `realm` with `key` and `authextra`: the session, its authid and its role.
pub(crate) async fn join(
    t: &Transport,
    realm: &str,
    key: &CryptosignKey,
    authextra: Dict,
) -> anyhow::Result<(Session, String, String)> {
    let mut auth = ClientAuth::cryptosign("", key.clone()).with_authextra(authextra);
    auth.authid = None;
    let session =
        Session::connect(&transport(t), SessionConfig::new(realm.to_owned(), auth)).await?;
    let info = session
        .info()
        .context("the session has no WELCOME details")?;
    let authid = info.authid().unwrap_or_default().to_owned();
    let authrole = info.authrole().unwrap_or_default().to_owned();
    Ok((session, authid, authrole))
}

/// Joins `realm` once with `key` and `authextra`, leaves; the authid and role it was given.
async fn join_once(
    t: &Transport,
    realm: &str,
    key: &CryptosignKey,
    authextra: Dict,
) -> anyhow::Result<(String, String)> {
    let (session, authid, authrole) = join(t, realm, key, authextra).await?;
    let _ = session.leave().await;
    Ok((authid, authrole))
}

/// How long the maker gets to register the key after the first login joined.
const REGISTRATION_WAIT: Duration = Duration::from_secs(30);

/// Waits until the key alone is admitted as `user`: the maker registered it when it learnt
/// that the first login's session joined. Retried with a growing pause, at most
/// [`REGISTRATION_WAIT`].
async fn wait_registered(t: &Transport, realm: &str, key: &CryptosignKey) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + REGISTRATION_WAIT;
    let mut pause = Duration::from_millis(20);
    loop {
        let (authid, authrole) = join_once(t, realm, key, Dict::new())
            .await
            .context("joining with the key alone after the first login")?;
        if authrole == ROLE_USER {
            return Ok(());
        }
        if tokio::time::Instant::now() + pause > deadline {
            bail!(
                "the first login joined, but the market still admits the key alone as {authrole:?} ({authid}) after {REGISTRATION_WAIT:?}: the maker did not register it"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

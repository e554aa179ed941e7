//! `xbrd market register-key`: registers a delegate's WAMP-cryptosign key with the market maker
//! on behalf of its member, once (spec §8.5). It joins the configuration's realm over its first
//! transport with cryptosign under the delegate's key (`[authentication] private_key_file`) and
//! the first-login `authextra`: the member's address and its EIP-712 MarketMemberLogin signature
//! over (member, delegate public key), made with the member's key from `--member-key-file`. The
//! maker's authenticator stores the key; the session must come back with role `user`. The
//! member's key is only read to sign, never stored. Afterwards the delegate joins with its key
//! alone (`xbrd run`).

use anyhow::{Context, bail};
use serde::Serialize;
use wamp_client::Session;
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::session::SessionConfig;
use xbr_core::eth::EthPrivateKey;
use xbr_market::maker::authenticator::{ROLE_USER, member_login_authextra};

use crate::cli::RegisterKeyArgs;
use crate::component::transport;
use crate::config::secret::{KeyKind, read_key_file};
use crate::config::{self, AuthMethod, ConfigError};

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
    let AuthMethod::Cryptosign(seed) = &cfg.authentication.method else {
        return Err(ConfigError::Invalid {
            field: "authentication.method".into(),
            expected: "\"cryptosign\" (register-key registers the delegate's cryptosign key)"
                .into(),
            got: format!("{:?}", cfg.authentication.method.name()),
        }
        .into());
    };
    let member_key = read_key_file(&args.member_key_file, KeyKind::Ethereum).map_err(|source| {
        ConfigError::KeyFile {
            field: "--member-key-file".into(),
            source,
        }
    })?;
    let member = EthPrivateKey::from_bytes(member_key.expose())
        .context("--member-key-file does not hold a valid secp256k1 key")?;
    let key = CryptosignKey::from_seed(*seed.expose());
    let mut auth = ClientAuth::cryptosign("", key.clone())
        .with_authextra(member_login_authextra(&member, key.public_key()));
    auth.authid = None;
    let t = cfg
        .transports
        .first()
        .context("the configuration has no transport")?;
    let session = Session::connect(&transport(t), SessionConfig::new(cfg.realm.clone(), auth))
        .await
        .with_context(|| {
            format!(
                "joining realm {:?} at {} with the first login",
                cfg.realm, t.url
            )
        })?;
    let info = session
        .info()
        .context("the session has no WELCOME details")?;
    let authid = info.authid().unwrap_or_default().to_owned();
    let authrole = info.authrole().unwrap_or_default().to_owned();
    let _ = session.leave().await;
    if authrole != ROLE_USER {
        bail!(
            "the market admitted the key as {authrole:?} ({authid}), not as a member's \"user\": is {} an actor of the market?",
            member.address()
        );
    }
    Ok(Registered {
        authid,
        authrole,
        pubkey: key.public_key_hex(),
        member: member.address().to_string(),
        realm: cfg.realm,
    })
}

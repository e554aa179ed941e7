//! The market realm's dynamic authenticator (spec §8.5):
//! `xbr.marketmaker.authenticator.authenticate(realm, authid, details)`, called by the router
//! (Crossbar's dynamic WAMP-cryptosign authentication) for each session joining with cryptosign.
//! The router then challenges the session with the public key this answer carries, so a session
//! is admitted only if it also holds the key's private half.
//!
//! - A key registered in the maker's store whose member is an actor of the market: role `user`,
//!   authid `member-<40 lowercase hex>` of the member (wallet) address.
//! - First login: `authextra` carries `wallet_address` and `signature`, an EIP-712
//!   `EIP712MarketMemberLogin(member, client_pubkey)` signed by the wallet key (else
//!   `xbr.error.invalid_signature`). A wallet that is an actor gets role `user`, and its key is
//!   registered (at most [`MAX_KEYS_PER_MEMBER`] per member; a key stays with the member whose
//!   session joined with it first) once the session proved it holds the key: the router calls
//!   the authenticator before its challenge, so the login waits in
//!   [`pending_logins`](super::pending_logins) until the router announces that this session
//!   joined (`wamp.session.on_join`, [`MarketMaker::session_joined`]). A pending key is no
//!   known key.
//! - Anything else (unknown key, wallet or member not an actor): role `anonymous`.
//! - A request that is not a cryptosign one with a 32-byte `pubkey`, a first login without the
//!   joining session's id, or a realm other than the maker's
//!   ([`MakerConfig::realm`](super::MakerConfig::realm)): [`uri::INVALID_AUTH_REQUEST`].
//!
//! `xbr.marketmaker.authenticator.logout()` (called by a member session; the router must disclose
//! the caller) forgets the key the session logged in with and ends the session
//! (`wamp.session.kill`).
//!
//! [`member_login_authextra`] builds the first-login `authextra` on the client side.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::hex;
use tracing::{info, warn};
use wamp_proto::{Dict, Value};
use xbr_core::eip712::{EIP712MarketMemberLogin, recover_typed, sign_typed};
use xbr_core::eth::EthPrivateKey;

use super::MarketMaker;
use super::pending_logins::PendingLogin;
use crate::error::{self, MarketError, MarketResult};
use crate::peer::now_ns;
use crate::types::{ActorType, Address, KeyRegistration, Signature, UserKey};

/// How many delegate keys one member may register; a further first login is refused with
/// [`uri::TOO_MANY_KEYS`].
pub const MAX_KEYS_PER_MEMBER: usize = 16;

/// The authenticator's own error URIs.
pub mod uri {
    /// The request is not a cryptosign request the authenticator can read (the reference's URI).
    pub const INVALID_AUTH_REQUEST: &str = "xbr.marketmaker.error.invalid-auth-request";
    /// The member has [`super::MAX_KEYS_PER_MEMBER`] keys registered already.
    pub const TOO_MANY_KEYS: &str = "xbr.marketmaker.error.too-many-keys";
    /// The key is registered for another member.
    pub const KEY_IN_USE: &str = "xbr.marketmaker.error.key-in-use";
}

/// The role of an authenticated market session.
pub const ROLE_USER: &str = "user";
/// The role of a session that is no known member's.
pub const ROLE_ANONYMOUS: &str = "anonymous";

/// The authid of a member's sessions: `member-<40 lowercase hex, no 0x>`.
pub fn member_authid(member: &Address) -> String {
    format!("member-{}", hex::encode(member))
}

/// The serial of the next `anonymous-<n>` authid.
static ANONYMOUS_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A first login's proof: the member's wallet and its signature over the login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberLogin {
    /// The member (wallet) address.
    pub wallet: Address,
    /// `EIP712MarketMemberLogin(wallet, pubkey)` signed by the wallet key.
    pub signature: Signature,
}

/// An `authenticate` call, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// The realm the session joins.
    pub realm: String,
    /// The session's cryptosign public key.
    pub pubkey: [u8; 32],
    /// The first login's proof, if given.
    pub login: Option<MemberLogin>,
    /// The joining session's id (`details.session`), if given.
    pub session: Option<u64>,
}

/// The authenticator's answer (the principal the router assigns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthAnswer {
    /// The key the router challenges the session with.
    pub pubkey: [u8; 32],
    /// The realm.
    pub realm: String,
    /// `member-<hex>` or `anonymous-<n>`.
    pub authid: String,
    /// [`ROLE_USER`] or [`ROLE_ANONYMOUS`].
    pub role: &'static str,
    /// The member's actor type (`None` for anonymous).
    pub actor_type: Option<ActorType>,
}

impl AuthAnswer {
    /// The dict the router reads: `pubkey` (hex), `realm`, `authid`, `role`, `cache`, and
    /// `extra.actor_type` (0 for anonymous), sent to the client in WELCOME's `authextra`.
    pub fn to_value(&self) -> Value {
        let actor_type = self.actor_type.map_or(0, ActorType::as_u8);
        let extra: Dict = [("actor_type".to_owned(), Value::from(u64::from(actor_type)))].into();
        let d: Dict = [
            ("pubkey", Value::Str(hex::encode(self.pubkey))),
            ("realm", Value::Str(self.realm.clone())),
            ("authid", Value::Str(self.authid.clone())),
            ("role", Value::Str(self.role.to_owned())),
            ("cache", Value::Bool(true)),
            ("extra", Value::Dict(extra)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Value::Dict(d)
    }

    fn anonymous(req: &AuthRequest) -> Self {
        let n = ANONYMOUS_SERIAL.fetch_add(1, Ordering::Relaxed);
        Self {
            pubkey: req.pubkey,
            realm: req.realm.clone(),
            authid: format!("anonymous-{n}"),
            role: ROLE_ANONYMOUS,
            actor_type: None,
        }
    }

    fn member(req: &AuthRequest, member: &Address, actor_type: ActorType) -> Self {
        Self {
            pubkey: req.pubkey,
            realm: req.realm.clone(),
            authid: member_authid(member),
            role: ROLE_USER,
            actor_type: Some(actor_type),
        }
    }
}

fn invalid(msg: impl std::fmt::Display) -> MarketError {
    MarketError::new(
        uri::INVALID_AUTH_REQUEST,
        format!("invalid parameter(s) in authentication request: {msg}"),
    )
}

/// `N` bytes given raw or as hex (with or without `0x`).
fn bytes_or_hex<const N: usize>(v: &Value, name: &str) -> MarketResult<[u8; N]> {
    let raw = match v {
        Value::Bytes(b) => Some(b.clone()),
        Value::Str(s) => hex::decode(s.strip_prefix("0x").unwrap_or(s)).ok(),
        _ => None,
    };
    raw.and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| invalid(format!("{name} must be {N} bytes (raw or hex)")))
}

/// A present, non-empty authextra entry (the reference treats falsy values as absent).
fn given<'a>(extra: &'a Dict, key: &str) -> Option<&'a Value> {
    extra.get(key).filter(|v| match v {
        Value::Null | Value::Bool(false) => false,
        Value::Str(s) => !s.is_empty(),
        Value::Bytes(b) => !b.is_empty(),
        _ => true,
    })
}

impl AuthRequest {
    /// Reads `(realm, authid, details)` as the router sends them; the authid the client asked
    /// for is ignored (the answer assigns one).
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let [realm, _authid, details] = args else {
            return Err(invalid("expected (realm, authid, details)"));
        };
        let realm = realm
            .as_str()
            .ok_or_else(|| invalid("realm must be a string"))?;
        let details = details
            .as_dict()
            .ok_or_else(|| invalid("details must be a dict"))?;
        match details.get("authmethod").and_then(Value::as_str) {
            Some("cryptosign") => {}
            Some(other) => return Err(invalid(format!("authmethod \"{other}\" not permissible"))),
            None => return Err(invalid("missing \"authmethod\" in authentication details")),
        }
        let extra = details
            .get("authextra")
            .and_then(Value::as_dict)
            .ok_or_else(|| invalid("must provide authextra for authmethod cryptosign"))?;
        let pubkey = extra
            .get("pubkey")
            .ok_or_else(|| invalid("missing public key in authextra for authmethod cryptosign"))?;
        let pubkey = bytes_or_hex::<32>(pubkey, "pubkey")?;
        let login = match (given(extra, "wallet_address"), given(extra, "signature")) {
            (None, None) => None,
            (Some(wallet), Some(signature)) => Some(MemberLogin {
                wallet: Address::from(bytes_or_hex::<20>(wallet, "wallet_address")?),
                signature: Signature(bytes_or_hex::<65>(signature, "signature")?),
            }),
            _ => {
                return Err(invalid(
                    "a first login gives pubkey, wallet_address and signature; a known key only pubkey",
                ));
            }
        };
        Ok(Self {
            realm: realm.to_owned(),
            pubkey,
            login,
            session: details.get("session").and_then(Value::as_u64),
        })
    }
}

/// The first-login `authextra` for a delegate's cryptosign key `pubkey`, signed by the member's
/// wallet key: `pubkey` (hex), `wallet_address` (b20), `signature` (b65).
pub fn member_login_authextra(member: &EthPrivateKey, pubkey: [u8; 32]) -> Dict {
    let signature = sign_typed(
        member,
        &EIP712MarketMemberLogin::new(member.address(), pubkey),
    );
    [
        ("pubkey", Value::Str(hex::encode(pubkey))),
        ("wallet_address", Value::bytes(member.address().as_slice())),
        ("signature", Value::bytes(signature.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Checks that the login's signature is the wallet's over `(wallet, pubkey)`.
fn verify_login(login: &MemberLogin, pubkey: [u8; 32]) -> MarketResult<()> {
    let msg = EIP712MarketMemberLogin::new(login.wallet, pubkey);
    let signer = recover_typed(&msg, &login.signature.0).map_err(|e| {
        MarketError::new(
            error::uri::INVALID_SIGNATURE,
            format!("EIP712 signature recovery failed ({e})"),
        )
    })?;
    if signer != login.wallet {
        return Err(MarketError::new(
            error::uri::INVALID_SIGNATURE,
            "EIP712 signature invalid",
        ));
    }
    Ok(())
}

/// A key registration of `member`, made now.
fn user_key(pubkey: [u8; 32], member: Address) -> UserKey {
    UserKey {
        pubkey,
        member,
        created: now_ns(),
    }
}

/// The authenticator's error for a refused registration.
fn registration_error(refused: KeyRegistration) -> MarketError {
    match refused {
        KeyRegistration::TooMany => MarketError::new(
            uri::TOO_MANY_KEYS,
            format!("the member has {MAX_KEYS_PER_MEMBER} keys registered already"),
        ),
        _ => MarketError::new(uri::KEY_IN_USE, "this key is registered for another member"),
    }
}

/// The router's meta topic announcing each joined session.
pub const SESSION_ON_JOIN: &str = "wamp.session.on_join";

/// A session the router announced on [`SESSION_ON_JOIN`] (Crossbar publishes the session's
/// details: `session`, `authid`, `authrole`, `authmethod`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinedSession {
    /// The session id (the `details.session` the authenticator was given at HELLO).
    pub session: u64,
    /// The authid the router assigned.
    pub authid: String,
    /// The role the router assigned.
    pub authrole: String,
    /// How the session authenticated.
    pub authmethod: String,
}

impl JoinedSession {
    /// Reads the event's arguments (`[details]`); `None` if they are not session details.
    pub fn from_event_args(args: &[Value]) -> Option<Self> {
        let d = args.first()?.as_dict()?;
        let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Some(Self {
            session: d.get("session")?.as_u64()?,
            authid: text("authid"),
            authrole: text("authrole"),
            authmethod: text("authmethod"),
        })
    }
}

/// How many member sessions' keys the maker remembers for `logout` (the oldest are forgotten;
/// their sessions can no longer log out, their keys stay registered).
pub const SESSION_KEYS_KEPT: usize = 4096;

/// The key each member session logged in with, newest last, at most [`SESSION_KEYS_KEPT`].
#[derive(Default)]
pub struct SessionKeys(Mutex<VecDeque<(u64, [u8; 32])>>);

impl SessionKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, [u8; 32])>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, session: u64, pubkey: [u8; 32]) {
        let mut g = self.lock();
        g.retain(|(s, _)| *s != session);
        if g.len() >= SESSION_KEYS_KEPT {
            g.pop_front();
        }
        g.push_back((session, pubkey));
    }

    fn take(&self, session: u64) -> Option<[u8; 32]> {
        let mut g = self.lock();
        let i = g.iter().position(|(s, _)| *s == session)?;
        g.remove(i).map(|(_, k)| k)
    }
}

/// `logout`'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedOut {
    /// When (ns).
    pub logged_out: u64,
    /// The session that logged out (it is ended next).
    pub from_session: u64,
    /// The key that was forgotten.
    pub pubkey: [u8; 32],
}

impl LoggedOut {
    /// `{"logged_out": int ns, "from_session": int, "pubkey": b32}` (spec §3A.2).
    pub fn to_value(&self) -> Value {
        let d: Dict = [
            ("logged_out", Value::from(self.logged_out)),
            ("from_session", Value::from(self.from_session)),
            ("pubkey", Value::bytes(self.pubkey)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Value::Dict(d)
    }
}

/// How long the answer to `logout` gets before its session is ended. A fixed delay because the
/// answer is written by the runtime after the handler returns, and nothing tells the handler it
/// went out; a late kill only leaves a logged-out session (whose key is gone) up a little longer.
const KILL_AFTER: Duration = Duration::from_millis(200);

impl MarketMaker {
    /// `xbr.marketmaker.authenticator.authenticate`.
    pub async fn authenticate(&self, req: AuthRequest) -> MarketResult<AuthAnswer> {
        if let Some(realm) = self.cfg.realm.as_ref().filter(|r| **r != req.realm) {
            return Err(invalid(format!(
                "realm \"{}\" is not this market's realm \"{realm}\"",
                req.realm
            )));
        }
        let answer = match &req.login {
            Some(login) => self.first_login(&req, login).await?,
            None => self.known_key_login(&req).await?,
        };
        if let (ROLE_USER, Some(session)) = (answer.role, req.session) {
            self.session_keys.remember(session, req.pubkey);
        }
        info!(authid = %answer.authid, role = answer.role, pubkey = %hex::encode(req.pubkey), "market session authenticated");
        Ok(answer)
    }

    async fn known_key_login(&self, req: &AuthRequest) -> MarketResult<AuthAnswer> {
        let pubkey = req.pubkey;
        let Some(key) = self.db(move |s| s.user_key(&pubkey)).await? else {
            return Ok(AuthAnswer::anonymous(req));
        };
        Ok(match self.actor_type(key.member).await? {
            Some(t) => AuthAnswer::member(req, &key.member, t),
            None => AuthAnswer::anonymous(req),
        })
    }

    async fn first_login(
        &self,
        req: &AuthRequest,
        login: &MemberLogin,
    ) -> MarketResult<AuthAnswer> {
        verify_login(login, req.pubkey)?;
        let session = req
            .session
            .ok_or_else(|| invalid("a first login needs the joining session's id (session)"))?;
        let Some(actor_type) = self.actor_type(login.wallet).await? else {
            return Ok(AuthAnswer::anonymous(req));
        };
        let key = user_key(req.pubkey, login.wallet);
        let refusal = self
            .db(move |s| s.user_key_refusal(&key, MAX_KEYS_PER_MEMBER))
            .await?;
        match refusal {
            // Registered for this member already: a known key.
            Some(KeyRegistration::Known | KeyRegistration::Added) => {}
            Some(refused) => return Err(registration_error(refused)),
            None => {
                let pending = PendingLogin {
                    pubkey: req.pubkey,
                    member: login.wallet,
                };
                self.pending_logins.add(session, pending);
                info!(session, member = %login.wallet, "first login pending until its session joins");
            }
        }
        Ok(AuthAnswer::member(req, &login.wallet, actor_type))
    }

    /// The router announced that a session joined (`wamp.session.on_join`): registers the key of
    /// the first login that session made, if one is pending. A registration refused meanwhile
    /// (another member's session joined first with the key, or the member reached
    /// [`MAX_KEYS_PER_MEMBER`]) ends the session, whose member identity the key no longer backs.
    pub async fn session_joined(&self, joined: &JoinedSession) -> MarketResult<()> {
        let Some(login) = self.pending_logins.take(joined.session) else {
            return Ok(());
        };
        let expected = member_authid(&login.member);
        if joined.authmethod != "cryptosign" || joined.authid != expected {
            warn!(session = joined.session, authid = %joined.authid, expected = %expected, "a pending first login's session joined as someone else; key not registered");
            return Ok(());
        }
        let key = user_key(login.pubkey, login.member);
        let registered = self
            .db(move |s| s.add_user_key(&key, MAX_KEYS_PER_MEMBER))
            .await?;
        match registered {
            KeyRegistration::Added | KeyRegistration::Known => {
                self.session_keys.remember(joined.session, login.pubkey);
                info!(session = joined.session, member = %login.member, pubkey = %hex::encode(login.pubkey), "member key registered");
                Ok(())
            }
            refused => {
                self.end_session(joined.session, Duration::ZERO);
                Err(registration_error(refused))
            }
        }
    }

    /// `xbr.marketmaker.authenticator.logout`, called by session `caller` (0: not disclosed):
    /// forgets the key it logged in with, then ends it.
    pub async fn logout(&self, caller: u64) -> MarketResult<LoggedOut> {
        let pubkey = (caller != 0)
            .then(|| self.session_keys.take(caller))
            .flatten()
            .ok_or_else(|| {
                MarketError::no_such_object("no member key logged in on the calling session")
            })?;
        // A first login whose join the maker has not handled yet is not registered afterwards.
        self.pending_logins.take(caller);
        self.db(move |s| s.remove_user_key(&pubkey)).await?;
        info!(session = caller, pubkey = %hex::encode(pubkey), "member key logged out");
        // The answer goes out first (the reference kills from the next reactor turn).
        self.end_session(caller, KILL_AFTER);
        Ok(LoggedOut {
            logged_out: now_ns(),
            from_session: caller,
            pubkey,
        })
    }

    /// Ends `session` (`wamp.session.kill`) after `after`, in a task of its own. Bounded by the
    /// sessions that join: one per logout (the session's key is taken first, so a second logout
    /// is refused before it gets here) and one per losing join of a raced first login; each task
    /// lives [`KILL_AFTER`] plus one call, and ends with the runtime at shutdown.
    fn end_session(&self, session: u64, after: Duration) {
        let providers = self.providers.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let kill = providers.call("wamp.session.kill", vec![Value::from(session)], Dict::new());
            if let Err(e) = kill.await {
                warn!(session, error = %e, "ending the session failed");
            }
        });
    }

    /// The member's actor type in this market, from the chain.
    async fn actor_type(&self, member: Address) -> MarketResult<Option<ActorType>> {
        let chain = self.chain.as_ref().ok_or_else(|| {
            MarketError::new(
                error::uri::NOT_STARTED,
                "the market maker has no chain to check market membership",
            )
        })?;
        chain.market_actor(self.cfg.market_oid, member).await
    }
}

#[cfg(test)]
#[path = "authenticator_tests.rs"]
mod tests;

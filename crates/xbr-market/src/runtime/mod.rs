//! The role runtime: what a market role registers, subscribes and does after each join, and the
//! one adapter that puts it on a wamp-client [`Component`](wamp_client::Component).
//!
//! | module | what |
//! |---|---|
//! | this module | [`Role`] (the description a role gives), [`RoleObserver`] and [`RoleEvent`] (what it reports) |
//! | [`attach`] | the adapter: declared registrations/subscriptions on a component or a session, the after-join loop |
//! | [`maker`] | [`MakerRole`]: the `xbr.marketmaker.*` procedures, built once the chain answers |
//! | [`seller`] | [`SellerRole`]: `sell`/`close_channel`, `Seller::start` after each join, offer resync |
//! | [`buyer`] | [`BuyerRole`]: data topics, `Buyer::start` after each join |
//!
//! ```text
//!   Role ──declarations()──▶ attach::declare ──▶ Component (replays them on every join)
//!        ──on_join()──────▶ attach::AfterJoin (after each Ready, retried with backoff)
//!   handlers, hooks ──────▶ RoleObserver (metrics, logs)
//! ```

pub mod attach;
pub mod buyer;
pub mod maker;
pub mod seller;

use std::sync::Arc;
use std::time::Duration;

use wamp_client::SubscribeOptions;
use wamp_proto::{Dict, Value};

use crate::error::{MarketError, MarketResult};
use crate::peer::BoxFuture;
use crate::types::{ApiId, KeyId, Purchase, SellerSale};
use crate::wire::Payload;

pub use attach::{AfterJoin, Declared};
pub use buyer::BuyerRole;
pub use maker::{MakerBuilder, MakerRole};
pub use seller::SellerRole;

/// One invocation of a role's procedure.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
    /// The caller's session id (0 when the router did not disclose it).
    pub caller: u64,
    // Authorization (issue 12).
    /// The caller's authid, when the router disclosed it.
    pub caller_authid: Option<String>,
    /// The caller's authrole, when the router disclosed it.
    pub caller_authrole: Option<String>,
}

impl Call {
    /// The caller as the router disclosed it.
    pub fn caller_id(&self) -> crate::maker::CallerId {
        crate::maker::CallerId {
            session: self.caller,
            authid: self.caller_authid.clone(),
            authrole: self.caller_authrole.clone(),
        }
    }
}

/// Handles one call of a procedure.
pub type ProcedureHandler =
    Arc<dyn Fn(Call) -> BoxFuture<'static, MarketResult<Payload>> + Send + Sync>;

/// A procedure a role registers on every session.
#[derive(Clone)]
pub struct ProcedureSpec {
    /// Short name reported to the observer (`buy_key`, `sell`, …).
    pub name: &'static str,
    /// Full URI.
    pub uri: String,
    /// The handler.
    pub handler: ProcedureHandler,
}

/// A data event decrypted by a topic handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Decrypted {
    /// The key it was encrypted under.
    pub key_id: KeyId,
    /// The payload.
    pub payload: Value,
}

/// Why a data event was not decrypted.
#[derive(Debug, Clone)]
pub struct EventError {
    /// The event's key, when the event could be read.
    pub key_id: Option<KeyId>,
    /// What went wrong.
    pub error: MarketError,
}

/// Handles one event of a subscription.
pub type TopicHandler = Arc<
    dyn Fn(wamp_client::Event) -> BoxFuture<'static, Result<Decrypted, EventError>> + Send + Sync,
>;

/// A subscription a role makes on every session.
#[derive(Clone)]
pub struct TopicSpec {
    /// Topic (or prefix/wildcard, see `options`).
    pub topic: String,
    /// Subscribe options (match policy …).
    pub options: SubscribeOptions,
    /// The handler; each event runs in a task of its own.
    pub handler: TopicHandler,
}

/// What a role registers and subscribes on every session.
#[derive(Clone, Default)]
pub struct Declarations {
    /// Procedures.
    pub procedures: Vec<ProcedureSpec>,
    /// Subscriptions.
    pub topics: Vec<TopicSpec>,
}

/// A market role as the runtime drives it.
pub trait Role: Send + Sync + 'static {
    /// What the role registers and subscribes (asked once, before the component starts). The
    /// role reports its domain events (sales, purchases, rotations) to `observer`.
    fn declarations(&self, observer: &Observer) -> Declarations;
    /// What the role does after each join, once its declarations are in place (start-up calls
    /// to the market maker …). Retried with backoff while the session stays up; must be safe to
    /// run again.
    fn on_join(&self) -> BoxFuture<'_, MarketResult<()>>;
    /// Stops the role's timers (before the session is left).
    fn stop(&self) {}
}

/// What the runtime and the roles report.
#[derive(Debug)]
pub enum RoleEvent<'a> {
    /// The role's after-join step succeeded on this session.
    Attached {
        /// Session id.
        session_id: u64,
    },
    /// The after-join step failed; it is retried after `retry_in`.
    NotAttached {
        /// Session id.
        session_id: u64,
        /// Attempt on this session (1-based).
        attempt: u32,
        /// Pause before the next attempt.
        retry_in: Duration,
        /// Why.
        error: &'a MarketError,
    },
    /// Declared registrations or subscriptions failed on this session: the role stays not
    /// attached on it while they are re-established with backoff.
    DeclarationsFailed {
        /// Session id.
        session_id: u64,
        /// `"uri: error"` per failure.
        failures: &'a [String],
    },
    /// A procedure answered.
    CallHandled {
        /// The procedure's short name.
        procedure: &'static str,
        /// How long the handler took (from the invocation to the answer).
        elapsed: Duration,
    },
    /// A procedure answered with an error.
    CallFailed {
        /// The procedure's short name.
        procedure: &'static str,
        /// The error (its URI is what the caller sees).
        error: &'a MarketError,
        /// How long the handler took (from the invocation to the answer).
        elapsed: Duration,
    },
    /// A data event was handled.
    Event {
        /// Topic.
        topic: &'a str,
        /// Publication id.
        publication: u64,
        /// What came of it.
        outcome: Result<&'a Decrypted, &'a EventError>,
    },
    /// Seller: a new key was persisted and its offer attempted.
    KeyRotated {
        /// API.
        api_id: &'a ApiId,
        /// New key.
        key_id: &'a KeyId,
        /// Whether the maker accepted the offer.
        offered: bool,
    },
    /// Seller: a sale was persisted.
    KeySold(&'a SellerSale),
    /// Maker: a `buy_key` succeeded (a key sold through the market).
    KeyBrokered,
    /// Buyer: a purchase was persisted.
    KeyBought(&'a Purchase),

    // Metrics (issue 14).
    /// Buyer: a purchase started for a data event ended with the key in hand, `elapsed` after the
    /// first event under the key (waiting behind earlier purchases included).
    PurchaseCompleted {
        /// From the first event under the key to the key in hand.
        elapsed: Duration,
    },
}

/// Receives [`RoleEvent`]s (metrics, logs). Called on the handling task: keep it quick.
pub trait RoleObserver: Send + Sync + 'static {
    /// One event.
    fn observe(&self, event: RoleEvent<'_>);
}

/// A shared observer.
pub type Observer = Arc<dyn RoleObserver>;

/// An observer that ignores everything.
pub struct NoObserver;

impl RoleObserver for NoObserver {
    fn observe(&self, _: RoleEvent<'_>) {}
}

impl<F: Fn(RoleEvent<'_>) + Send + Sync + 'static> RoleObserver for F {
    fn observe(&self, event: RoleEvent<'_>) {
        self(event)
    }
}

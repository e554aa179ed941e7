//! What calls return, what procedure handlers and event handlers receive and return.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use wamp_proto::{Dict, Value};

use crate::driver::Command;
use crate::error::Error;
use crate::options::PayloadPassthru;

/// The outcome of a successful call (or one progressive result of it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallResult {
    /// Positional results.
    pub args: Vec<Value>,
    /// Keyword results.
    pub kwargs: Dict,
    /// RESULT details (e.g. `progress`, `ppt_*`).
    pub details: Dict,
}

impl CallResult {
    /// The first positional result, if any.
    pub fn first(&self) -> Option<&Value> {
        self.args.first()
    }
}

/// A call to one of our registered procedures.
#[derive(Debug)]
pub struct Invocation {
    /// INVOCATION request id.
    pub request: u64,
    /// The registration this call arrived on.
    pub registration: u64,
    /// The procedure URI that was called (from the details for pattern registrations, else the
    /// registered URI).
    pub procedure: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Dict,
    /// INVOCATION details (`caller`, `caller_authid`, `receive_progress`, `ppt_*` …).
    pub details: Dict,
    pub(crate) progress: Option<mpsc::Sender<Command>>,
}

impl Invocation {
    /// The caller's session id, when the router disclosed it.
    pub fn caller(&self) -> Option<u64> {
        self.details.get("caller").and_then(Value::as_u64)
    }

    /// The caller's authid, when the router disclosed it.
    pub fn caller_authid(&self) -> Option<&str> {
        self.details.get("caller_authid").and_then(Value::as_str)
    }

    /// The caller's authrole, when the router disclosed it.
    pub fn caller_authrole(&self) -> Option<&str> {
        self.details.get("caller_authrole").and_then(Value::as_str)
    }

    /// Whether the caller asked for progressive results.
    pub fn receive_progress(&self) -> bool {
        self.progress.is_some()
    }

    /// Payload passthru options of the call, if any.
    pub fn ppt(&self) -> Option<PayloadPassthru> {
        PayloadPassthru::from_dict(&self.details)
    }

    /// Sends a progressive result to the caller. Returns `Ok(false)` (and sends nothing) when the
    /// caller did not ask for progressive results; an error when the session is gone.
    pub async fn progress(&self, args: Vec<Value>, kwargs: Dict) -> Result<bool, Error> {
        let Some(tx) = &self.progress else {
            return Ok(false);
        };
        tx.send(Command::Yield {
            invocation: self.request,
            outcome: YieldOutcome::Progress(InvocationResult {
                args,
                kwargs,
                options: Dict::new(),
            }),
        })
        .await
        .map_err(|_| Error::ConnectionLost)?;
        Ok(true)
    }
}

/// What a procedure handler returns on success.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvocationResult {
    /// Positional results.
    pub args: Vec<Value>,
    /// Keyword results.
    pub kwargs: Dict,
    /// YIELD options (e.g. `ppt_*`).
    pub options: Dict,
}

impl InvocationResult {
    /// A result with positional and keyword values.
    pub fn new(args: Vec<Value>, kwargs: Dict) -> Self {
        InvocationResult {
            args,
            kwargs,
            options: Dict::new(),
        }
    }

    /// A result with positional values only.
    pub fn args(args: Vec<Value>) -> Self {
        InvocationResult::new(args, Dict::new())
    }

    /// A result without values.
    pub fn empty() -> Self {
        InvocationResult::default()
    }
}

/// What a procedure handler returns on failure: sent to the caller as ERROR.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{uri}")]
pub struct InvocationError {
    /// The error URI, e.g. `com.example.error.invalid_input`.
    pub uri: String,
    /// Positional error payload.
    pub args: Vec<Value>,
    /// Keyword error payload.
    pub kwargs: Dict,
}

impl InvocationError {
    /// URI sent when an invocation was interrupted by a cancel.
    pub const CANCELED: &'static str = "wamp.error.canceled";

    /// An error with a URI and no payload.
    pub fn new(uri: impl Into<String>) -> Self {
        InvocationError {
            uri: uri.into(),
            args: Vec::new(),
            kwargs: Dict::new(),
        }
    }

    /// An error with a URI and payload.
    pub fn with_payload(uri: impl Into<String>, args: Vec<Value>, kwargs: Dict) -> Self {
        InvocationError {
            uri: uri.into(),
            args,
            kwargs,
        }
    }

    /// An error with a URI and a human readable message as its only argument.
    pub fn message(uri: impl Into<String>, message: impl Into<String>) -> Self {
        InvocationError::with_payload(uri, vec![Value::from(message.into())], Dict::new())
    }
}

/// One event received on a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The subscription it arrived on.
    pub subscription: u64,
    /// Publication id.
    pub publication: u64,
    /// The topic it was published to (from the details for pattern subscriptions, else the
    /// subscribed URI).
    pub topic: String,
    /// Positional payload.
    pub args: Vec<Value>,
    /// Keyword payload.
    pub kwargs: Dict,
    /// EVENT details (`publisher`, `publisher_authid`, `topic`, `retained`, `ppt_*` …).
    pub details: Dict,
}

impl Event {
    /// The publisher's session id, when the router disclosed it.
    pub fn publisher(&self) -> Option<u64> {
        self.details.get("publisher").and_then(Value::as_u64)
    }

    /// The publisher's authid, when the router disclosed it.
    pub fn publisher_authid(&self) -> Option<&str> {
        self.details.get("publisher_authid").and_then(Value::as_str)
    }

    /// Whether this is a retained event delivered on subscribe.
    pub fn retained(&self) -> bool {
        self.details
            .get("retained")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// A boxed future, as handlers return them.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A procedure handler: an async function from an [`Invocation`] to a result or error.
pub type ProcedureHandler =
    Arc<dyn Fn(Invocation) -> BoxFuture<Result<InvocationResult, InvocationError>> + Send + Sync>;

/// An event handler: an async function called once per event, in order.
pub type EventHandler = Arc<dyn Fn(Event) -> BoxFuture<()> + Send + Sync>;

/// Wraps an async closure into a [`ProcedureHandler`].
pub fn procedure_handler<F, Fut>(f: F) -> ProcedureHandler
where
    F: Fn(Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<InvocationResult, InvocationError>> + Send + 'static,
{
    Arc::new(move |inv| Box::pin(f(inv)))
}

/// Wraps an async closure into an [`EventHandler`].
pub fn event_handler<F, Fut>(f: F) -> EventHandler
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |ev| Box::pin(f(ev)))
}

/// A yield sent by an invocation task to the driver.
#[derive(Debug)]
pub(crate) enum YieldOutcome {
    /// A progressive result.
    Progress(InvocationResult),
    /// The final result or error.
    Final(Result<InvocationResult, InvocationError>),
}

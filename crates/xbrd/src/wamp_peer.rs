//! xbr-market's transport seam ([`Caller`], [`Publisher`]) over a wamp-client [`Session`] that follows the
//! component across reconnects. This is what the roles use to reach the market maker and the router.

use std::time::Duration;

use wamp_client::session::Session;
use wamp_client::{CallOptions, PublishOptions};
use wamp_proto::{Dict, Value};
use xbr_market::MarketError;
use xbr_market::error::MarketResult;
use xbr_market::peer::{BoxFuture, Caller, Publisher};
use xbr_market::wire::Payload;

/// Calls made by the roles time out after this (the reference has no timeout and hangs, spec §10).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn market_error(e: wamp_client::Error) -> MarketError {
    match e.as_wamp() {
        Some(w) => {
            let message = w
                .args
                .first()
                .and_then(|v| v.as_str())
                .unwrap_or(&w.uri)
                .to_owned();
            MarketError::from_uri(w.uri.clone(), message)
        }
        None => MarketError::runtime(e.to_string()),
    }
}

/// [`Caller`] and [`Publisher`] over a WAMP session.
#[derive(Clone)]
pub struct SessionPeer {
    session: Session,
}

impl SessionPeer {
    /// Wraps a session handle.
    pub fn new(session: Session) -> Self {
        SessionPeer { session }
    }
}

impl Caller for SessionPeer {
    fn call<'a>(
        &'a self,
        procedure: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<Payload>> {
        Box::pin(async move {
            let r = self
                .session
                .call(
                    procedure,
                    args,
                    kwargs,
                    CallOptions::with_timeout(CALL_TIMEOUT),
                )
                .await
                .map_err(market_error)?;
            Ok((r.args, r.kwargs))
        })
    }
}

impl Publisher for SessionPeer {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<()>> {
        Box::pin(async move {
            self.session
                .publish(topic, args, kwargs, PublishOptions::acknowledged())
                .await
                .map(|_| ())
                .map_err(market_error)
        })
    }
}

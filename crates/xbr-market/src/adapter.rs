//! Glue between WAMP payloads and the roles that is shared by every transport.

use wamp_proto::Value;

use crate::error::MarketResult;
use crate::types::Oid;
use crate::wire::Args;

/// Reads a data event `(key_id b16, enc_ser str, ciphertext bytes)` (the application convention
/// of the reference examples, spec §1).
pub fn read_event(args: &[Value]) -> MarketResult<(Oid, String, Vec<u8>)> {
    let a = Args::new("event", args, 3, 3)?;
    let key_id = a.bytes::<16>(0, "key_id")?;
    let enc_ser = a.str(1, "enc_ser")?;
    let ct = a.at(2).as_bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        crate::error::MarketError::invalid_argument("event: argument 'ciphertext' must be bytes")
    })?;
    Ok((key_id, enc_ser, ct))
}

/// The positional args of a data event.
pub fn event_args(key_id: &Oid, enc_ser: &str, ciphertext: Vec<u8>) -> Vec<Value> {
    vec![
        Value::Bytes(key_id.to_vec()),
        Value::from(enc_ser),
        Value::Bytes(ciphertext),
    ]
}

/// The roles over a wamp-client [`Session`]: a [`Caller`]/[`Publisher`] implementation and the
/// registrations of the maker's and the seller's procedures.
pub mod session {
    use std::sync::Arc;
    use std::time::Duration;

    use wamp_client::{
        CallOptions, Error, InvocationError, InvocationResult, PublishOptions, RegisterOptions,
        Registration, Session, SubscribeOptions, Subscription,
    };
    use wamp_proto::{Dict, Value};

    use crate::buyer::Buyer;
    use crate::error::{MarketError, MarketResult};
    use crate::maker::{MarketMaker, Procedure};
    use crate::peer::{BoxFuture, Caller, Publisher, error_args, error_from_wamp};
    use crate::seller::Seller;
    use crate::wire::Payload;

    /// URI prefix of errors that are not the callee's answer (the call's outcome is unknown or it
    /// never reached a callee): `xbr.error.transport.<kind>`.
    pub const TRANSPORT_ERROR: &str = "xbr.error.transport";

    /// A session used as [`Caller`] and [`Publisher`].
    #[derive(Clone)]
    pub struct SessionPeer {
        session: Session,
        timeout: Option<Duration>,
    }

    impl SessionPeer {
        /// Calls through `session` with an optional per-call timeout.
        pub fn new(session: Session, timeout: Option<Duration>) -> Self {
            Self { session, timeout }
        }
    }

    /// Maps a client error to a [`MarketError`]: a peer's ERROR keeps its URI and message.
    pub fn market_error(e: Error) -> MarketError {
        match e {
            Error::Wamp(w) => error_from_wamp(&w.uri, &w.args),
            Error::Encode(e) => MarketError::new("wamp.error.invalid_payload", e.to_string()),
            Error::Timeout(d) => {
                MarketError::new("wamp.error.timeout", format!("call timed out after {d:?}"))
            }
            other => MarketError::from_uri(format!("{TRANSPORT_ERROR}.failed"), other.to_string()),
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
                let options = match self.timeout {
                    Some(t) => CallOptions::with_timeout(t),
                    None => CallOptions::default(),
                };
                let r = self
                    .session
                    .call(procedure, args, kwargs, options)
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
                    .publish(topic, args, kwargs, PublishOptions::default())
                    .await
                    .map_err(market_error)?;
                Ok(())
            })
        }
    }

    fn invocation_error(e: MarketError) -> InvocationError {
        InvocationError::with_payload(e.uri.to_string(), error_args(&e), Dict::new())
    }

    /// Registers every `xbr.marketmaker.*` procedure of `maker` on `session`.
    pub async fn register_maker(
        session: &Session,
        maker: Arc<MarketMaker>,
    ) -> Result<Vec<Registration>, Error> {
        let mut regs = Vec::with_capacity(Procedure::ALL.len());
        for &procedure in Procedure::ALL {
            let maker = Arc::clone(&maker);
            let reg = session
                .register(procedure.uri(), RegisterOptions::default(), move |inv| {
                    let maker = Arc::clone(&maker);
                    async move {
                        let caller = inv.caller().unwrap_or(0);
                        maker
                            .dispatch(procedure, &inv.args, &inv.kwargs, caller)
                            .await
                            .map(|(args, kwargs)| InvocationResult::new(args, kwargs))
                            .map_err(invocation_error)
                    }
                })
                .await?;
            regs.push(reg);
        }
        Ok(regs)
    }

    /// Registers the seller's `xbr.provider.<id>.sell` and `.close_channel` on `session`.
    pub async fn register_seller(
        session: &Session,
        seller: &Seller,
    ) -> Result<Vec<Registration>, Error> {
        let mut regs = Vec::with_capacity(2);
        for (name, uri) in [
            ("sell", seller.sell_uri()),
            ("close_channel", seller.close_channel_uri()),
        ] {
            let seller = seller.clone();
            let reg = session
                .register(&uri, RegisterOptions::default(), move |inv| {
                    let seller = seller.clone();
                    async move {
                        seller
                            .dispatch(name, &inv.args)
                            .await
                            .map(|(args, kwargs)| InvocationResult::new(args, kwargs))
                            .map_err(invocation_error)
                    }
                })
                .await?;
            regs.push(reg);
        }
        Ok(regs)
    }

    /// Subscribes `buyer` to a data topic; each event `(key_id, enc_ser, ciphertext)` is unwrapped
    /// (buying its key if needed) and the outcome handed to `on_payload`. Events are unwrapped
    /// concurrently so a purchase does not hold up events under known keys.
    pub async fn subscribe_buyer(
        session: &Session,
        topic: &str,
        buyer: Buyer,
        on_payload: Arc<dyn Fn(MarketResult<Value>) + Send + Sync>,
    ) -> Result<Subscription, Error> {
        session
            .subscribe(topic, SubscribeOptions::default(), move |event| {
                let buyer = buyer.clone();
                let on_payload = Arc::clone(&on_payload);
                async move {
                    tokio::spawn(async move {
                        let r = match super::read_event(&event.args) {
                            Ok((key_id, enc_ser, ct)) => buyer.unwrap(&key_id, &enc_ser, &ct).await,
                            Err(e) => Err(e),
                        };
                        on_payload(r);
                    });
                }
            })
            .await
    }
}

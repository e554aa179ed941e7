//! Glue between WAMP payloads and the roles that is shared by every transport.

use wamp_proto::Value;

use crate::error::MarketResult;
use crate::types::KeyId;
use crate::wire::Args;

/// Reads a data event `(key_id b16, enc_ser str, ciphertext bytes)` (the application convention
/// of the reference examples, spec §1).
pub fn read_event(args: &[Value]) -> MarketResult<(KeyId, String, Vec<u8>)> {
    let a = Args::new("event", args, 3, 3)?;
    let key_id = a.id(0, "key_id")?;
    let enc_ser = a.str(1, "enc_ser")?;
    let ct = a.at(2).as_bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        crate::error::MarketError::invalid_argument("event: argument 'ciphertext' must be bytes")
    })?;
    Ok((key_id, enc_ser, ct))
}

/// The positional args of a data event.
pub fn event_args(key_id: &KeyId, enc_ser: &str, ciphertext: Vec<u8>) -> Vec<Value> {
    vec![
        Value::Bytes(key_id.as_bytes().to_vec()),
        Value::from(enc_ser),
        Value::Bytes(ciphertext),
    ]
}

/// The roles over a wamp-client [`Session`]: a [`Caller`]/[`Publisher`] implementation and the
/// one-shot registrations of a role's declarations on a plain session (a component replays them
/// itself, see [`crate::runtime::attach`]).
pub mod session {
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use wamp_client::{
        CallOptions, Error, PublishOptions, Registration, Session, SubscribeOptions, Subscription,
    };
    use wamp_proto::{Dict, Value};

    use crate::buyer::Buyer;
    use crate::error::{MarketError, MarketResult};
    use crate::maker::MarketMaker;
    use crate::peer::{BoxFuture, Caller, Publisher, error_from_wamp};
    use crate::runtime::{
        BuyerRole, Declarations, MakerRole, NoObserver, Observer, Role, RoleEvent, SellerRole,
        attach,
    };
    use crate::seller::Seller;
    use crate::wire::Payload;

    /// A session used as [`Caller`] and [`Publisher`]. It may be created before the session
    /// exists ([`SessionPeer::unbound`]) and bound once the component starts.
    #[derive(Clone)]
    pub struct SessionPeer {
        session: Arc<OnceLock<Session>>,
        timeout: Option<Duration>,
    }

    impl SessionPeer {
        /// Calls through `session` with an optional per-call timeout.
        pub fn new(session: Session, timeout: Option<Duration>) -> Self {
            let peer = Self::unbound(timeout);
            peer.bind(session);
            peer
        }

        /// A peer whose session is given later with [`SessionPeer::bind`]; until then calls
        /// fail with `xbr.error.transport.failed`.
        pub fn unbound(timeout: Option<Duration>) -> Self {
            Self {
                session: Arc::new(OnceLock::new()),
                timeout,
            }
        }

        /// Binds the session (the first binding stays).
        pub fn bind(&self, session: Session) {
            let _ = self.session.set(session);
        }

        /// The session, once bound.
        pub fn session(&self) -> Option<&Session> {
            self.session.get()
        }

        fn bound(&self) -> MarketResult<&Session> {
            self.session()
                .ok_or_else(|| market_error(Error::NotConnected))
        }
    }

    /// Maps a client error to a [`MarketError`]: a peer's ERROR keeps its URI and message.
    pub fn market_error(e: Error) -> MarketError {
        match e {
            Error::Wamp(w) => error_from_wamp(&w.uri, &w.args, &w.kwargs),
            Error::Encode(e) => MarketError::new("wamp.error.invalid_payload", e.to_string()),
            Error::Timeout(d) => {
                MarketError::new("wamp.error.timeout", format!("call timed out after {d:?}"))
            }
            other => MarketError::transport("failed", other.to_string()),
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
                    .bound()?
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
                self.bound()?
                    .publish(topic, args, kwargs, PublishOptions::default())
                    .await
                    .map_err(market_error)?;
                Ok(())
            })
        }
    }

    fn no_observer() -> Observer {
        Arc::new(NoObserver)
    }

    async fn registrations(
        session: &Session,
        declarations: Declarations,
    ) -> Result<Vec<Registration>, Error> {
        Ok(attach::establish(session, declarations, &no_observer())
            .await?
            .0)
    }

    /// Registers every `xbr.marketmaker.*` procedure of `maker` on `session`.
    pub async fn register_maker(
        session: &Session,
        maker: Arc<MarketMaker>,
    ) -> Result<Vec<Registration>, Error> {
        let role = MakerRole::built(maker);
        registrations(session, role.declarations(&no_observer())).await
    }

    /// Registers the seller's `xbr.provider.<id>.sell` and `.close_channel` on `session`.
    pub async fn register_seller(
        session: &Session,
        seller: &Seller,
    ) -> Result<Vec<Registration>, Error> {
        let declarations = Declarations {
            procedures: SellerRole::new(seller.clone()).procedures(),
            topics: Vec::new(),
        };
        registrations(session, declarations).await
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
        let spec = BuyerRole::topic(buyer, topic.to_owned(), SubscribeOptions::default());
        let observer: Observer = Arc::new(move |event: RoleEvent<'_>| {
            if let RoleEvent::Event { outcome, .. } = event {
                on_payload(
                    outcome
                        .map(|d| d.payload.clone())
                        .map_err(|e| e.error.clone()),
                );
            }
        });
        let declarations = Declarations {
            procedures: Vec::new(),
            topics: vec![spec],
        };
        let (_, mut subs) = attach::establish(session, declarations, &observer).await?;
        subs.pop().ok_or(Error::NotConnected)
    }
}

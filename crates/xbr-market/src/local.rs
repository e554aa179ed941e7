//! An in-process bus implementing [`Caller`] and [`Publisher`]: roles wired by direct calls, each
//! CALL and RESULT/ERROR optionally passed through a real WAMP serializer (encode → bytes →
//! decode), so in-process tests exercise the same wire conversion as a router would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use wamp_proto::{Dict, Message, Serializer, Value};

use crate::buyer::Buyer;
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::{MarketMaker, Procedure};
use crate::peer::{
    BoxFuture, Caller, ProviderProcedure, Publisher, error_args, error_from_wamp, error_kwargs,
};
use crate::seller::Seller;
use crate::wire::Payload;

/// A registered procedure.
pub type Handler =
    Arc<dyn Fn(Vec<Value>, Dict) -> BoxFuture<'static, MarketResult<Payload>> + Send + Sync>;

/// A subscriber callback.
pub type EventHandler = Arc<dyn Fn(Vec<Value>, Dict) + Send + Sync>;

/// One CALL as it went over the in-process wire.
#[derive(Clone, Debug)]
pub struct WireRecord {
    /// Procedure URI.
    pub procedure: String,
    /// The encoded CALL.
    pub call: Vec<u8>,
    /// The encoded RESULT or ERROR.
    pub reply: Vec<u8>,
}

/// The in-process router.
#[derive(Default)]
pub struct LocalBus {
    procedures: RwLock<HashMap<String, Handler>>,
    subscribers: RwLock<HashMap<String, Vec<EventHandler>>>,
    serializer: Option<Serializer>,
    request: AtomicU64,
    records: Mutex<Vec<WireRecord>>,
}

impl LocalBus {
    /// A bus passing values through directly.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A bus encoding and decoding every CALL and RESULT with `serializer`.
    pub fn with_serializer(serializer: Serializer) -> Arc<Self> {
        Arc::new(Self {
            serializer: Some(serializer),
            ..Self::default()
        })
    }

    /// Registers a procedure (replacing an earlier one).
    pub fn register(&self, procedure: impl Into<String>, handler: Handler) {
        self.procedures
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(procedure.into(), handler);
    }

    /// Removes a procedure.
    pub fn unregister(&self, procedure: &str) {
        self.procedures
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(procedure);
    }

    /// Subscribes to a topic.
    pub fn subscribe(&self, topic: impl Into<String>, handler: EventHandler) {
        self.subscribers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(topic.into())
            .or_default()
            .push(handler);
    }

    /// The CALLs recorded so far (only with a serializer).
    pub fn records(&self) -> Vec<WireRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Registers every `xbr.marketmaker.*` procedure of `maker`.
    pub fn register_maker(&self, maker: Arc<MarketMaker>) {
        for &procedure in Procedure::ALL {
            let maker = Arc::clone(&maker);
            self.register(
                procedure.uri(),
                Arc::new(move |args, kwargs| {
                    let maker = Arc::clone(&maker);
                    Box::pin(async move { maker.dispatch(procedure, &args, &kwargs, 0).await })
                }),
            );
        }
    }

    /// Registers the seller's `sell` and `close_channel`.
    pub fn register_seller(&self, seller: &Seller) {
        for &procedure in ProviderProcedure::ALL {
            let seller = seller.clone();
            self.register(
                seller.procedure_uri(procedure),
                Arc::new(move |args, _kwargs| {
                    let seller = seller.clone();
                    Box::pin(async move { seller.dispatch(procedure, &args).await })
                }),
            );
        }
    }

    /// Subscribes `buyer` to a data topic: every event `(key_id, enc_ser, ciphertext)` is
    /// unwrapped and the result handed to `on_payload`.
    pub fn subscribe_buyer(
        &self,
        topic: &str,
        buyer: Buyer,
        on_payload: Arc<dyn Fn(MarketResult<Value>) + Send + Sync>,
    ) {
        self.subscribe(
            topic,
            Arc::new(move |args, _| {
                let buyer = buyer.clone();
                let on_payload = Arc::clone(&on_payload);
                tokio::spawn(async move {
                    let r = match crate::adapter::read_event(&args) {
                        Ok((key_id, enc_ser, ct)) => buyer.unwrap(&key_id, &enc_ser, &ct).await,
                        Err(e) => Err(e),
                    };
                    on_payload(r);
                });
            }),
        );
    }

    fn through_wire(
        &self,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> MarketResult<(Vec<u8>, Vec<Value>, Dict)> {
        let Some(ser) = self.serializer else {
            return Ok((Vec::new(), args, kwargs));
        };
        let request = self.request.fetch_add(1, Ordering::Relaxed) + 1;
        let msg = Message::Call {
            request,
            options: Dict::new(),
            procedure: procedure.to_string(),
            args,
            kwargs,
        };
        let bytes = ser
            .encode(&msg)
            .map_err(|e| MarketError::new("wamp.error.invalid_payload", e.to_string()))?;
        match ser.decode(&bytes) {
            Ok(Message::Call { args, kwargs, .. }) => Ok((bytes, args, kwargs)),
            Ok(other) => Err(MarketError::runtime(format!(
                "decoded {} instead of CALL",
                other.name()
            ))),
            Err(e) => Err(MarketError::runtime(format!("decode: {e}"))),
        }
    }

    fn reply_through_wire(
        &self,
        procedure: &str,
        call: Vec<u8>,
        reply: MarketResult<Payload>,
    ) -> MarketResult<Payload> {
        let Some(ser) = self.serializer else {
            return reply;
        };
        let msg = match &reply {
            Ok((args, kwargs)) => Message::Result {
                request: 1,
                details: Dict::new(),
                args: args.clone(),
                kwargs: kwargs.clone(),
            },
            Err(e) => Message::Error {
                request_type: 48,
                request: 1,
                details: Dict::new(),
                error: e.uri.to_string(),
                args: error_args(e),
                kwargs: error_kwargs(e),
            },
        };
        let bytes = ser
            .encode(&msg)
            .map_err(|e| MarketError::new("wamp.error.invalid_payload", e.to_string()))?;
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(WireRecord {
                procedure: procedure.to_string(),
                call,
                reply: bytes.clone(),
            });
        match ser.decode(&bytes) {
            Ok(Message::Result { args, kwargs, .. }) => Ok((args, kwargs)),
            Ok(Message::Error {
                error,
                args,
                kwargs,
                ..
            }) => Err(error_from_wamp(&error, &args, &kwargs)),
            Ok(other) => Err(MarketError::runtime(format!(
                "decoded {} instead of RESULT",
                other.name()
            ))),
            Err(e) => Err(MarketError::runtime(format!("decode: {e}"))),
        }
    }
}

impl Caller for LocalBus {
    fn call<'a>(
        &'a self,
        procedure: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<Payload>> {
        Box::pin(async move {
            let handler = self
                .procedures
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(procedure)
                .cloned();
            let Some(handler) = handler else {
                return Err(MarketError::new(
                    uri::NO_SUCH_PROCEDURE,
                    format!("no callee for {procedure}"),
                ));
            };
            let (call, args, kwargs) = self.through_wire(procedure, args, kwargs)?;
            let reply = handler(args, kwargs).await;
            self.reply_through_wire(procedure, call, reply)
        })
    }
}

impl Publisher for LocalBus {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<()>> {
        Box::pin(async move {
            let subs = self
                .subscribers
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(topic)
                .cloned()
                .unwrap_or_default();
            for s in subs {
                s(args.clone(), kwargs.clone());
            }
            Ok(())
        })
    }
}

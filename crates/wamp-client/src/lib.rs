//! A tokio WAMP v2 client over the sans-IO [`wamp_proto`] session.
//!
//! * **Transports** ([`transport`]): `ws://`, `wss://` (tokio-tungstenite over rustls, system roots
//!   or a given CA), `rs://`/`rss://` RawSocket over TCP (+TLS) and `rs+unix:///path` RawSocket over
//!   a Unix socket. Serializers CBOR, MsgPack and JSON are negotiated (WebSocket subprotocols,
//!   RawSocket handshake). `TCP_NODELAY` is always on; the maximum message size is enforced per
//!   transport before buffering.
//! * **Session handle** ([`Session`]): call (timeout, cancel, progressive results), register
//!   (async handlers, progressive results, interrupt on cancel), subscribe, publish, leave. One
//!   driver task per connection owns the socket and the protocol state; handles are cheap clones
//!   talking to it over a bounded channel.
//! * **Component runner** ([`Component`]): transports tried in turn with Autobahn's per-transport
//!   retry knobs, backoff reset only after a stable session, no retry after an authentication
//!   failure, lifecycle events, and registrations/subscriptions re-established (with their
//!   options) on every join.
//! * **Timers**: every deadline (call, register, subscribe, acknowledged publish, unregister,
//!   unsubscribe, join, leave, auto-ping and its pong) lives in the sans-IO session
//!   ([`wamp_proto::session::Timeouts`]); the driver only sleeps until the next one. No pong within
//!   the timeout closes the connection (and a component reconnects).
//! * **Hostile payloads**: a message whose payload this client cannot represent fails alone, never
//!   the connection: such an event is dropped and counted ([`Session::dropped_events`]), such a
//!   result or error fails its call with `wamp.error.invalid_payload`, such an invocation is
//!   answered with `wamp.error.invalid_argument` (see [`wamp_proto::session`]). Integers of any
//!   sign and size decode ([`wamp_proto::Value`]).
//!
//! ```no_run
//! use wamp_client::{PublishOptions, Session, SubscribeOptions, TransportConfig};
//! use wamp_proto::auth::ClientAuth;
//! use wamp_proto::session::SessionConfig;
//! use wamp_proto::{Dict, Serializer, Value};
//!
//! # async fn example() -> Result<(), wamp_client::Error> {
//! let transport = TransportConfig::new("rs://127.0.0.1:8081").with_serializer(Serializer::Cbor);
//! let auth = ClientAuth::ticket("alice", "alice-ticket-secret");
//! let session = Session::connect(&transport, SessionConfig::new("realm2", auth)).await?;
//! session
//!     .subscribe("com.example.news", SubscribeOptions::default(), |event| async move {
//!         println!("{:?}", event.args);
//!     })
//!     .await?;
//! let publication = session
//!     .publish("com.example.news", vec![Value::from("hello")], Dict::new(), PublishOptions::acknowledged())
//!     .await?;
//! assert!(publication.is_some());
//! session.leave().await?;
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod backoff;
pub mod component;
mod driver;
pub mod error;
pub mod options;
pub mod session;
pub mod transport;
pub mod types;

pub use backoff::{Jitter, RetryPolicy};
pub use component::{Component, LifecycleEvent, RunningComponent};
pub use driver::{Disconnect, SessionInfo};
pub use error::{Error, JoinError, TransportError, WampError};
pub use options::{
    CallOptions, CancelMode, InvokePolicy, MatchPolicy, PayloadPassthru, PublishOptions,
    RegisterOptions, SubscribeOptions,
};
pub use session::{ProgressiveCall, Registration, Session, Subscription};
pub use transport::{Endpoint, TlsOptions, TransportConfig};
pub use types::{CallResult, Event, Invocation, InvocationError, InvocationResult};

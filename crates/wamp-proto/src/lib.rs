//! Sans-IO WAMP v2: messages, serializers, session state machine and authentication computations.
//!
//! No sockets, no async runtime, no clock reads: callers pass time and randomness in.
//!
//! * [`value`]: [`Value`], the dynamic payload type (byte strings, integers of any size, ordered
//!   [`Dict`]s).
//! * [`message`]: [`Message`], every WAMP v2 message a client sends or receives.
//! * [`codec`]: [`Serializer`] (JSON, MsgPack, CBOR), wire-compatible with Autobahn|Python.
//! * [`session`]: the client session state machine ([`session::Session`]).
//! * [`auth`]: the client side of anonymous, ticket, WAMP-CRA, cryptosign and SCRAM.
//! * [`uri`]: URI and URI-pattern checks.
//!
//! ```
//! use wamp_proto::{Dict, Message, Serializer, Value};
//!
//! let call = Message::Call {
//!     request: 1,
//!     options: Dict::new(),
//!     procedure: "com.example.add".into(),
//!     args: vec![Value::from(2), Value::bytes(vec![0u8, 1])],
//!     kwargs: Dict::new(),
//! };
//! let json = Serializer::Json.encode(&call).unwrap();
//! assert_eq!(json, br#"[48,1,{},"com.example.add",[2,"\u0000AAE="]]"#);
//! assert_eq!(Serializer::Json.decode(&json).unwrap(), call);
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod codec;
pub mod error;
pub mod message;
pub mod session;
pub mod uri;
pub mod value;

pub use codec::Serializer;
pub use error::{EncodeError, ProtocolError};
pub use message::Message;
pub use value::{Dict, Value};

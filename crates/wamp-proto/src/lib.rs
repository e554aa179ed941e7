//! Sans-IO WAMP v2: messages, serializers, session state machine and authentication computations.
//!
//! No sockets, no async runtime, no clock reads: callers pass time and randomness in.
#![deny(unsafe_code)]

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

//! Sans-IO WAMP v2: messages, serializers, session state machine and authentication computations.
//!
//! No sockets, no async runtime, no clock reads: callers pass time and randomness in.
#![deny(unsafe_code)]

pub mod auth;

//! Typed WAMP v2 messages (basic and advanced profile, the messages a client sends or receives).
//!
//! Payload rule (as Autobahn encodes): when `kwargs` is non-empty, both `args` (possibly `[]`) and
//! `kwargs` go on the wire; else when `args` is non-empty, only `args`; else neither.

//!
//! Modules: `encode` (a message to its wire fields and WAMP list), `decode` (a WAMP list to a
//! checked message).

mod decode;
mod encode;

pub(crate) use encode::Field;

use crate::value::{Dict, Value};

/// Message type codes from the WAMP v2 specification.
pub mod code {
    /// HELLO
    pub const HELLO: u8 = 1;
    /// WELCOME
    pub const WELCOME: u8 = 2;
    /// ABORT
    pub const ABORT: u8 = 3;
    /// CHALLENGE
    pub const CHALLENGE: u8 = 4;
    /// AUTHENTICATE
    pub const AUTHENTICATE: u8 = 5;
    /// GOODBYE
    pub const GOODBYE: u8 = 6;
    /// ERROR
    pub const ERROR: u8 = 8;
    /// PUBLISH
    pub const PUBLISH: u8 = 16;
    /// PUBLISHED
    pub const PUBLISHED: u8 = 17;
    /// SUBSCRIBE
    pub const SUBSCRIBE: u8 = 32;
    /// SUBSCRIBED
    pub const SUBSCRIBED: u8 = 33;
    /// UNSUBSCRIBE
    pub const UNSUBSCRIBE: u8 = 34;
    /// UNSUBSCRIBED
    pub const UNSUBSCRIBED: u8 = 35;
    /// EVENT
    pub const EVENT: u8 = 36;
    /// CALL
    pub const CALL: u8 = 48;
    /// CANCEL
    pub const CANCEL: u8 = 49;
    /// RESULT
    pub const RESULT: u8 = 50;
    /// REGISTER
    pub const REGISTER: u8 = 64;
    /// REGISTERED
    pub const REGISTERED: u8 = 65;
    /// UNREGISTER
    pub const UNREGISTER: u8 = 66;
    /// UNREGISTERED
    pub const UNREGISTERED: u8 = 67;
    /// INVOCATION
    pub const INVOCATION: u8 = 68;
    /// INTERRUPT
    pub const INTERRUPT: u8 = 69;
    /// YIELD
    pub const YIELD: u8 = 70;
}

/// One WAMP v2 message.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// `[HELLO, Realm|uri, Details|dict]`
    Hello {
        /// Realm to join.
        realm: String,
        /// Roles, authmethods, authid, authextra …
        details: Dict,
    },
    /// `[WELCOME, Session|id, Details|dict]`
    Welcome {
        /// Session id assigned by the router.
        session: u64,
        /// Router roles, authid, authrole …
        details: Dict,
    },
    /// `[ABORT, Details|dict, Reason|uri]`
    Abort {
        /// Details (often a `message`).
        details: Dict,
        /// Reason URI.
        reason: String,
    },
    /// `[CHALLENGE, AuthMethod|string, Extra|dict]`
    Challenge {
        /// Authentication method chosen by the router.
        authmethod: String,
        /// Method-specific challenge data.
        extra: Dict,
    },
    /// `[AUTHENTICATE, Signature|string, Extra|dict]`
    Authenticate {
        /// Signature / proof.
        signature: String,
        /// Method-specific extra data.
        extra: Dict,
    },
    /// `[GOODBYE, Details|dict, Reason|uri]`
    Goodbye {
        /// Details.
        details: Dict,
        /// Reason URI.
        reason: String,
    },
    /// `[ERROR, REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Arguments|list, ArgumentsKw|dict]`
    Error {
        /// Message code of the failed request (e.g. [`code::CALL`]).
        request_type: u8,
        /// Request id of the failed request.
        request: u64,
        /// Details.
        details: Dict,
        /// Error URI.
        error: String,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[PUBLISH, Request|id, Options|dict, Topic|uri, Arguments|list, ArgumentsKw|dict]`
    Publish {
        /// Request id.
        request: u64,
        /// Options (acknowledge, exclude_me …).
        options: Dict,
        /// Topic URI.
        topic: String,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[PUBLISHED, PUBLISH.Request|id, Publication|id]`
    Published {
        /// Request id of the PUBLISH.
        request: u64,
        /// Publication id.
        publication: u64,
    },
    /// `[SUBSCRIBE, Request|id, Options|dict, Topic|uri]`
    Subscribe {
        /// Request id.
        request: u64,
        /// Options (match …).
        options: Dict,
        /// Topic URI or pattern.
        topic: String,
    },
    /// `[SUBSCRIBED, SUBSCRIBE.Request|id, Subscription|id]`
    Subscribed {
        /// Request id of the SUBSCRIBE.
        request: u64,
        /// Subscription id.
        subscription: u64,
    },
    /// `[UNSUBSCRIBE, Request|id, SUBSCRIBED.Subscription|id]`
    Unsubscribe {
        /// Request id.
        request: u64,
        /// Subscription id.
        subscription: u64,
    },
    /// `[UNSUBSCRIBED, UNSUBSCRIBE.Request|id]` or `[UNSUBSCRIBED, 0, Details|dict]` (router-initiated)
    Unsubscribed {
        /// Request id of the UNSUBSCRIBE (0 when router-initiated).
        request: u64,
        /// Details, present only in the advanced form.
        details: Option<Dict>,
    },
    /// `[EVENT, SUBSCRIBED.Subscription|id, PUBLISHED.Publication|id, Details|dict, Arguments|list, ArgumentsKw|dict]`
    Event {
        /// Subscription id.
        subscription: u64,
        /// Publication id.
        publication: u64,
        /// Details (publisher, topic …).
        details: Dict,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[CALL, Request|id, Options|dict, Procedure|uri, Arguments|list, ArgumentsKw|dict]`
    Call {
        /// Request id.
        request: u64,
        /// Options (timeout, receive_progress …).
        options: Dict,
        /// Procedure URI.
        procedure: String,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[CANCEL, CALL.Request|id, Options|dict]`
    Cancel {
        /// Request id of the CALL.
        request: u64,
        /// Options (mode).
        options: Dict,
    },
    /// `[RESULT, CALL.Request|id, Details|dict, YIELD.Arguments|list, YIELD.ArgumentsKw|dict]`
    Result {
        /// Request id of the CALL.
        request: u64,
        /// Details (progress …).
        details: Dict,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[REGISTER, Request|id, Options|dict, Procedure|uri]`
    Register {
        /// Request id.
        request: u64,
        /// Options (match, invoke …).
        options: Dict,
        /// Procedure URI or pattern.
        procedure: String,
    },
    /// `[REGISTERED, REGISTER.Request|id, Registration|id]`
    Registered {
        /// Request id of the REGISTER.
        request: u64,
        /// Registration id.
        registration: u64,
    },
    /// `[UNREGISTER, Request|id, REGISTERED.Registration|id]`
    Unregister {
        /// Request id.
        request: u64,
        /// Registration id.
        registration: u64,
    },
    /// `[UNREGISTERED, UNREGISTER.Request|id]` or `[UNREGISTERED, 0, Details|dict]` (router-initiated)
    Unregistered {
        /// Request id of the UNREGISTER (0 when router-initiated).
        request: u64,
        /// Details, present only in the advanced form.
        details: Option<Dict>,
    },
    /// `[INVOCATION, Request|id, REGISTERED.Registration|id, Details|dict, CALL.Arguments|list, CALL.ArgumentsKw|dict]`
    Invocation {
        /// Invocation request id.
        request: u64,
        /// Registration id.
        registration: u64,
        /// Details (caller, procedure, receive_progress …).
        details: Dict,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
    /// `[INTERRUPT, INVOCATION.Request|id, Options|dict]`
    Interrupt {
        /// Invocation request id.
        request: u64,
        /// Options (mode, reason).
        options: Dict,
    },
    /// `[YIELD, INVOCATION.Request|id, Options|dict, Arguments|list, ArgumentsKw|dict]`
    Yield {
        /// Invocation request id.
        request: u64,
        /// Options (progress …).
        options: Dict,
        /// Positional payload.
        args: Vec<Value>,
        /// Keyword payload.
        kwargs: Dict,
    },
}

/// The upper name of a message code, e.g. `"CALL"` for 48; `None` for unknown codes.
pub fn code_name(code: u64) -> Option<&'static str> {
    Some(match u8::try_from(code).ok()? {
        code::HELLO => "HELLO",
        code::WELCOME => "WELCOME",
        code::ABORT => "ABORT",
        code::CHALLENGE => "CHALLENGE",
        code::AUTHENTICATE => "AUTHENTICATE",
        code::GOODBYE => "GOODBYE",
        code::ERROR => "ERROR",
        code::PUBLISH => "PUBLISH",
        code::PUBLISHED => "PUBLISHED",
        code::SUBSCRIBE => "SUBSCRIBE",
        code::SUBSCRIBED => "SUBSCRIBED",
        code::UNSUBSCRIBE => "UNSUBSCRIBE",
        code::UNSUBSCRIBED => "UNSUBSCRIBED",
        code::EVENT => "EVENT",
        code::CALL => "CALL",
        code::CANCEL => "CANCEL",
        code::RESULT => "RESULT",
        code::REGISTER => "REGISTER",
        code::REGISTERED => "REGISTERED",
        code::UNREGISTER => "UNREGISTER",
        code::UNREGISTERED => "UNREGISTERED",
        code::INVOCATION => "INVOCATION",
        code::INTERRUPT => "INTERRUPT",
        code::YIELD => "YIELD",
        _ => return None,
    })
}

/// Highest id WAMP allows (2^53), inclusive.
pub const MAX_ID: u64 = 1 << 53;

impl Message {
    /// The message type code.
    pub fn code(&self) -> u8 {
        match self {
            Message::Hello { .. } => code::HELLO,
            Message::Welcome { .. } => code::WELCOME,
            Message::Abort { .. } => code::ABORT,
            Message::Challenge { .. } => code::CHALLENGE,
            Message::Authenticate { .. } => code::AUTHENTICATE,
            Message::Goodbye { .. } => code::GOODBYE,
            Message::Error { .. } => code::ERROR,
            Message::Publish { .. } => code::PUBLISH,
            Message::Published { .. } => code::PUBLISHED,
            Message::Subscribe { .. } => code::SUBSCRIBE,
            Message::Subscribed { .. } => code::SUBSCRIBED,
            Message::Unsubscribe { .. } => code::UNSUBSCRIBE,
            Message::Unsubscribed { .. } => code::UNSUBSCRIBED,
            Message::Event { .. } => code::EVENT,
            Message::Call { .. } => code::CALL,
            Message::Cancel { .. } => code::CANCEL,
            Message::Result { .. } => code::RESULT,
            Message::Register { .. } => code::REGISTER,
            Message::Registered { .. } => code::REGISTERED,
            Message::Unregister { .. } => code::UNREGISTER,
            Message::Unregistered { .. } => code::UNREGISTERED,
            Message::Invocation { .. } => code::INVOCATION,
            Message::Interrupt { .. } => code::INTERRUPT,
            Message::Yield { .. } => code::YIELD,
        }
    }

    /// The upper-case message name, e.g. `"CALL"`.
    pub fn name(&self) -> &'static str {
        code_name(u64::from(self.code())).unwrap_or("UNKNOWN")
    }
}

#[cfg(test)]
mod tests;

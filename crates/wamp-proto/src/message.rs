//! Typed WAMP v2 messages (basic and advanced profile, the messages a client sends or receives).
//!
//! Payload rule (as Autobahn encodes): when `kwargs` is non-empty, both `args` (possibly `[]`) and
//! `kwargs` go on the wire; else when `args` is non-empty, only `args`; else neither.

use crate::error::ProtocolError;
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

    /// The message as its WAMP list (the generic form every serializer encodes).
    pub fn to_value(&self) -> Value {
        let mut out = Vec::with_capacity(7);
        out.push(Value::from(self.code()));
        self.for_each_field(|f| out.push(f.to_value()));
        Value::List(out)
    }

    /// Visits the fields after the code, in wire order, applying the payload rule.
    fn for_each_field<'a>(&'a self, mut f: impl FnMut(Field<'a>)) {
        use Field::{Dict as D, Id, Str as S};
        match self {
            Message::Hello { realm, details } => {
                f(S(realm));
                f(D(details));
            }
            Message::Welcome { session, details } => {
                f(Id(*session));
                f(D(details));
            }
            Message::Abort { details, reason } | Message::Goodbye { details, reason } => {
                f(D(details));
                f(S(reason));
            }
            Message::Challenge {
                authmethod: s,
                extra,
            }
            | Message::Authenticate {
                signature: s,
                extra,
            } => {
                f(S(s));
                f(D(extra));
            }
            Message::Error {
                request_type,
                request,
                details,
                error,
                args,
                kwargs,
            } => {
                f(Id(u64::from(*request_type)));
                f(Id(*request));
                f(D(details));
                f(S(error));
                payload(args, kwargs, &mut f);
            }
            Message::Publish {
                request,
                options,
                topic: uri,
                args,
                kwargs,
            }
            | Message::Call {
                request,
                options,
                procedure: uri,
                args,
                kwargs,
            } => {
                f(Id(*request));
                f(D(options));
                f(S(uri));
                payload(args, kwargs, &mut f);
            }
            Message::Published {
                request,
                publication: id,
            }
            | Message::Subscribed {
                request,
                subscription: id,
            }
            | Message::Unsubscribe {
                request,
                subscription: id,
            }
            | Message::Registered {
                request,
                registration: id,
            }
            | Message::Unregister {
                request,
                registration: id,
            } => {
                f(Id(*request));
                f(Id(*id));
            }
            Message::Subscribe {
                request,
                options,
                topic: uri,
            }
            | Message::Register {
                request,
                options,
                procedure: uri,
            } => {
                f(Id(*request));
                f(D(options));
                f(S(uri));
            }
            Message::Unsubscribed { request, details }
            | Message::Unregistered { request, details } => {
                f(Id(*request));
                if let Some(d) = details {
                    f(D(d));
                }
            }
            Message::Event {
                subscription: a,
                publication: b,
                details,
                args,
                kwargs,
            }
            | Message::Invocation {
                request: a,
                registration: b,
                details,
                args,
                kwargs,
            } => {
                f(Id(*a));
                f(Id(*b));
                f(D(details));
                payload(args, kwargs, &mut f);
            }
            Message::Cancel { request, options } | Message::Interrupt { request, options } => {
                f(Id(*request));
                f(D(options));
            }
            Message::Result {
                request,
                details: d,
                args,
                kwargs,
            }
            | Message::Yield {
                request,
                options: d,
                args,
                kwargs,
            } => {
                f(Id(*request));
                f(D(d));
                payload(args, kwargs, &mut f);
            }
        }
    }

    /// The wire elements after the code, in order, with the payload rule applied.
    pub(crate) fn fields(&self) -> FieldList<'_> {
        let mut list = FieldList {
            items: [Field::Id(0); 6],
            len: 0,
        };
        self.for_each_field(|f| {
            if let Some(slot) = list.items.get_mut(list.len) {
                *slot = f;
                list.len += 1;
            }
        });
        list
    }

    /// Number of wire elements (including the code) this message encodes to.
    #[cfg(test)]
    pub(crate) fn wire_len(&self) -> usize {
        self.fields().len() + 1
    }

    /// Parses a decoded WAMP list into a typed message, checking arity and element types.
    pub fn from_value(value: Value) -> Result<Message, ProtocolError> {
        let Value::List(items) = value else {
            return Err(ProtocolError::NotAList(value.kind()));
        };
        let mut it = items.into_iter();
        let Some(first) = it.next() else {
            return Err(ProtocolError::EmptyMessage);
        };
        let code = first.as_u64().ok_or(ProtocolError::BadCode(first.kind()))?;
        let name = code_name(code).ok_or(ProtocolError::UnknownCode(code))?;
        let mut r = Reader {
            name,
            items: it,
            pos: 1,
        };
        let msg = match code as u8 {
            code::HELLO => Message::Hello {
                realm: r.uri()?,
                details: r.dict()?,
            },
            code::WELCOME => Message::Welcome {
                session: r.id()?,
                details: r.dict()?,
            },
            code::ABORT => Message::Abort {
                details: r.dict()?,
                reason: r.uri()?,
            },
            code::CHALLENGE => Message::Challenge {
                authmethod: r.string()?,
                extra: r.dict()?,
            },
            code::AUTHENTICATE => Message::Authenticate {
                signature: r.string()?,
                extra: r.dict()?,
            },
            code::GOODBYE => Message::Goodbye {
                details: r.dict()?,
                reason: r.uri()?,
            },
            code::ERROR => {
                let request_type = r.id()?;
                let request_type = u8::try_from(request_type)
                    .ok()
                    .filter(|c| code_name(u64::from(*c)).is_some())
                    .ok_or(ProtocolError::Field {
                        message: name,
                        index: 1,
                        expected: "a message code",
                    })?;
                let request = r.id()?;
                let details = r.dict()?;
                let error = r.uri()?;
                let (args, kwargs) = r.payload()?;
                Message::Error {
                    request_type,
                    request,
                    details,
                    error,
                    args,
                    kwargs,
                }
            }
            code::PUBLISH => {
                let (request, options, topic) = (r.id()?, r.dict()?, r.uri()?);
                let (args, kwargs) = r.payload()?;
                Message::Publish {
                    request,
                    options,
                    topic,
                    args,
                    kwargs,
                }
            }
            code::PUBLISHED => Message::Published {
                request: r.id()?,
                publication: r.id()?,
            },
            code::SUBSCRIBE => Message::Subscribe {
                request: r.id()?,
                options: r.dict()?,
                topic: r.uri()?,
            },
            code::SUBSCRIBED => Message::Subscribed {
                request: r.id()?,
                subscription: r.id()?,
            },
            code::UNSUBSCRIBE => Message::Unsubscribe {
                request: r.id()?,
                subscription: r.id()?,
            },
            code::UNSUBSCRIBED => Message::Unsubscribed {
                request: r.id()?,
                details: r.opt_dict()?,
            },
            code::EVENT => {
                let (subscription, publication, details) = (r.id()?, r.id()?, r.dict()?);
                let (args, kwargs) = r.payload()?;
                Message::Event {
                    subscription,
                    publication,
                    details,
                    args,
                    kwargs,
                }
            }
            code::CALL => {
                let (request, options, procedure) = (r.id()?, r.dict()?, r.uri()?);
                let (args, kwargs) = r.payload()?;
                Message::Call {
                    request,
                    options,
                    procedure,
                    args,
                    kwargs,
                }
            }
            code::CANCEL => Message::Cancel {
                request: r.id()?,
                options: r.dict()?,
            },
            code::RESULT => {
                let (request, details) = (r.id()?, r.dict()?);
                let (args, kwargs) = r.payload()?;
                Message::Result {
                    request,
                    details,
                    args,
                    kwargs,
                }
            }
            code::REGISTER => Message::Register {
                request: r.id()?,
                options: r.dict()?,
                procedure: r.uri()?,
            },
            code::REGISTERED => Message::Registered {
                request: r.id()?,
                registration: r.id()?,
            },
            code::UNREGISTER => Message::Unregister {
                request: r.id()?,
                registration: r.id()?,
            },
            code::UNREGISTERED => Message::Unregistered {
                request: r.id()?,
                details: r.opt_dict()?,
            },
            code::INVOCATION => {
                let (request, registration, details) = (r.id()?, r.id()?, r.dict()?);
                let (args, kwargs) = r.payload()?;
                Message::Invocation {
                    request,
                    registration,
                    details,
                    args,
                    kwargs,
                }
            }
            code::INTERRUPT => Message::Interrupt {
                request: r.id()?,
                options: r.dict()?,
            },
            code::YIELD => {
                let (request, options) = (r.id()?, r.dict()?);
                let (args, kwargs) = r.payload()?;
                Message::Yield {
                    request,
                    options,
                    args,
                    kwargs,
                }
            }
            _ => return Err(ProtocolError::UnknownCode(code)),
        };
        r.finish()?;
        Ok(msg)
    }
}

/// One wire element of a message after its code.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field<'a> {
    /// An id or small integer.
    Id(u64),
    /// A string or URI.
    Str(&'a str),
    /// A dict.
    Dict(&'a Dict),
    /// The positional payload.
    Args(&'a [Value]),
}

impl Field<'_> {
    fn to_value(self) -> Value {
        match self {
            Field::Id(id) => Value::from(id),
            Field::Str(s) => Value::from(s),
            Field::Dict(d) => Value::Dict(d.clone()),
            Field::Args(a) => Value::List(a.to_vec()),
        }
    }
}

/// At most six fields follow the code (ERROR has the most).
pub(crate) struct FieldList<'a> {
    items: [Field<'a>; 6],
    len: usize,
}

impl<'a> FieldList<'a> {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The fields in wire order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Field<'a>> {
        self.items.iter().take(self.len)
    }
}

fn payload<'a>(args: &'a [Value], kwargs: &'a Dict, f: &mut impl FnMut(Field<'a>)) {
    if !kwargs.is_empty() {
        f(Field::Args(args));
        f(Field::Dict(kwargs));
    } else if !args.is_empty() {
        f(Field::Args(args));
    }
}

/// Consumes the elements of a decoded message, producing typed errors with positions.
struct Reader {
    name: &'static str,
    items: std::vec::IntoIter<Value>,
    pos: usize,
}

impl Reader {
    fn next(&mut self, expected: &'static str) -> Result<Value, ProtocolError> {
        let v = self.items.next().ok_or(ProtocolError::MissingField {
            message: self.name,
            index: self.pos,
            expected,
        })?;
        self.pos += 1;
        Ok(v)
    }

    fn err(&self, expected: &'static str) -> ProtocolError {
        ProtocolError::Field {
            message: self.name,
            index: self.pos - 1,
            expected,
        }
    }

    fn id(&mut self) -> Result<u64, ProtocolError> {
        let v = self.next("an id")?;
        v.as_u64()
            .filter(|id| *id <= MAX_ID)
            .ok_or_else(|| self.err("an id (0..=2^53)"))
    }

    fn string(&mut self) -> Result<String, ProtocolError> {
        let v = self.next("a string")?;
        v.into_string().ok_or_else(|| self.err("a string"))
    }

    fn uri(&mut self) -> Result<String, ProtocolError> {
        let v = self.next("a URI")?;
        v.into_string().ok_or_else(|| self.err("a URI string"))
    }

    fn dict(&mut self) -> Result<Dict, ProtocolError> {
        let v = self.next("a dict")?;
        v.into_dict().ok_or_else(|| self.err("a dict"))
    }

    fn opt_dict(&mut self) -> Result<Option<Dict>, ProtocolError> {
        match self.items.next() {
            None => Ok(None),
            Some(v) => {
                self.pos += 1;
                v.into_dict().map(Some).ok_or_else(|| self.err("a dict"))
            }
        }
    }

    fn payload(&mut self) -> Result<(Vec<Value>, Dict), ProtocolError> {
        let args = match self.items.next() {
            None => return Ok((Vec::new(), Dict::new())),
            Some(v) => {
                self.pos += 1;
                v.into_list().ok_or_else(|| self.err("an argument list"))?
            }
        };
        let kwargs = self.opt_dict()?.unwrap_or_default();
        Ok((args, kwargs))
    }

    fn finish(mut self) -> Result<(), ProtocolError> {
        if self.items.next().is_some() {
            return Err(ProtocolError::TrailingFields {
                message: self.name,
                len: self.pos + 1 + self.items.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    #[test]
    fn payload_rule() {
        let call = |args: Vec<Value>, kwargs: Dict| Message::Call {
            request: 1,
            options: Dict::new(),
            procedure: "a.b".into(),
            args,
            kwargs,
        };
        assert_eq!(call(vec![], Dict::new()).wire_len(), 4);
        assert_eq!(call(vec![1.into()], Dict::new()).wire_len(), 5);
        let mut kw = Dict::new();
        kw.insert("k".into(), 1.into());
        let v = call(vec![], kw).to_value();
        assert_eq!(v.as_list().map(<[Value]>::len), Some(6));
        assert_eq!(
            v.as_list().and_then(|l| l.get(4)),
            Some(&Value::List(vec![]))
        );
    }

    #[test]
    fn parse_round_trip_via_value() {
        let m = Message::Event {
            subscription: 5,
            publication: 6,
            details: Dict::new(),
            args: vec![Value::bytes(vec![1, 2])],
            kwargs: Dict::new(),
        };
        assert_eq!(Message::from_value(m.to_value()).expect("parses"), m);
    }

    #[test]
    fn arity_and_type_errors() {
        assert!(matches!(
            Message::from_value(list(vec![])),
            Err(ProtocolError::EmptyMessage)
        ));
        assert!(matches!(
            Message::from_value(list(vec![99.into()])),
            Err(ProtocolError::UnknownCode(99))
        ));
        assert!(matches!(
            Message::from_value(list(vec![2.into(), 1.into()])),
            Err(ProtocolError::MissingField {
                message: "WELCOME",
                index: 2,
                ..
            })
        ));
        assert!(matches!(
            Message::from_value(list(vec![2.into(), "x".into(), Value::Dict(Dict::new())])),
            Err(ProtocolError::Field {
                message: "WELCOME",
                index: 1,
                ..
            })
        ));
        assert!(matches!(
            Message::from_value(list(vec![17.into(), 1.into(), 2.into(), 3.into()])),
            Err(ProtocolError::TrailingFields {
                message: "PUBLISHED",
                len: 4
            })
        ));
        assert!(matches!(
            Message::from_value(list(vec![
                17.into(),
                1.into(),
                Value::from((1u64 << 53) + 1)
            ])),
            Err(ProtocolError::Field { .. })
        ));
        assert!(matches!(
            Message::from_value(Value::Int(1)),
            Err(ProtocolError::NotAList("integer"))
        ));
    }
}

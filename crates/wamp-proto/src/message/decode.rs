//! Decoding: a decoded WAMP list into a typed message, checking arity and element types.

use super::{MAX_ID, Message, code, code_name};
use crate::error::ProtocolError;
use crate::value::{Dict, Value};

impl Message {
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

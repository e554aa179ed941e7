//! Encoding: a message's wire fields (after the code), in order, with the payload rule applied.

use super::Message;
use crate::value::{Dict, Value};

impl Message {
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

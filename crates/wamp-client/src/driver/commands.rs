//! Requests from handles and invocation tasks, handed to the session core.

use tracing::debug;
use wamp_proto::{Dict, Serializer, Value};

use super::{Command, Driver, PendingCall, Step, now, to_proto_cancel_mode};
use crate::error::Error;
use crate::types::YieldOutcome;

impl Driver {
    pub(super) fn on_command(&mut self, cmd: Command) -> Step {
        match cmd {
            Command::Call {
                procedure,
                args,
                kwargs,
                options,
                timeout,
                token,
                reply,
            } => match self
                .session
                .call(now(), &procedure, args, kwargs, options, timeout)
            {
                Ok(request) => {
                    self.call_tokens.insert(token, request);
                    self.calls.insert(request, PendingCall { token, reply });
                }
                Err(e) => reply.fail(Error::Rejected(e)),
            },
            Command::CancelCall { token, mode } => {
                if let Some(&request) = self.call_tokens.get(&token) {
                    debug!(request, mode = mode.as_str(), "cancelling call");
                    if let Err(e) = self.session.cancel(request, to_proto_cancel_mode(mode)) {
                        debug!(error = %e, "cancel refused");
                    }
                }
            }
            Command::Register {
                procedure,
                options,
                handler,
                reply,
            } => match self.session.register(now(), &procedure, options) {
                Ok(request) => {
                    self.registers.insert(request, (procedure, handler, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Unregister {
                registration,
                reply,
            } => match self.session.unregister(now(), registration) {
                Ok(request) => {
                    self.unregisters.insert(request, (registration, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Subscribe {
                topic,
                options,
                sink,
                reply,
            } => match self.session.subscribe(now(), &topic, options) {
                Ok(request) => {
                    self.subscribes.insert(request, (topic, sink, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Unsubscribe {
                subscription,
                local,
                reply,
            } => {
                let Some(entry) = self.subscriptions.get_mut(&subscription) else {
                    let _ = reply.send(Ok(()));
                    return Step::Continue;
                };
                entry.sinks.retain(|(id, _)| *id != local);
                if !entry.sinks.is_empty() {
                    // Other local subscribers share this router subscription.
                    let _ = reply.send(Ok(()));
                    return Step::Continue;
                }
                self.subscriptions.remove(&subscription);
                match self.session.unsubscribe(now(), subscription) {
                    Ok(request) => {
                        self.unsubscribes.insert(request, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Rejected(e)));
                    }
                }
            }
            Command::Publish {
                topic,
                args,
                kwargs,
                options,
                acknowledge,
                reply,
            } => match self.session.publish(now(), &topic, args, kwargs, options) {
                Ok(request) => {
                    if acknowledge {
                        self.publishes.insert(request, reply);
                    } else {
                        let _ = reply.send(Ok(None));
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Rejected(e)));
                }
            },
            Command::Yield {
                invocation,
                outcome,
            } => self.on_yield(invocation, outcome),
            Command::Leave { reason, reply } => {
                if self.leave.is_some() {
                    let _ = reply.send(Ok(()));
                } else {
                    match self.session.leave(now(), &reason) {
                        Ok(()) => self.leave = Some(reply),
                        Err(e) => {
                            let _ = reply.send(Err(Error::Rejected(e)));
                        }
                    }
                }
            }
        }
        Step::Continue
    }

    fn on_yield(&mut self, invocation: u64, outcome: YieldOutcome) {
        let result = match outcome {
            YieldOutcome::Progress(r) => {
                if !self.invocations.contains_key(&invocation) {
                    return; // interrupted or finished
                }
                self.session
                    .yield_result(invocation, r.args, r.kwargs, true)
            }
            YieldOutcome::Final(Ok(r)) => {
                if self.invocations.remove(&invocation).is_none() {
                    return;
                }
                // A result the serializer cannot carry would leave the caller waiting: the
                // session forgets the invocation before the YIELD is encoded. Answer with an
                // error instead.
                match unencodable(self.conn.serializer(), &r.args, &r.kwargs) {
                    None => self
                        .session
                        .yield_result(invocation, r.args, r.kwargs, false),
                    Some(why) => self.session.yield_error(
                        invocation,
                        "wamp.error.invalid_argument",
                        vec![Value::from(format!("result cannot be serialized: {why}"))],
                        Dict::new(),
                    ),
                }
            }
            YieldOutcome::Final(Err(e)) => {
                if self.invocations.remove(&invocation).is_none() {
                    return;
                }
                self.session
                    .yield_error(invocation, &e.uri, e.args, e.kwargs)
            }
        };
        if let Err(e) = result {
            debug!(invocation, error = %e, "yield refused by the session");
        }
    }
}

/// Why a payload cannot be encoded with `serializer`, if it cannot (bignums in MsgPack,
/// non-finite floats in JSON).
fn unencodable(serializer: Serializer, args: &[Value], kwargs: &Dict) -> Option<&'static str> {
    fn walk(serializer: Serializer, v: &Value) -> Option<&'static str> {
        match v {
            Value::BigUInt(_) | Value::BigNegInt(_) if serializer == Serializer::MsgPack => {
                Some("integer beyond the 64-bit range in MsgPack")
            }
            Value::Float(f) if serializer == Serializer::Json && !f.is_finite() => {
                Some("non-finite float in JSON")
            }
            Value::List(items) => items.iter().find_map(|i| walk(serializer, i)),
            Value::Dict(map) => map.values().find_map(|i| walk(serializer, i)),
            _ => None,
        }
    }
    args.iter()
        .chain(kwargs.values())
        .find_map(|v| walk(serializer, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unencodable_payloads_are_found() {
        let big = Value::from_u128(35_000_000_000_000_000_000);
        let nested = vec![Value::List(vec![Value::Dict(Dict::from_iter([(
            "x".to_string(),
            big,
        )]))])];
        assert!(unencodable(Serializer::MsgPack, &nested, &Dict::new()).is_some());
        assert!(unencodable(Serializer::Cbor, &nested, &Dict::new()).is_none());
        assert!(unencodable(Serializer::Json, &nested, &Dict::new()).is_none());
        let nan = Dict::from_iter([("f".to_string(), Value::Float(f64::NAN))]);
        assert!(unencodable(Serializer::Json, &[], &nan).is_some());
        assert!(unencodable(Serializer::Cbor, &[], &nan).is_none());
    }
}

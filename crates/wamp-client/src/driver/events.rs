//! Session events routed to the waiting requests, procedure handlers and subscription sinks.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, trace, warn};
use wamp_proto::message::code;
use wamp_proto::session::{SessionEvent, TimeoutKind};
use wamp_proto::{Dict, Value};

use super::{
    CallReply, Command, Disconnect, Driver, PendingCall, RegistrationEntry, SubscriptionEntry,
};
use crate::error::{Error, TransportError, WampError};
use crate::types::{CallResult, Event, Invocation, InvocationError, YieldOutcome};

impl Driver {
    pub(super) fn dispatch_events(&mut self) -> Option<Disconnect> {
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::CallResult {
                    request,
                    args,
                    kwargs,
                    details,
                    progress,
                } => self.on_call_result(
                    request,
                    CallResult {
                        args,
                        kwargs,
                        details,
                    },
                    progress,
                ),
                SessionEvent::RequestError {
                    request_type,
                    request,
                    error,
                    args,
                    kwargs,
                    details,
                } => {
                    let err = Error::from(WampError {
                        uri: error,
                        args,
                        kwargs,
                        details,
                    });
                    self.on_request_error(request_type, request, err);
                }
                SessionEvent::Registered {
                    request,
                    registration,
                } => {
                    if let Some((procedure, handler, reply)) = self.registers.remove(&request) {
                        self.registrations
                            .insert(registration, RegistrationEntry { procedure, handler });
                        let _ = reply.send(Ok(registration));
                    }
                }
                SessionEvent::Unregistered {
                    request: 0,
                    registration,
                } => {
                    // Revoked by the router: its handler goes; the core refuses later INVOCATIONs.
                    if let Some(entry) = self.registrations.remove(&registration) {
                        warn!(registration, procedure = %entry.procedure, "registration revoked by the router");
                    }
                }
                SessionEvent::Unregistered { request, .. } => {
                    if let Some((registration, reply)) = self.unregisters.remove(&request) {
                        self.registrations.remove(&registration);
                        let _ = reply.send(Ok(()));
                    }
                }
                SessionEvent::Subscribed {
                    request,
                    subscription,
                } => {
                    if let Some((topic, sink, reply)) = self.subscribes.remove(&request) {
                        self.next_local += 1;
                        let local = self.next_local;
                        self.subscriptions
                            .entry(subscription)
                            .or_insert_with(|| SubscriptionEntry {
                                topic,
                                sinks: Vec::new(),
                            })
                            .sinks
                            .push((local, sink));
                        let _ = reply.send(Ok((subscription, local)));
                    }
                }
                SessionEvent::Unsubscribed {
                    request: 0,
                    subscription,
                } => {
                    // Revoked by the router: dropping the sinks ends the handler tasks.
                    if let Some(entry) = self.subscriptions.remove(&subscription) {
                        warn!(subscription, topic = %entry.topic, "subscription revoked by the router");
                    }
                }
                SessionEvent::Unsubscribed { request, .. } => {
                    if let Some(reply) = self.unsubscribes.remove(&request) {
                        let _ = reply.send(Ok(()));
                    }
                }
                SessionEvent::Published {
                    request,
                    publication,
                } => {
                    if let Some(reply) = self.publishes.remove(&request) {
                        let _ = reply.send(Ok(Some(publication)));
                    }
                }
                SessionEvent::Invocation {
                    request,
                    registration,
                    args,
                    kwargs,
                    details,
                } => self.on_invocation(request, registration, args, kwargs, details),
                SessionEvent::Interrupt { request, mode } => {
                    debug!(request, ?mode, "invocation interrupted");
                    if let Some(interrupt) = self.invocations.get_mut(&request) {
                        // Dropping the sender wakes the invocation task, which answers
                        // `wamp.error.canceled`.
                        let (dead, _) = oneshot::channel();
                        drop(std::mem::replace(interrupt, dead));
                    }
                }
                SessionEvent::Event {
                    subscription,
                    publication,
                    args,
                    kwargs,
                    details,
                } => self.on_event(subscription, publication, args, kwargs, details),
                SessionEvent::EventDropped {
                    subscription,
                    publication,
                    reason,
                } => {
                    self.dropped_events.fetch_add(1, Ordering::Relaxed);
                    warn!(subscription, publication, %reason, "event dropped: undecodable payload");
                }
                SessionEvent::RequestTimedOut {
                    request_type,
                    request,
                    after,
                } => {
                    if request_type == code::UNREGISTER
                        && let Some((registration, _)) = self.unregisters.get(&request)
                    {
                        // We asked to remove it: the handler goes now (the core drops the late
                        // UNREGISTERED; crossing invocations get `no_such_registration`).
                        self.registrations.remove(registration);
                    }
                    self.on_request_error(request_type, request, Error::Timeout(after))
                }
                SessionEvent::TimedOut { kind, after } => {
                    return Some(self.on_timed_out(kind, after));
                }
                SessionEvent::Left { reason, .. } => {
                    if let Some(reply) = self.leave.take() {
                        let _ = reply.send(Ok(()));
                        return Some(Disconnect::Left { reason });
                    }
                    return Some(Disconnect::ClosedByRouter { reason });
                }
                SessionEvent::Aborted { reason, .. } => {
                    return Some(Disconnect::ClosedByRouter { reason });
                }
                SessionEvent::Joined { .. } => {}
            }
        }
        None
    }

    /// A deadline of the session passed; the session is closed.
    fn on_timed_out(&mut self, kind: TimeoutKind, after: Duration) -> Disconnect {
        match kind {
            TimeoutKind::Leave => {
                if let Some(reply) = self.leave.take() {
                    let _ = reply.send(Ok(()));
                }
                Disconnect::Left {
                    reason: "wamp.close.normal".into(),
                }
            }
            TimeoutKind::Pong => {
                warn!(timeout = ?after, "no pong: closing the connection");
                Disconnect::Failed(TransportError::PingTimeout(after).into())
            }
            TimeoutKind::Join => Disconnect::Failed(TransportError::ConnectTimeout(after).into()),
        }
    }

    fn on_call_result(&mut self, request: u64, result: CallResult, progress: bool) {
        if progress {
            if let Some(PendingCall {
                reply: CallReply::Progressive(tx),
                ..
            }) = self.calls.get(&request)
            {
                // The last slot is the final item's: a caller this far behind loses the call,
                // not its memory.
                if tx.capacity() > 1 {
                    let _ = tx.try_send(Ok((result, true)));
                } else {
                    self.overflow_progressive(request);
                }
            }
            return;
        }
        if let Some(p) = self.calls.remove(&request) {
            self.call_tokens.remove(&p.token);
            match p.reply {
                CallReply::Once(tx) => {
                    let _ = tx.send(Ok(result));
                }
                CallReply::Progressive(tx) => {
                    let _ = tx.try_send(Ok((result, false)));
                }
            }
        }
    }

    /// A progressive call whose caller fell [`crate::session::PROGRESS_QUEUE`] results behind:
    /// cancelled at the callee, failed with [`Error::Overflow`] at the caller (its last item).
    fn overflow_progressive(&mut self, request: u64) {
        if let Some(p) = self.calls.remove(&request) {
            self.call_tokens.remove(&p.token);
            self.progress_overflows.fetch_add(1, Ordering::Relaxed);
            warn!(
                request,
                "progressive results overflowed; cancelling the call"
            );
            if let Err(e) = self
                .session
                .cancel(request, wamp_proto::session::CancelMode::Kill)
            {
                debug!(error = %e, "cancel refused");
            }
            p.reply.fail(Error::Overflow {
                what: "progressive results",
                limit: crate::session::PROGRESS_QUEUE,
            });
        }
    }

    fn on_request_error(&mut self, request_type: u8, request: u64, err: Error) {
        match request_type {
            code::CALL => {
                if let Some(p) = self.calls.remove(&request) {
                    self.call_tokens.remove(&p.token);
                    p.reply.fail(err);
                }
            }
            code::REGISTER => {
                if let Some((_, _, reply)) = self.registers.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::UNREGISTER => {
                if let Some((_, reply)) = self.unregisters.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::SUBSCRIBE => {
                if let Some((_, _, reply)) = self.subscribes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::UNSUBSCRIBE => {
                if let Some(reply) = self.unsubscribes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            code::PUBLISH => {
                if let Some(reply) = self.publishes.remove(&request) {
                    let _ = reply.send(Err(err));
                }
            }
            other => debug!(
                request_type = other,
                request, "error for unknown request type"
            ),
        }
    }

    fn on_invocation(
        &mut self,
        request: u64,
        registration: u64,
        args: Vec<Value>,
        kwargs: Dict,
        details: Dict,
    ) {
        let Some(entry) = self.registrations.get(&registration) else {
            let _ = self.session.yield_error(
                request,
                "wamp.error.no_such_registration",
                Vec::new(),
                Dict::new(),
            );
            return;
        };
        let Some(tx) = self.self_tx.upgrade() else {
            return;
        };
        if self.invocations.len() >= crate::session::INVOCATIONS_IN_FLIGHT {
            self.refused_invocations.fetch_add(1, Ordering::Relaxed);
            debug!(request, "too many invocations running; refused");
            let _ = self.session.yield_error(
                request,
                "wamp.error.unavailable",
                vec![Value::from("callee busy: too many invocations running")],
                Dict::new(),
            );
            return;
        }
        let procedure = details
            .get("procedure")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| entry.procedure.clone());
        let receive_progress = details
            .get("receive_progress")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let invocation = Invocation {
            request,
            registration,
            procedure,
            args,
            kwargs,
            details,
            progress: receive_progress.then(|| tx.clone()),
        };
        let (interrupt_tx, interrupt_rx) = oneshot::channel::<()>();
        self.invocations.insert(request, interrupt_tx);
        let handler = entry.handler.clone();
        let span = tracing::debug_span!("invocation", request, procedure = %invocation.procedure);
        tokio::spawn(
            async move {
                let outcome = tokio::select! {
                    result = handler(invocation) => result,
                    _ = interrupt_rx => Err(InvocationError::new(InvocationError::CANCELED)),
                };
                let _ = tx
                    .send(Command::Yield {
                        invocation: request,
                        outcome: YieldOutcome::Final(outcome),
                    })
                    .await;
            }
            .instrument(span),
        );
    }

    fn on_event(
        &mut self,
        subscription: u64,
        publication: u64,
        args: Vec<Value>,
        kwargs: Dict,
        details: Dict,
    ) {
        let Some(entry) = self.subscriptions.get_mut(&subscription) else {
            trace!(subscription, "event for a subscription we no longer have");
            return;
        };
        let topic = details
            .get("topic")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| entry.topic.clone());
        let event = Event {
            subscription,
            publication,
            topic,
            args,
            kwargs,
            details,
        };
        // Never wait on a slow handler (it may itself call through the driver): a full queue sheds
        // the event and counts it, so a flood from any publisher cannot grow memory.
        let dropped = &self.dropped_events;
        entry
            .sinks
            .retain(|(_, sink)| match sink.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    warn!(
                        subscription,
                        publication, "event dropped: subscription queue full"
                    );
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
    }
}

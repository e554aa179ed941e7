//! Received messages in an established session: answers to our requests, invocations, events,
//! revocations and the router's GOODBYE / ABORT.

use super::{
    GOODBYE_AND_OUT, Pending, PendingRequest, Session, SessionError, SessionEvent, not_pending,
    unexpected, unexpected_name,
};
use crate::message::{Message, code};
use crate::value::{Dict, Value};

impl Session {
    pub(super) fn handle_established(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Goodbye { details, reason } => {
                self.outgoing.push_back(Message::Goodbye {
                    details: Dict::new(),
                    reason: GOODBYE_AND_OUT.into(),
                });
                self.end(SessionEvent::Left { reason, details });
                Ok(())
            }
            Message::Abort { details, reason } => {
                self.end(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            Message::Result {
                request,
                details,
                args,
                kwargs,
            } => {
                let Some(timed_out) = self.pending_of(request, code::CALL).map(|p| p.timed_out)
                else {
                    return Err(self.violation(not_pending("RESULT", request)));
                };
                let progress = details
                    .get("progress")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !progress {
                    self.finish(request);
                }
                if !timed_out {
                    self.events.push_back(SessionEvent::CallResult {
                        request,
                        args,
                        kwargs,
                        details,
                        progress,
                    });
                }
                Ok(())
            }
            Message::Error {
                request_type,
                request,
                details,
                error,
                args,
                kwargs,
            } => {
                self.check_error_pending(request_type, request)?;
                if self.finish(request).is_some_and(|p| !p.timed_out) {
                    self.events.push_back(SessionEvent::RequestError {
                        request_type,
                        request,
                        error,
                        args,
                        kwargs,
                        details,
                    });
                }
                Ok(())
            }
            Message::Registered {
                request,
                registration,
            } => match self.take_pending(request, code::REGISTER) {
                Some(PendingRequest {
                    kind: Pending::Register { procedure },
                    timed_out,
                    ..
                }) => {
                    self.registrations.insert(registration, procedure);
                    if timed_out {
                        // Nobody waits for it any more: undo it at the router.
                        self.undo(Pending::Unregister { registration });
                    } else {
                        self.events.push_back(SessionEvent::Registered {
                            request,
                            registration,
                        });
                    }
                    Ok(())
                }
                _ => Err(self.violation(not_pending("REGISTERED", request))),
            },
            Message::Unregistered {
                request: 0,
                details,
            } => match revoked_id(details.as_ref(), "registration") {
                Some(registration) => {
                    self.registrations.remove(&registration);
                    self.events.push_back(SessionEvent::Unregistered {
                        request: 0,
                        registration,
                    });
                    Ok(())
                }
                None => Err(self.violation(unexpected_name(
                    "UNREGISTERED",
                    "for request 0 without a registration",
                ))),
            },
            Message::Unregistered { request, .. } => {
                match self.take_pending(request, code::UNREGISTER) {
                    Some(PendingRequest {
                        kind: Pending::Unregister { registration },
                        timed_out,
                        ..
                    }) => {
                        self.registrations.remove(&registration);
                        if !timed_out {
                            self.events.push_back(SessionEvent::Unregistered {
                                request,
                                registration,
                            });
                        }
                        Ok(())
                    }
                    _ => Err(self.violation(not_pending("UNREGISTERED", request))),
                }
            }
            Message::Subscribed {
                request,
                subscription,
            } => match self.take_pending(request, code::SUBSCRIBE) {
                Some(PendingRequest {
                    kind: Pending::Subscribe { topic },
                    timed_out,
                    ..
                }) => {
                    self.subscriptions.insert(subscription, topic);
                    if timed_out {
                        self.undo(Pending::Unsubscribe { subscription });
                    } else {
                        self.events.push_back(SessionEvent::Subscribed {
                            request,
                            subscription,
                        });
                    }
                    Ok(())
                }
                _ => Err(self.violation(not_pending("SUBSCRIBED", request))),
            },
            Message::Unsubscribed {
                request: 0,
                details,
            } => match revoked_id(details.as_ref(), "subscription") {
                Some(subscription) => {
                    self.subscriptions.remove(&subscription);
                    self.events.push_back(SessionEvent::Unsubscribed {
                        request: 0,
                        subscription,
                    });
                    Ok(())
                }
                None => Err(self.violation(unexpected_name(
                    "UNSUBSCRIBED",
                    "for request 0 without a subscription",
                ))),
            },
            Message::Unsubscribed { request, .. } => {
                match self.take_pending(request, code::UNSUBSCRIBE) {
                    Some(PendingRequest {
                        kind: Pending::Unsubscribe { subscription },
                        timed_out,
                        ..
                    }) => {
                        self.subscriptions.remove(&subscription);
                        if !timed_out {
                            self.events.push_back(SessionEvent::Unsubscribed {
                                request,
                                subscription,
                            });
                        }
                        Ok(())
                    }
                    _ => Err(self.violation(not_pending("UNSUBSCRIBED", request))),
                }
            }
            Message::Published {
                request,
                publication,
            } => match self.take_pending(request, code::PUBLISH) {
                Some(p) => {
                    if !p.timed_out {
                        self.events.push_back(SessionEvent::Published {
                            request,
                            publication,
                        });
                    }
                    Ok(())
                }
                None => Err(self.violation(not_pending("PUBLISHED", request))),
            },
            Message::Event {
                subscription,
                publication,
                details,
                args,
                kwargs,
            } => {
                self.check_subscription(subscription)?;
                self.events.push_back(SessionEvent::Event {
                    subscription,
                    publication,
                    args,
                    kwargs,
                    details,
                });
                Ok(())
            }
            Message::Invocation {
                request,
                registration,
                details,
                args,
                kwargs,
            } => {
                self.check_invocation(request, registration)?;
                let progress = details
                    .get("receive_progress")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                self.invocations.insert(request, progress);
                self.events.push_back(SessionEvent::Invocation {
                    request,
                    registration,
                    args,
                    kwargs,
                    details,
                });
                Ok(())
            }
            Message::Interrupt { request, options } => {
                if self.invocations.contains_key(&request) {
                    let mode = options
                        .get("mode")
                        .and_then(Value::as_str)
                        .unwrap_or("kill")
                        .to_owned();
                    self.events
                        .push_back(SessionEvent::Interrupt { request, mode });
                }
                Ok(())
            }
            other => Err(self.violation(unexpected(&other, "in an established session"))),
        }
    }

    /// A violation unless `request` is pending with type `request_type` (for an ERROR).
    pub(super) fn check_error_pending(
        &mut self,
        request_type: u8,
        request: u64,
    ) -> Result<(), SessionError> {
        if self.pending_of(request, request_type).is_some() {
            return Ok(());
        }
        let what = format!("for request {request} of type {request_type}, which is not pending");
        Err(self.violation(unexpected_name("ERROR", what)))
    }

    /// A violation unless the subscription is in place (for an EVENT).
    pub(super) fn check_subscription(&mut self, subscription: u64) -> Result<(), SessionError> {
        if self.subscriptions.contains_key(&subscription) {
            return Ok(());
        }
        let what = format!("for unknown subscription {subscription}");
        Err(self.violation(unexpected_name("EVENT", what)))
    }

    /// A violation unless the registration is in place and the invocation id is not pending.
    pub(super) fn check_invocation(
        &mut self,
        request: u64,
        registration: u64,
    ) -> Result<(), SessionError> {
        let what = if !self.registrations.contains_key(&registration) {
            format!("for unknown registration {registration}")
        } else if self.invocations.contains_key(&request) {
            format!("reusing pending invocation id {request}")
        } else {
            return Ok(());
        };
        Err(self.violation(unexpected_name("INVOCATION", what)))
    }

    /// The pending request `request` if it is of the given type.
    pub(super) fn pending_of(&self, request: u64, request_type: u8) -> Option<&PendingRequest> {
        self.pending
            .get(&request)
            .filter(|p| p.kind.request_type() == request_type)
    }

    /// Removes the pending request if it is of the given type (and its timer).
    fn take_pending(&mut self, request: u64, request_type: u8) -> Option<PendingRequest> {
        self.pending_of(request, request_type)?;
        self.finish(request)
    }

    /// Sends the request that undoes a registration / subscription the router granted after
    /// we stopped waiting; its answer is dropped (it is already marked timed out).
    fn undo(&mut self, kind: Pending) {
        let request = self.next_request();
        let message = match kind {
            Pending::Unregister { registration } => Message::Unregister {
                request,
                registration,
            },
            Pending::Unsubscribe { subscription } => Message::Unsubscribe {
                request,
                subscription,
            },
            _ => return,
        };
        self.pending.insert(
            request,
            PendingRequest {
                kind,
                timer: None,
                timed_out: true,
            },
        );
        self.outgoing.push_back(message);
    }
}

/// The id a router-initiated UNSUBSCRIBED / UNREGISTERED names in its details.
fn revoked_id(details: Option<&Dict>, key: &str) -> Option<u64> {
    details?.get(key).and_then(Value::as_u64)
}

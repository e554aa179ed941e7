//! Received messages whose envelope decoded but whose payload did not
//! ([`crate::codec::PayloadError`]): only that message fails, the session stays up.
//!
//! * EVENT: dropped and reported as [`SessionEvent::EventDropped`] (the driver counts it);
//! * RESULT / ERROR of a pending request: the request fails with [`INVALID_PAYLOAD`] (a
//!   progressive call is cancelled and its later results dropped);
//! * INVOCATION: answered with ERROR [`INVALID_ARGUMENT`].
//!
//! Ids that are unknown remain protocol violations, as for messages that decode.

use super::{Pending, Session, SessionError, SessionEvent, SessionState};
use crate::codec::{Envelope, PayloadError, Serializer};
use crate::error::ProtocolError;
use crate::message::{Message, code};
use crate::value::{Dict, Value};

/// Error URI a request fails with when the router's answer cannot be decoded.
pub const INVALID_PAYLOAD: &str = "wamp.error.invalid_payload";
/// Error URI we answer an undecodable INVOCATION with.
pub const INVALID_ARGUMENT: &str = "wamp.error.invalid_argument";

impl Session {
    pub(super) fn handle_bad_payload(
        &mut self,
        serializer: Serializer,
        err: PayloadError,
    ) -> Result<(), SessionError> {
        let undecodable = || ProtocolError::Decode {
            serializer: serializer.name(),
            reason: err.to_string(),
        };
        match self.state {
            SessionState::Established => {}
            // Answers and events already in flight when we said GOODBYE.
            SessionState::Closing => return Ok(()),
            // As for any message while closed: refused, nothing sent.
            SessionState::Closed => return Err(SessionError::Protocol(undecodable())),
            SessionState::Establishing | SessionState::Challenging => {
                return Err(self.violation(undecodable()));
            }
        }
        let reason = err.to_string();
        match err.envelope {
            Envelope::Event {
                subscription,
                publication,
            } => {
                self.check_subscription(subscription)?;
                self.events.push_back(SessionEvent::EventDropped {
                    subscription,
                    publication,
                    reason,
                });
            }
            Envelope::Result { request, progress } => {
                if self.pending_of(request, code::CALL).is_none() {
                    return Err(self.violation(super::not_pending("RESULT", request)));
                }
                if progress {
                    self.abandon_call(request, reason);
                } else {
                    self.fail_request(code::CALL, request, reason);
                }
            }
            Envelope::Error {
                request_type,
                request,
            } => {
                self.check_error_pending(request_type, request)?;
                self.fail_request(request_type, request, reason);
            }
            Envelope::Invocation {
                request,
                registration,
            } => {
                self.check_invocation(request, registration)?;
                self.outgoing.push_back(Message::Error {
                    request_type: code::INVOCATION,
                    request,
                    details: Dict::new(),
                    error: INVALID_ARGUMENT.into(),
                    args: vec![Value::from(reason)],
                    kwargs: Dict::new(),
                });
            }
        }
        Ok(())
    }

    /// Ends a pending request with [`INVALID_PAYLOAD`] (unless nobody waits for it any more).
    fn fail_request(&mut self, request_type: u8, request: u64, reason: String) {
        if self.finish(request).is_some_and(|p| !p.timed_out) {
            self.events
                .push_back(invalid_payload(request_type, request, reason));
        }
    }

    /// A progressive result we cannot decode: the call fails now, is cancelled at the router,
    /// and its later results are dropped until the final one frees the request id.
    fn abandon_call(&mut self, request: u64, reason: String) {
        let Some(p) = self.pending.get_mut(&request) else {
            return;
        };
        if p.timed_out {
            return;
        }
        p.timed_out = true;
        let timer = p.timer.take();
        let cancel = match p.kind {
            Pending::Call { cancel } => cancel,
            _ => return,
        };
        if let Some((at, _)) = timer {
            self.timers.remove_request(at, request);
        }
        self.queue_cancel(request, cancel);
        self.events
            .push_back(invalid_payload(code::CALL, request, reason));
    }
}

fn invalid_payload(request_type: u8, request: u64, reason: String) -> SessionEvent {
    SessionEvent::RequestError {
        request_type,
        request,
        error: INVALID_PAYLOAD.into(),
        args: vec![Value::from(reason)],
        kwargs: Dict::new(),
        details: Dict::new(),
    }
}

//! What we send in an established session: requests (each with its deadline), yields and
//! GOODBYE.

use std::time::{Duration, Instant};

use super::{
    CallTimeout, CancelMode, Pending, PendingRequest, Session, SessionError, SessionState,
};
use crate::message::{Message, code};
use crate::uri::{UriMatch, check_uri};
use crate::value::{Dict, Value};

impl Session {
    /// Calls a procedure at `now`; returns the request id. The call expires after `timeout`
    /// (or [`super::Timeouts::call`], cancelling with `kill`); `None` for both waits forever.
    pub fn call(
        &mut self,
        now: Instant,
        procedure: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
        timeout: Option<CallTimeout>,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "call")?;
        check_uri(procedure, self.config.strict_uris, UriMatch::Exact)?;
        let timeout = timeout.or_else(|| {
            self.config.timeouts.call.map(|after| CallTimeout {
                after,
                cancel: CancelMode::Kill,
            })
        });
        let cancel = timeout.map_or(CancelMode::Kill, |t| t.cancel);
        let request = self.next_request();
        self.insert_pending(
            now,
            request,
            Pending::Call { cancel },
            timeout.map(|t| t.after),
        );
        self.outgoing.push_back(Message::Call {
            request,
            options,
            procedure: procedure.to_owned(),
            args,
            kwargs,
        });
        Ok(request)
    }

    /// Cancels a pending call. The call stays pending until the router's ERROR (or RESULT).
    /// A call that already timed out was cancelled then: [`SessionError::NoSuchCall`].
    pub fn cancel(&mut self, request: u64, mode: CancelMode) -> Result<(), SessionError> {
        self.require(SessionState::Established, "cancel")?;
        match self.pending.get(&request) {
            Some(p) if matches!(p.kind, Pending::Call { .. }) && !p.timed_out => {}
            _ => return Err(SessionError::NoSuchCall(request)),
        }
        self.queue_cancel(request, mode);
        Ok(())
    }

    /// Registers a procedure (or pattern, per `options.match`) at `now`; returns the request id.
    pub fn register(
        &mut self,
        now: Instant,
        procedure: &str,
        options: Dict,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "register")?;
        check_uri(
            procedure,
            self.config.strict_uris,
            UriMatch::from_options(&options)?,
        )?;
        let request = self.next_request();
        let kind = Pending::Register {
            procedure: procedure.to_owned(),
        };
        self.insert_pending(now, request, kind, self.config.timeouts.request);
        self.outgoing.push_back(Message::Register {
            request,
            options,
            procedure: procedure.to_owned(),
        });
        Ok(request)
    }

    /// Unregisters at `now`; returns the request id.
    pub fn unregister(&mut self, now: Instant, registration: u64) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "unregister")?;
        if !self.registrations.contains_key(&registration) || self.unregistering(registration) {
            return Err(SessionError::NoSuchRegistration(registration));
        }
        let request = self.next_request();
        let kind = Pending::Unregister { registration };
        self.insert_pending(now, request, kind, self.config.timeouts.request);
        self.outgoing.push_back(Message::Unregister {
            request,
            registration,
        });
        Ok(request)
    }

    /// Subscribes to a topic (or pattern, per `options.match`) at `now`; returns the request id.
    pub fn subscribe(
        &mut self,
        now: Instant,
        topic: &str,
        options: Dict,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "subscribe")?;
        check_uri(
            topic,
            self.config.strict_uris,
            UriMatch::from_options(&options)?,
        )?;
        let request = self.next_request();
        let kind = Pending::Subscribe {
            topic: topic.to_owned(),
        };
        self.insert_pending(now, request, kind, self.config.timeouts.request);
        self.outgoing.push_back(Message::Subscribe {
            request,
            options,
            topic: topic.to_owned(),
        });
        Ok(request)
    }

    /// Unsubscribes at `now`; returns the request id.
    pub fn unsubscribe(&mut self, now: Instant, subscription: u64) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "unsubscribe")?;
        if !self.subscriptions.contains_key(&subscription) || self.unsubscribing(subscription) {
            return Err(SessionError::NoSuchSubscription(subscription));
        }
        let request = self.next_request();
        let kind = Pending::Unsubscribe { subscription };
        self.insert_pending(now, request, kind, self.config.timeouts.request);
        self.outgoing.push_back(Message::Unsubscribe {
            request,
            subscription,
        });
        Ok(request)
    }

    /// Publishes at `now`; returns the request id. With `options.acknowledge = true` a
    /// [`super::SessionEvent::Published`] (or a `RequestError`, or a `RequestTimedOut` after
    /// [`super::Timeouts::request`]) follows; otherwise nothing does.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        args: Vec<Value>,
        kwargs: Dict,
        options: Dict,
    ) -> Result<u64, SessionError> {
        self.require(SessionState::Established, "publish")?;
        check_uri(topic, self.config.strict_uris, UriMatch::Exact)?;
        let request = self.next_request();
        if options
            .get("acknowledge")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            self.insert_pending(now, request, Pending::Publish, self.config.timeouts.request);
        }
        self.outgoing.push_back(Message::Publish {
            request,
            options,
            topic: topic.to_owned(),
            args,
            kwargs,
        });
        Ok(request)
    }

    /// Answers an invocation with a result; `progress` sends a progressive (intermediate) result
    /// and keeps the invocation pending (allowed only when the caller asked for progress).
    pub fn yield_result(
        &mut self,
        invocation: u64,
        args: Vec<Value>,
        kwargs: Dict,
        progress: bool,
    ) -> Result<(), SessionError> {
        self.require(SessionState::Established, "yield")?;
        let receive_progress = *self
            .invocations
            .get(&invocation)
            .ok_or(SessionError::NoSuchInvocation(invocation))?;
        let mut options = Dict::new();
        if progress {
            if !receive_progress {
                return Err(SessionError::ProgressNotRequested(invocation));
            }
            options.insert("progress".into(), Value::Bool(true));
        } else {
            self.invocations.remove(&invocation);
        }
        self.outgoing.push_back(Message::Yield {
            request: invocation,
            options,
            args,
            kwargs,
        });
        Ok(())
    }

    /// Answers an invocation with an error URI and payload.
    pub fn yield_error(
        &mut self,
        invocation: u64,
        error: &str,
        args: Vec<Value>,
        kwargs: Dict,
    ) -> Result<(), SessionError> {
        self.require(SessionState::Established, "yield an error")?;
        if !self.invocations.contains_key(&invocation) {
            return Err(SessionError::NoSuchInvocation(invocation));
        }
        check_uri(error, false, UriMatch::Exact)?;
        self.invocations.remove(&invocation);
        self.outgoing.push_back(Message::Error {
            request_type: code::INVOCATION,
            request: invocation,
            details: Dict::new(),
            error: error.to_owned(),
            args,
            kwargs,
        });
        Ok(())
    }

    /// Leaves the realm at `now`: queues GOODBYE; the session is closed after the router's
    /// GOODBYE ([`super::SessionEvent::Left`]) or after [`super::Timeouts::leave`]
    /// ([`super::SessionEvent::TimedOut`] with [`super::TimeoutKind::Leave`]).
    pub fn leave(&mut self, now: Instant, reason: &str) -> Result<(), SessionError> {
        self.require(SessionState::Established, "leave")?;
        check_uri(reason, false, UriMatch::Exact)?;
        self.outgoing.push_back(Message::Goodbye {
            details: Dict::new(),
            reason: reason.to_owned(),
        });
        self.state = SessionState::Closing;
        self.timers.start_leave(now, self.config.timeouts.leave);
        Ok(())
    }

    /// Forgets a pending request and its deadline: the driver could not send it (e.g. it does
    /// not encode). Unknown ids are ignored.
    pub fn abandon(&mut self, request: u64) {
        self.finish(request);
    }

    /// Records a pending request and, with a `timeout`, its deadline.
    fn insert_pending(
        &mut self,
        now: Instant,
        request: u64,
        kind: Pending,
        timeout: Option<Duration>,
    ) {
        let timer = timeout.and_then(|t| Some((now.checked_add(t)?, t)));
        if let Some((at, _)) = timer {
            self.timers.add_request(at, request);
        }
        self.pending.insert(
            request,
            PendingRequest {
                kind,
                timer,
                timed_out: false,
            },
        );
    }

    /// Removes a pending request and its deadline.
    pub(super) fn finish(&mut self, request: u64) -> Option<PendingRequest> {
        let p = self.pending.remove(&request)?;
        if let Some((at, _)) = p.timer {
            self.timers.remove_request(at, request);
        }
        Some(p)
    }

    pub(super) fn queue_cancel(&mut self, request: u64, mode: CancelMode) {
        let options = Dict::from_iter([("mode".to_owned(), Value::from(mode.as_str()))]);
        self.outgoing
            .push_back(Message::Cancel { request, options });
    }

    fn unsubscribing(&self, subscription: u64) -> bool {
        self.pending
            .values()
            .any(|p| p.kind == Pending::Unsubscribe { subscription })
    }

    fn unregistering(&self, registration: u64) -> bool {
        self.pending
            .values()
            .any(|p| p.kind == Pending::Unregister { registration })
    }
}

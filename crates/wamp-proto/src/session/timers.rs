//! Every deadline of a session, in one place: request timeouts ordered by deadline, the join and
//! leave deadlines, and auto-ping. Time is only ever passed in.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{Pending, PingTimeouts, Session, SessionEvent, SessionState, TimeoutKind, Timeouts};

/// The session's deadlines.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// Request deadlines, earliest first.
    requests: BTreeSet<(Instant, u64)>,
    join: Option<(Instant, Duration)>,
    leave: Option<(Instant, Duration)>,
    ping: Option<PingTimeouts>,
    next_ping: Option<Instant>,
    /// The ping whose pong is awaited, and until when.
    pong: Option<(Instant, u64)>,
    /// Number of the last ping; its payload is this number, big-endian.
    ping_counter: u64,
    /// A ping for the driver to send.
    ping_due: Option<u64>,
}

impl Timers {
    pub(super) fn start_join(&mut self, now: Instant, timeouts: &Timeouts) {
        self.join = timeouts.join.and_then(|t| Some((now.checked_add(t)?, t)));
        self.ping = timeouts.ping;
        self.next_ping = timeouts.ping.and_then(|p| now.checked_add(p.interval));
    }

    pub(super) fn joined(&mut self) {
        self.join = None;
    }

    pub(super) fn start_leave(&mut self, now: Instant, timeout: Duration) {
        self.leave = now.checked_add(timeout).map(|at| (at, timeout));
    }

    pub(super) fn add_request(&mut self, at: Instant, request: u64) {
        self.requests.insert((at, request));
    }

    pub(super) fn remove_request(&mut self, at: Instant, request: u64) {
        self.requests.remove(&(at, request));
    }

    /// Forgets every deadline (the session closed); the ping counter goes on.
    pub(super) fn clear(&mut self) {
        *self = Timers {
            ping_counter: self.ping_counter,
            ..Timers::default()
        };
    }

    fn next(&self) -> Option<Instant> {
        [
            self.requests.first().map(|(at, _)| *at),
            self.join.map(|(at, _)| at),
            self.leave.map(|(at, _)| at),
            self.next_ping,
            self.pong.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Whether `deadline` has come at `now`.
fn due(deadline: Option<(Instant, Duration)>, now: Instant) -> Option<Duration> {
    deadline
        .filter(|(at, _)| now >= *at)
        .map(|(_, after)| after)
}

impl Session {
    /// The earliest deadline, if any: the driver calls [`Session::handle_timeout`] once it has
    /// passed. Changes after every call that starts or ends a request.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Handles every deadline that has passed at `now`: expired requests are reported as
    /// [`SessionEvent::RequestTimedOut`] (calls also queue their CANCEL); a passed join, leave or
    /// pong deadline closes the session with [`SessionEvent::TimedOut`]; a due auto-ping is
    /// queued for [`Session::poll_ping`]. Calling it early does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        // A leave that timed out is still a leave, even if a pong is overdue too.
        let session_deadline = [
            (TimeoutKind::Leave, self.timers.leave),
            (TimeoutKind::Join, self.timers.join),
            (
                TimeoutKind::Pong,
                self.timers
                    .pong
                    .zip(self.timers.ping)
                    .map(|((at, _), p)| (at, p.timeout)),
            ),
        ]
        .into_iter()
        .find_map(|(kind, deadline)| due(deadline, now).map(|after| (kind, after)));
        if let Some((kind, after)) = session_deadline {
            self.end(SessionEvent::TimedOut { kind, after });
            return;
        }
        while let Some(&(at, request)) = self.timers.requests.first() {
            if at > now {
                break;
            }
            self.timers.requests.pop_first();
            self.expire(request);
        }
        if let (Some(ping), Some(at)) = (self.timers.ping, self.timers.next_ping)
            && now >= at
        {
            // Only while established, and never while a pong is still awaited.
            if self.state == SessionState::Established && self.timers.pong.is_none() {
                self.timers.ping_counter += 1;
                let n = self.timers.ping_counter;
                self.timers.ping_due = Some(n);
                self.timers.pong = now.checked_add(ping.timeout).map(|at| (at, n));
            }
            self.timers.next_ping = now.checked_add(ping.interval);
        }
    }

    /// The payload of an auto-ping to send now, if one is due (see [`PingTimeouts`]).
    pub fn poll_ping(&mut self) -> Option<[u8; 8]> {
        self.timers.ping_due.take().map(u64::to_be_bytes)
    }

    /// A pong arrived; the one answering our latest ping ends its deadline (others are ignored).
    pub fn handle_pong(&mut self, payload: &[u8]) {
        if let Some((_, n)) = self.timers.pong
            && payload == n.to_be_bytes()
        {
            self.timers.pong = None;
        }
    }

    /// A request's deadline passed: report it (and cancel a call); the request id stays taken
    /// until the router's late answer, which is dropped.
    fn expire(&mut self, request: u64) {
        let Some(p) = self.pending.get_mut(&request) else {
            return;
        };
        let Some((_, after)) = p.timer.take() else {
            return;
        };
        p.timed_out = true;
        let request_type = p.kind.request_type();
        if let Pending::Call { cancel } = p.kind
            && self.state == SessionState::Established
        {
            self.queue_cancel(request, cancel);
        }
        self.events.push_back(SessionEvent::RequestTimedOut {
            request_type,
            request,
            after,
        });
    }
}

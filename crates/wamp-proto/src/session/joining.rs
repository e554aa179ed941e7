//! Received messages while joining (HELLO sent) and while closing (our GOODBYE sent).

use super::{Session, SessionError, SessionEvent, SessionState, unexpected, unexpected_name};
use crate::message::Message;

impl Session {
    pub(super) fn handle_joining(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Welcome { session, details } => {
                if let Some(attempt) = &self.attempt
                    && let Err(e) = attempt.on_welcome(&details)
                {
                    return Err(self.auth_failure(e));
                }
                self.attempt = None;
                self.timers.joined();
                self.state = SessionState::Established;
                self.session_id = Some(session);
                self.events.push_back(SessionEvent::Joined {
                    session_id: session,
                    details,
                });
                Ok(())
            }
            Message::Challenge { authmethod, extra }
                if self.state == SessionState::Establishing =>
            {
                let answer = match self.attempt.as_mut() {
                    Some(attempt) => attempt.on_challenge(&authmethod, &extra),
                    None => {
                        return Err(
                            self.violation(unexpected_name("CHALLENGE", "without an auth attempt"))
                        );
                    }
                };
                match answer {
                    Ok((signature, extra)) => {
                        self.outgoing
                            .push_back(Message::Authenticate { signature, extra });
                        self.state = SessionState::Challenging;
                        Ok(())
                    }
                    Err(e) => Err(self.auth_failure(e)),
                }
            }
            Message::Abort { details, reason } => {
                self.end(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            other => {
                let context = format!("while the session is {}", self.state);
                Err(self.violation(unexpected(&other, context)))
            }
        }
    }

    pub(super) fn handle_closing(&mut self, msg: Message) -> Result<(), SessionError> {
        match msg {
            Message::Goodbye { details, reason } => {
                self.end(SessionEvent::Left { reason, details });
                Ok(())
            }
            Message::Abort { details, reason } => {
                self.end(SessionEvent::Aborted { reason, details });
                Ok(())
            }
            // Results, events and invocations already in flight when we said GOODBYE.
            Message::Result { .. }
            | Message::Error { .. }
            | Message::Published { .. }
            | Message::Subscribed { .. }
            | Message::Unsubscribed { .. }
            | Message::Registered { .. }
            | Message::Unregistered { .. }
            | Message::Event { .. }
            | Message::Invocation { .. }
            | Message::Interrupt { .. } => Ok(()),
            other => Err(self.violation(unexpected(&other, "while closing"))),
        }
    }
}

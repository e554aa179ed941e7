//! Connecting and joining: the transport, then HELLO to WELCOME with the session core keeping the
//! join deadline (the transport's connect timeout).

use std::sync::Arc;

use tracing::trace;
use wamp_proto::Dict;
use wamp_proto::session::{
    PingTimeouts, Session as ProtoSession, SessionConfig, SessionEvent, TimeoutKind,
};

use super::{SessionInfo, now, random_nonce, sleep_until_opt};
use crate::error::{Error, JoinError, TransportError, is_auth_failure};
use crate::transport::{self, Connection, Incoming, TransportConfig};

/// A connection on which the session is joined, ready to be driven.
pub(crate) struct Joined {
    pub(crate) info: Arc<SessionInfo>,
    pub(super) conn: Connection,
    pub(super) session: ProtoSession,
}

/// Connects the transport and joins the realm (within the transport's connect timeout for the
/// connection and again for the join).
pub(crate) async fn connect_and_join(
    transport_config: &TransportConfig,
    session_config: SessionConfig,
) -> Result<Joined, Error> {
    let conn = transport::connect(transport_config).await?;
    join_on(conn, transport_config, session_config).await
}

/// Joins the realm on a connected transport, within the session's join timeout (the transport's
/// connect timeout unless set). The transport's auto-ping, when on, becomes the session's.
pub(crate) async fn join_on(
    mut conn: Connection,
    transport_config: &TransportConfig,
    mut session_config: SessionConfig,
) -> Result<Joined, Error> {
    let realm = session_config.realm.clone();
    let timeouts = &mut session_config.timeouts;
    timeouts
        .join
        .get_or_insert(transport_config.connect_timeout);
    if let Some(interval) = transport_config.auto_ping_interval {
        timeouts.ping = Some(PingTimeouts {
            interval,
            timeout: transport_config.auto_ping_timeout,
        });
    }
    let mut session = ProtoSession::new(session_config);
    let (session_id, details) = match join(&mut conn, &mut session).await {
        Ok(ok) => ok,
        Err(e) => {
            let _ = conn.close().await;
            return Err(e);
        }
    };
    let info = Arc::new(SessionInfo {
        session_id,
        realm,
        details,
        serializer: conn.serializer(),
        url: transport_config.url.clone(),
    });
    Ok(Joined {
        info,
        conn,
        session,
    })
}

async fn join(conn: &mut Connection, session: &mut ProtoSession) -> Result<(u64, Dict), Error> {
    session
        .join(now(), random_nonce())
        .map_err(Error::Rejected)?;
    loop {
        flush_outgoing(conn, session).await?;
        while let Some(event) = session.poll_event() {
            match event {
                SessionEvent::Joined {
                    session_id,
                    details,
                } => return Ok((session_id, details)),
                SessionEvent::Aborted { reason, details } => return Err(aborted(reason, details)),
                SessionEvent::TimedOut {
                    kind: TimeoutKind::Join,
                    after,
                } => return Err(TransportError::ConnectTimeout(after).into()),
                other => trace!(?other, "ignoring event before join"),
            }
        }
        let deadline = session.poll_timeout().map(tokio::time::Instant::from_std);
        let incoming = tokio::select! {
            incoming = conn.recv() => incoming?,
            () = sleep_until_opt(deadline) => {
                session.handle_timeout(now());
                continue;
            }
        };
        match incoming {
            Incoming::Message(bytes) => {
                if let Err(e) = session.handle_bytes(conn.serializer(), &bytes) {
                    // Send what the session queued (an ABORT) before giving up.
                    let _ = flush_outgoing(conn, session).await;
                    if let Some(SessionEvent::Aborted { reason, details }) = drain_abort(session) {
                        return Err(aborted(reason, details));
                    }
                    return Err(Error::Protocol(e.to_string()));
                }
            }
            Incoming::Ping(p) => conn.send_pong(p).await?,
            Incoming::Pong(_) => {}
            Incoming::Closed => return Err(TransportError::Closed.into()),
        }
    }
}

fn aborted(reason: String, details: Dict) -> Error {
    if is_auth_failure(&reason) {
        JoinError::AuthenticationFailed { reason, details }
    } else {
        JoinError::Aborted { reason, details }
    }
    .into()
}

fn drain_abort(session: &mut ProtoSession) -> Option<SessionEvent> {
    while let Some(event) = session.poll_event() {
        if matches!(event, SessionEvent::Aborted { .. }) {
            return Some(event);
        }
    }
    None
}

/// Sends everything the session queued; used before the driver loop exists.
async fn flush_outgoing(conn: &mut Connection, session: &mut ProtoSession) -> Result<(), Error> {
    while let Some(msg) = session.poll_outgoing() {
        let bytes = conn.serializer().encode(&msg)?;
        conn.send(bytes).await?;
    }
    Ok(())
}

//! Service manager integration: systemd notify (READY, STOPPING, WATCHDOG, STATUS) and stop signals.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

/// Tells systemd (when `NOTIFY_SOCKET` is set) that the service is ready, with a status line.
pub fn notify_ready(status: &str) {
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]) {
        tracing::warn!(error = %e, "systemd notify READY failed");
    }
}

/// Updates the systemd status line.
pub fn notify_status(status: &str) {
    let _ = sd_notify::notify(&[NotifyState::Status(status)]);
}

/// Tells systemd the service is stopping.
pub fn notify_stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// When systemd set a watchdog (`WatchdogSec=`), pings it at half the interval until `stop` is cancelled.
pub fn spawn_watchdog(stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
    let period = sd_notify::watchdog_enabled()? / 2;
    let period = period.max(Duration::from_millis(100));
    tracing::info!(
        period_ms = period.as_millis() as u64,
        "systemd watchdog enabled"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    if let Err(e) = sd_notify::notify(&[NotifyState::Watchdog]) {
                        tracing::warn!(error = %e, "systemd watchdog ping failed");
                    }
                }
            }
        }
    }))
}

/// SIGTERM and SIGINT handlers, installed at once so a signal that arrives while the daemon is still
/// starting is kept (and stops it) instead of killing the process with the default action.
pub struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on SIGTERM or SIGINT (also one received since [`StopSignals::install`]), naming it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

/// Resolves on SIGTERM or SIGINT, naming the signal.
pub async fn stop_signal() -> std::io::Result<&'static str> {
    Ok(StopSignals::install()?.recv().await)
}

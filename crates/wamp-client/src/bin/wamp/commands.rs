//! `call`, `publish` and `subscribe`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;
use wamp_client::Session;
use wamp_client::options::{CallOptions, MatchPolicy, PublishOptions, SubscribeOptions};
use wamp_proto::Value;

use crate::cli::{CallArgs, ConnectionArgs, MatchArg, PublishArgs, SubscribeArgs};
use crate::failure::Failure;
use crate::{connect, json};

impl From<MatchArg> for MatchPolicy {
    fn from(m: MatchArg) -> Self {
        match m {
            MatchArg::Exact => MatchPolicy::Exact,
            MatchArg::Prefix => MatchPolicy::Prefix,
            MatchArg::Wildcard => MatchPolicy::Wildcard,
        }
    }
}

/// Runs `op` on a fresh session, then leaves (also when `op` failed).
async fn with_session<T>(
    conn: &ConnectionArgs,
    op: impl AsyncFnOnce(&Session) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let session = connect::session(conn).await?;
    let outcome = op(&session).await;
    // Leaving can only fail when the connection already went; the outcome is what counts.
    let _ = session.leave().await;
    outcome
}

/// `wamp call`: prints the result (and, with `--progress`, each progressive result) as
/// `{"args": [...], "kwargs": {...}}`.
pub async fn call(conn: &ConnectionArgs, args: CallArgs) -> Result<(), Failure> {
    let (payload, kwargs) = json::parse_payload(&args.payload)?;
    let options = CallOptions {
        timeout: args
            .timeout
            .map(|t| connect::seconds("--timeout", t))
            .transpose()?,
        disclose_me: args.disclose_me,
        ..CallOptions::default()
    };
    let context = format!("call to {}", args.procedure);
    with_session(conn, async |session| {
        if !args.progress {
            let result = session
                .call(&args.procedure, payload, kwargs, options)
                .await
                .map_err(|e| Failure::from_error(&context, e))?;
            json::print_line(&Value::Dict(json::payload_doc(
                &result.args,
                &result.kwargs,
            )));
            return Ok(());
        }
        let mut call = session
            .call_progressive(&args.procedure, payload, kwargs, options)
            .await
            .map_err(|e| Failure::from_error(&context, e))?;
        while let Some(item) = call.next().await {
            let (result, is_progress) = item.map_err(|e| Failure::from_error(&context, e))?;
            let mut doc = json::payload_doc(&result.args, &result.kwargs);
            if is_progress {
                doc.insert("progress".into(), Value::Bool(true));
            }
            json::print_line(&Value::Dict(doc));
            if !is_progress {
                return Ok(());
            }
        }
        Err(Failure::Local(format!(
            "{context}: the call ended without a final result"
        )))
    })
    .await
}

/// `wamp publish`: prints `{"publication": id}` once the router acknowledged.
pub async fn publish(conn: &ConnectionArgs, args: PublishArgs) -> Result<(), Failure> {
    let (payload, kwargs) = json::parse_payload(&args.payload)?;
    let options = PublishOptions {
        acknowledge: !args.no_acknowledge,
        retain: args.retain,
        disclose_me: args.disclose_me,
        ..PublishOptions::default()
    };
    let context = format!("publish to {}", args.topic);
    with_session(conn, async |session| {
        let publication = session
            .publish(&args.topic, payload, kwargs, options)
            .await
            .map_err(|e| Failure::from_error(&context, e))?;
        if let Some(id) = publication {
            let mut doc = wamp_proto::Dict::new();
            doc.insert("publication".into(), Value::from(id));
            json::print_line(&Value::Dict(doc));
        }
        Ok(())
    })
    .await
}

/// `wamp subscribe`: prints each event as `{"topic": ..., "args": [...], "kwargs": {...}}` until
/// `--count` events arrived, the process is interrupted (SIGINT/SIGTERM) or the connection ends
/// (exit code 2).
pub async fn subscribe(conn: &ConnectionArgs, args: SubscribeArgs) -> Result<(), Failure> {
    let session = connect::session(conn).await?;
    let seen = Arc::new(AtomicU64::new(0));
    let enough = Arc::new(Notify::new());
    let limit = args.count;
    let with_details = args.details;
    let options = SubscribeOptions {
        match_policy: args.match_policy.into(),
        ..SubscribeOptions::default()
    };
    let handler_seen = Arc::clone(&seen);
    let handler_enough = Arc::clone(&enough);
    let subscription = session
        .subscribe(&args.topic, options, move |event| {
            let seen = Arc::clone(&handler_seen);
            let enough = Arc::clone(&handler_enough);
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                if limit.is_some_and(|limit| n > limit) {
                    return;
                }
                let mut doc = wamp_proto::Dict::new();
                doc.insert("topic".into(), Value::from(event.topic.as_str()));
                doc.extend(json::payload_doc(&event.args, &event.kwargs));
                if with_details {
                    doc.insert("details".into(), Value::Dict(event.details.clone()));
                }
                json::print_line(&Value::Dict(doc));
                if limit.is_some_and(|limit| n >= limit) {
                    enough.notify_one();
                }
            }
        })
        .await
        .map_err(|e| Failure::from_error(&format!("subscribe to {}", args.topic), e))?;
    eprintln!(
        "wamp: subscribed to {} (subscription {})",
        subscription.topic, subscription.id
    );
    let done = if limit == Some(0) {
        Ok(())
    } else {
        tokio::select! {
            () = enough.notified() => Ok(()),
            () = interrupted() => Ok(()),
            () = session.closed() => Err(Failure::Local("the connection to the router ended".into())),
        }
    };
    let _ = session.leave().await;
    done
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

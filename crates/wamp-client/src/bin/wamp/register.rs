//! `wamp register`: a procedure backed by a shell command.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use wamp_client::options::{InvokePolicy, RegisterOptions};
use wamp_client::{Invocation, InvocationError, InvocationResult};
use wamp_proto::{Dict, Value};

use crate::cli::{ConnectionArgs, InvokeArg, RegisterArgs};
use crate::commands::interrupted;
use crate::failure::Failure;
use crate::{connect, json};

/// Error URI when the command exits with a non-zero status or cannot be started.
pub const COMMAND_FAILED: &str = "xbrd.error.command_failed";
/// Error URI when the command runs longer than `--command-timeout`.
pub const COMMAND_TIMEOUT: &str = "xbrd.error.command_timeout";

impl From<InvokeArg> for InvokePolicy {
    fn from(i: InvokeArg) -> Self {
        match i {
            InvokeArg::Single => InvokePolicy::Single,
            InvokeArg::Roundrobin => InvokePolicy::RoundRobin,
            InvokeArg::Random => InvokePolicy::Random,
            InvokeArg::First => InvokePolicy::First,
            InvokeArg::Last => InvokePolicy::Last,
        }
    }
}

/// Registers the procedure and serves invocations until interrupted (exit 0) or the connection
/// ends (exit 2). Each invocation prints one line `{"procedure", "args", "kwargs", "exit_code"}`.
pub async fn run(conn: &ConnectionArgs, args: RegisterArgs) -> Result<(), Failure> {
    let timeout = connect::seconds("--command-timeout", args.command_timeout)?;
    let session = connect::session(conn).await?;
    let command = Arc::new(args.command);
    let options = RegisterOptions {
        match_policy: args.match_policy.into(),
        invoke: args.invoke.into(),
        ..RegisterOptions::default()
    };
    let registration = session
        .register(&args.procedure, options, move |inv| {
            let command = Arc::clone(&command);
            async move { invoke(&command, timeout, inv).await }
        })
        .await
        .map_err(|e| Failure::from_error(&format!("register {}", args.procedure), e))?;
    eprintln!(
        "wamp: registered {} (registration {})",
        registration.procedure, registration.id
    );
    let done = tokio::select! {
        () = interrupted() => Ok(()),
        () = session.closed() => Err(Failure::Local("the connection to the router ended".into())),
    };
    let _ = session.leave().await;
    done
}

/// Runs the command for one invocation. Dropping the future (the caller cancelled) kills the
/// command.
async fn invoke(
    command: &str,
    timeout: Duration,
    inv: Invocation,
) -> Result<InvocationResult, InvocationError> {
    let input = json::to_text(&Value::Dict(json::payload_doc(&inv.args, &inv.kwargs)));
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).arg(&inv.procedure);
    cmd.args(inv.args.iter().map(json::to_text));
    cmd.env("WAMP_PROCEDURE", &inv.procedure);
    if let Some(caller) = inv.caller() {
        cmd.env("WAMP_CALLER", caller.to_string());
    }
    if let Some(authid) = inv.caller_authid() {
        cmd.env("WAMP_CALLER_AUTHID", authid);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| InvocationError::message(COMMAND_FAILED, format!("cannot start sh: {e}")))?;
    let stdin = child.stdin.take();
    let feed = async move {
        if let Some(mut stdin) = stdin {
            // The command may not read its input; a broken pipe is not an error.
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.shutdown().await;
        }
    };
    let run = async { tokio::join!(feed, child.wait_with_output()).1 };
    let output = match tokio::time::timeout(timeout, run).await {
        Err(_) => {
            log_invocation(&inv, Value::Null);
            return Err(InvocationError::message(
                COMMAND_TIMEOUT,
                format!("command did not finish within {timeout:?} and was killed"),
            ));
        }
        Ok(Err(e)) => {
            return Err(InvocationError::message(
                COMMAND_FAILED,
                format!("cannot collect the command's output: {e}"),
            ));
        }
        Ok(Ok(output)) => output,
    };
    let code = output.status.code();
    log_invocation(
        &inv,
        code.map_or(Value::Null, |c| Value::from(i64::from(c))),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() {
        return Ok(result_of(&stdout));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut kwargs = Dict::new();
    kwargs.insert(
        "exit_code".into(),
        code.map_or(Value::Null, |c| Value::from(i64::from(c))),
    );
    kwargs.insert("stdout".into(), Value::from(stdout.trim_end()));
    Err(InvocationError::with_payload(
        COMMAND_FAILED,
        vec![Value::from(stderr.trim_end())],
        kwargs,
    ))
}

/// The call result for the command's standard output: nothing for empty output, the JSON value
/// it printed, or else its text (without trailing whitespace).
fn result_of(stdout: &str) -> InvocationResult {
    let text = stdout.trim_end();
    if text.trim_start().is_empty() {
        return InvocationResult::empty();
    }
    let value = json::parse(text).unwrap_or_else(|_| Value::from(text));
    InvocationResult::args(vec![value])
}

fn log_invocation(inv: &Invocation, exit_code: Value) {
    let mut doc = Dict::new();
    doc.insert("procedure".into(), Value::from(inv.procedure.as_str()));
    doc.extend(json::payload_doc(&inv.args, &inv.kwargs));
    doc.insert("exit_code".into(), exit_code);
    json::print_line(&Value::Dict(doc));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_becomes_the_result() {
        assert_eq!(result_of(""), InvocationResult::empty());
        assert_eq!(result_of("\n"), InvocationResult::empty());
        assert_eq!(
            result_of("42\n"),
            InvocationResult::args(vec![Value::from(42)])
        );
        assert_eq!(
            result_of("{\"a\": [1, 2]}\n"),
            InvocationResult::args(vec![Value::Dict(
                [(
                    "a".to_string(),
                    Value::List(vec![Value::from(1), Value::from(2)])
                )]
                .into_iter()
                .collect()
            )])
        );
        assert_eq!(
            result_of("Sun Nov 22 04:00:00 UTC 2026\n"),
            InvocationResult::args(vec![Value::from("Sun Nov 22 04:00:00 UTC 2026")])
        );
    }
}

//! Cross-language tests against Autobahn|Python through Crossbar.io, in JSON, MsgPack and CBOR.
//!
//! * `rust_calls_python_*`: an Autobahn|Python component (`tests/peers/python/interop_peer.py
//!   callee`, WebSocket) registers procedures and publishes; xbrd's client (RawSocket) calls
//!   them and receives the events: byte strings, integers at the edges of i64/u64 and beyond,
//!   nested maps, progressive results, cancel (the Python callee sees the interrupt), and errors
//!   with URI, args and kwargs. The Python side also reports what it decoded, so a symmetric
//!   mistake cannot hide behind an echo.
//! * `python_calls_rust_*`: the reverse; xbrd's client (WebSocket) registers and publishes,
//!   the Python component (`caller` mode) calls and subscribes and prints what it got.
//!
//! MsgPack has no integers beyond 64 bits: there the tests assert the clear error paths instead
//! (a local encode error when sending, `wamp.error.invalid_payload`/`invalid_argument` when the
//! other side cannot encode its answer).

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use wamp_client::{
    CallOptions, CancelMode, Error, InvocationError, InvocationResult, PublishOptions,
    RegisterOptions, Session, SubscribeOptions, TransportConfig,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit::{Crossbar, PythonPeer, REALM_ANONYMOUS};

const PEER: &str = "tests/peers/python/interop_peer.py";
const BIG: u128 = 999_000_000_000_000_000_000;
const TWO_POW_64: u128 = 1 << 64;
const PEER_START: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Values shared with the Python peer (its NESTED, fixtures() and echo payloads).

fn dict<const N: usize>(pairs: [(&str, Value); N]) -> Dict {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn big() -> Value {
    Value::from_u128(BIG)
}

fn nested() -> Value {
    let level3 = Value::List(vec![
        Value::from(1),
        Value::from("two"),
        Value::bytes(vec![0x00u8, 0x01, 0xfe, 0xff]),
        Value::Dict(dict([("k", Value::Null)])),
    ]);
    Value::Dict(dict([(
        "level1",
        Value::Dict(dict([("level2", Value::Dict(dict([("level3", level3)])))])),
    )]))
}

/// The positional payload of Python's `fixtures()` and of the echo calls.
fn fixture_args() -> Vec<Value> {
    vec![
        Value::bytes((0..=255u8).collect::<Vec<_>>()),
        Value::bytes(Vec::new()),
        nested(),
        Value::from("grüße ✓"),
        Value::from(i64::MIN),
        Value::from(u64::MAX),
        Value::Bool(true),
        Value::Null,
    ]
}

fn fixture_kwargs() -> Dict {
    dict([
        ("blob", Value::bytes(vec![0xdeu8, 0xad, 0xbe, 0xef])),
        ("nested", nested()),
    ])
}

/// Whether the serializer carries integers beyond u64 (MsgPack does not).
fn has_bignums(serializer: Serializer) -> bool {
    serializer != Serializer::MsgPack
}

fn serializer_name(serializer: Serializer) -> &'static str {
    serializer.name()
}

// ---------------------------------------------------------------------------------------------
// The Python peer's printout form: JSON with byte strings as {"$bytes": "<hex>"}.

fn printable(value: &Value) -> Value {
    match value {
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            Value::Dict(dict([("$bytes", Value::from(hex))]))
        }
        Value::List(items) => Value::List(items.iter().map(printable).collect()),
        Value::Dict(map) => {
            Value::Dict(map.iter().map(|(k, v)| (k.clone(), printable(v))).collect())
        }
        other => other.clone(),
    }
}

fn printable_payload(args: &[Value], kwargs: &Dict) -> Value {
    Value::Dict(dict([
        ("args", printable(&Value::List(args.to_vec()))),
        ("kwargs", printable(&Value::Dict(kwargs.clone()))),
    ]))
}

fn parse_json(text: &str) -> Value {
    Serializer::Json
        .decode_value(text.as_bytes())
        .unwrap_or_else(|e| panic!("the Python peer printed invalid JSON ({e}): {text}"))
}

/// Reads the peer's stdout until a line starting with `last`, returning all lines.
fn lines_until(peer: &mut PythonPeer, last: &str, timeout: Duration) -> Vec<String> {
    let deadline = std::time::Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = peer.wait_for_line("", left);
        if line.starts_with("FATAL") {
            panic!("the Python peer failed: {line}\n{}", peer.output());
        }
        let done = line.starts_with(last);
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// The JSON of the line `RESULT <name> <json>`.
fn result_line(lines: &[String], name: &str) -> Value {
    let prefix = format!("RESULT {name} ");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {lines:#?}"));
    parse_json(&line[prefix.len()..])
}

fn event_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("EVENT "))
        .map(parse_json)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Set-up.

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn connect(rt: &Runtime, url: &str, serializer: Serializer) -> Session {
    let transport = TransportConfig::new(url).with_serializer(serializer);
    let config = SessionConfig::new(REALM_ANONYMOUS, ClientAuth::anonymous());
    rt.block_on(Session::connect(&transport, config))
        .unwrap_or_else(|e| panic!("xbrd client cannot join {url} with {serializer:?}: {e}"))
}

fn spawn_peer(url: &str, serializer: Serializer, mode: &[&str]) -> PythonPeer {
    let mut args = vec![url, REALM_ANONYMOUS, serializer_name(serializer)];
    args.extend_from_slice(mode);
    let mut peer = PythonPeer::spawn(std::path::Path::new(PEER), &args, &[]);
    peer.wait_for_line("READY", PEER_START);
    peer
}

fn call(
    rt: &Runtime,
    session: &Session,
    procedure: &str,
    args: Vec<Value>,
    kwargs: Dict,
) -> Result<wamp_client::CallResult, Error> {
    let options = CallOptions::with_timeout(STEP);
    rt.block_on(session.call(procedure, args, kwargs, options))
}

fn expect_wamp_error(
    outcome: Result<wamp_client::CallResult, Error>,
    uri: &str,
) -> wamp_client::error::WampError {
    match outcome {
        Err(Error::Wamp(e)) if e.uri == uri => *e,
        other => panic!("expected the WAMP error {uri}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// xbrd's client calls Python and receives its events.

fn rust_calls_python(serializer: Serializer) {
    let router = Crossbar::start();
    let mut peer = spawn_peer(&router.ws_url, serializer, &["callee"]);
    let rt = runtime();
    let session = connect(&rt, &router.rs_url, serializer);
    assert_eq!(session.info().expect("joined").serializer, serializer);

    // Echo: every value comes back unchanged, and Python decoded it as the same types.
    let mut args = fixture_args();
    let mut kwargs = fixture_kwargs();
    if has_bignums(serializer) {
        args.push(big());
        args.push(Value::from_u128(TWO_POW_64));
        kwargs.insert("big".into(), big());
    }
    let echoed = call(
        &rt,
        &session,
        "com.interop.py.echo",
        args.clone(),
        kwargs.clone(),
    )
    .expect("echo");
    assert_eq!(echoed.args, args);
    assert_eq!(echoed.kwargs, kwargs);
    assert!(
        matches!(echoed.args[0], Value::Bytes(_)),
        "bytes stay bytes, not strings"
    );
    let seen = call(
        &rt,
        &session,
        "com.interop.py.inspect",
        args.clone(),
        kwargs.clone(),
    )
    .expect("inspect");
    assert_eq!(
        seen.args,
        vec![printable_payload(&args, &kwargs)],
        "what Python decoded"
    );

    // Values made by Python.
    let fixtures = call(
        &rt,
        &session,
        "com.interop.py.fixtures",
        vec![],
        Dict::new(),
    )
    .expect("fixtures");
    assert_eq!(fixtures.args, fixture_args());
    assert_eq!(fixtures.kwargs, fixture_kwargs());

    // Integers beyond u64.
    let bigint = call(&rt, &session, "com.interop.py.bigint", vec![], Dict::new());
    if has_bignums(serializer) {
        let bigint = bigint.expect("bigint");
        assert_eq!(bigint.args, vec![big(), Value::from_u128(TWO_POW_64)]);
        assert_eq!(bigint.kwargs, dict([("big", big())]));
    } else {
        // Python cannot encode its answer in MsgPack and says so.
        let e = expect_wamp_error(bigint, "wamp.error.invalid_payload");
        assert!(
            format!("{:?}", e.args).contains("could not be serialized"),
            "{e:?}"
        );
        // Sending one fails locally with a clear error, and the session stays usable.
        let local = call(
            &rt,
            &session,
            "com.interop.py.echo",
            vec![big()],
            Dict::new(),
        );
        assert!(matches!(local, Err(Error::Encode(_))), "{local:?}");
        let after = call(
            &rt,
            &session,
            "com.interop.py.echo",
            vec![Value::from(1)],
            Dict::new(),
        );
        assert_eq!(
            after.expect("echo after the encode error").args,
            vec![Value::from(1)]
        );
    }

    // Progressive results.
    let (progress, last) = rt
        .block_on(async {
            let call = session
                .call_progressive(
                    "com.interop.py.progressive",
                    vec![Value::from(3)],
                    Dict::new(),
                    CallOptions::with_timeout(STEP),
                )
                .await?;
            call.collect().await
        })
        .expect("progressive call");
    let steps: Vec<(Vec<Value>, Dict)> = progress.into_iter().map(|r| (r.args, r.kwargs)).collect();
    assert_eq!(
        steps,
        (0..3)
            .map(|i| (vec![Value::from(i)], dict([("step", Value::from(i))])))
            .collect::<Vec<_>>()
    );
    assert_eq!(last.args, vec![Value::from("done"), Value::from(3)]);

    // Cancel: the Python callee is interrupted, the caller gets wamp.error.canceled.
    let cancelled = rt.block_on(async {
        let mut call = session
            .call_progressive(
                "com.interop.py.slow",
                vec![Value::from(30)],
                Dict::new(),
                CallOptions::default(),
            )
            .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        call.cancel(CancelMode::Kill);
        match tokio::time::timeout(STEP, call.next()).await {
            Ok(Some(item)) => item.map(|(r, _)| r),
            Ok(None) => Err(Error::ConnectionLost),
            Err(_) => panic!("no answer to the cancelled call within {STEP:?}"),
        }
    });
    expect_wamp_error(cancelled, "wamp.error.canceled");
    peer.wait_for_line("INTERRUPTED slow", STEP);

    // Errors carry URI, args and kwargs.
    let failed = expect_wamp_error(
        call(&rt, &session, "com.interop.py.fail", vec![], Dict::new()),
        "com.interop.error.failed",
    );
    assert_eq!(
        failed.args,
        vec![
            Value::from("something failed"),
            Value::from(42),
            Value::bytes(vec![0x00u8, 0xff])
        ]
    );
    let reason = Value::Dict(dict([
        ("code", Value::from(7)),
        (
            "where",
            Value::List(vec![Value::from("a"), Value::from("b")]),
        ),
    ]));
    let expected_big = if has_bignums(serializer) {
        big()
    } else {
        Value::from(0)
    };
    assert_eq!(
        failed.kwargs,
        dict([("reason", reason), ("big", expected_big)])
    );

    // Events published by Python.
    let (events_tx, mut events) = mpsc::unbounded_channel();
    rt.block_on(session.subscribe(
        "com.interop.py.event",
        SubscribeOptions::default(),
        move |event| {
            let events_tx = events_tx.clone();
            async move {
                let _ = events_tx.send(event);
            }
        },
    ))
    .expect("subscribe");
    let published = call(
        &rt,
        &session,
        "com.interop.py.publish",
        vec![Value::from(3), Value::Bool(has_bignums(serializer))],
        Dict::new(),
    )
    .expect("publish trigger");
    assert_eq!(published.args, vec![Value::from(3)]);
    for i in 0..3u8 {
        let event = rt
            .block_on(async { tokio::time::timeout(STEP, events.recv()).await })
            .expect("event in time")
            .expect("subscription open");
        assert_eq!(event.topic, "com.interop.py.event");
        assert_eq!(
            event.args,
            vec![
                Value::from(i64::from(i)),
                Value::bytes(vec![i, 0, 255]),
                Value::Dict(dict([
                    ("i", Value::from(i64::from(i))),
                    ("bytes", Value::bytes(vec![i]))
                ])),
            ]
        );
        let mut kwargs = dict([("seq", Value::from(i64::from(i))), ("nested", nested())]);
        if has_bignums(serializer) {
            kwargs.insert("big".into(), big());
        }
        assert_eq!(event.kwargs, kwargs);
    }

    // An event published by xbrd, as Python decoded it.
    let mut args = fixture_args();
    if has_bignums(serializer) {
        args.push(big());
    }
    let kwargs = fixture_kwargs();
    let publication = rt
        .block_on(session.publish(
            "com.interop.py.inbox",
            args.clone(),
            kwargs.clone(),
            PublishOptions::acknowledged(),
        ))
        .expect("publish");
    assert!(publication.is_some());
    let line = peer.wait_for_line("EVENT ", STEP);
    assert_eq!(
        parse_json(&line["EVENT ".len()..]),
        printable_payload(&args, &kwargs)
    );

    rt.block_on(session.leave()).expect("leave");
}

#[test]
fn rust_calls_python_json() {
    rust_calls_python(Serializer::Json);
}

#[test]
fn rust_calls_python_msgpack() {
    rust_calls_python(Serializer::MsgPack);
}

#[test]
fn rust_calls_python_cbor() {
    rust_calls_python(Serializer::Cbor);
}

// ---------------------------------------------------------------------------------------------
// Python calls xbrd's procedures and receives xbrd's events.

/// Reports, when dropped, whether the slow procedure ran to its end.
struct SlowGuard {
    finished: bool,
    report: mpsc::UnboundedSender<bool>,
}

impl SlowGuard {
    fn mark_finished(&mut self) {
        self.finished = true;
    }
}

impl Drop for SlowGuard {
    fn drop(&mut self) {
        let _ = self.report.send(self.finished);
    }
}

fn rust_error_payload(serializer: Serializer) -> (Vec<Value>, Dict) {
    let args = vec![
        Value::from("rust failed"),
        Value::from(7),
        Value::bytes(vec![1u8, 2, 3]),
    ];
    let mut kwargs = dict([("detail", nested())]);
    if has_bignums(serializer) {
        kwargs.insert("big".into(), big());
    }
    (args, kwargs)
}

fn register_rust_procedures(
    rt: &Runtime,
    session: &Session,
    serializer: Serializer,
) -> (
    mpsc::UnboundedReceiver<(Vec<Value>, Dict)>,
    mpsc::UnboundedReceiver<bool>,
) {
    let (echo_tx, echo_rx) = mpsc::unbounded_channel();
    let (slow_tx, slow_rx) = mpsc::unbounded_channel();
    rt.block_on(async {
        session
            .register(
                "com.interop.rs.echo",
                RegisterOptions::default(),
                move |inv| {
                    let echo_tx = echo_tx.clone();
                    async move {
                        let _ = echo_tx.send((inv.args.clone(), inv.kwargs.clone()));
                        Ok(InvocationResult::new(inv.args, inv.kwargs))
                    }
                },
            )
            .await?;
        session
            .register(
                "com.interop.rs.progressive",
                RegisterOptions::default(),
                |inv| async move {
                    let n = inv.args.first().and_then(Value::as_i64).unwrap_or(0);
                    for i in 0..n {
                        inv.progress(vec![Value::from(i)], dict([("step", Value::from(i))]))
                            .await
                            .map_err(|e| {
                                InvocationError::message(
                                    "com.interop.error.progress",
                                    e.to_string(),
                                )
                            })?;
                    }
                    Ok(InvocationResult::args(vec![
                        Value::from("done"),
                        Value::from(n),
                    ]))
                },
            )
            .await?;
        session
            .register(
                "com.interop.rs.slow",
                RegisterOptions::default(),
                move |_inv| {
                    let mut guard = SlowGuard {
                        finished: false,
                        report: slow_tx.clone(),
                    };
                    async move {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        guard.mark_finished();
                        Ok(InvocationResult::args(vec![Value::from("finished")]))
                    }
                },
            )
            .await?;
        session
            .register(
                "com.interop.rs.fail",
                RegisterOptions::default(),
                move |_inv| async move {
                    let (args, kwargs) = rust_error_payload(serializer);
                    Err(InvocationError::with_payload(
                        "com.interop.error.rs_failed",
                        args,
                        kwargs,
                    ))
                },
            )
            .await?;
        session
            .register(
                "com.interop.rs.bigint",
                RegisterOptions::default(),
                |_inv| async move {
                    Ok(InvocationResult::new(
                        vec![big(), Value::from_u128(TWO_POW_64)],
                        dict([("big", big())]),
                    ))
                },
            )
            .await?;
        Ok::<_, Error>(())
    })
    .expect("register the Rust procedures");
    (echo_rx, slow_rx)
}

fn python_calls_rust(serializer: Serializer) {
    let router = Crossbar::start();
    let rt = runtime();
    let session = connect(&rt, &router.ws_url, serializer);
    let (mut echoed, mut slow) = register_rust_procedures(&rt, &session, serializer);
    let mut peer = spawn_peer(&router.ws_url, serializer, &["caller", "3"]);

    // Events for Python.
    let event = |i: u8| {
        let args = vec![
            Value::from(i64::from(i)),
            Value::bytes(vec![i, 0xff, 0]),
            nested(),
        ];
        let mut kwargs = dict([("seq", Value::from(i64::from(i)))]);
        if has_bignums(serializer) {
            kwargs.insert("big".into(), big());
        }
        (args, kwargs)
    };
    if !has_bignums(serializer) {
        let refused = rt.block_on(session.publish(
            "com.interop.rs.event",
            vec![big()],
            Dict::new(),
            PublishOptions::acknowledged(),
        ));
        assert!(matches!(refused, Err(Error::Encode(_))), "{refused:?}");
    }
    for i in 0..3 {
        let (args, kwargs) = event(i);
        rt.block_on(session.publish(
            "com.interop.rs.event",
            args,
            kwargs,
            PublishOptions::acknowledged(),
        ))
        .expect("publish");
    }

    let lines = lines_until(&mut peer, "DONE", Duration::from_secs(120));
    assert!(
        !lines.iter().any(|l| l.starts_with("EVENTS_TIMEOUT")),
        "{lines:#?}"
    );
    let events = event_lines(&lines);
    let expected: Vec<Value> = (0..3)
        .map(|i| {
            let (args, kwargs) = event(i);
            printable_payload(&args, &kwargs)
        })
        .collect();
    assert_eq!(events, expected);

    // Echo: Python's values as xbrd decoded them, and back as Python decoded them.
    let mut args = fixture_args();
    let mut kwargs = fixture_kwargs();
    if has_bignums(serializer) {
        args.push(big());
        kwargs.insert("big".into(), big());
    }
    let (got_args, got_kwargs) = echoed.try_recv().expect("the echo procedure was called");
    assert_eq!(got_args, args);
    assert_eq!(got_kwargs, kwargs);
    assert_eq!(
        result_line(&lines, "echo"),
        printable_payload(&args, &kwargs)
    );

    // Progressive results from xbrd to Python's on_progress.
    let progress: Vec<Value> = (0..3)
        .map(|i| printable_payload(&[Value::from(i)], &dict([("step", Value::from(i))])))
        .collect();
    assert_eq!(
        result_line(&lines, "progressive"),
        Value::Dict(dict([
            ("progress", Value::List(progress)),
            (
                "final",
                printable_payload(&[Value::from("done"), Value::from(3)], &Dict::new())
            ),
        ]))
    );

    // Python cancelled the slow call: xbrd's handler was interrupted, not run to its end.
    assert_eq!(
        result_line(&lines, "slow"),
        Value::Dict(dict([("cancelled", Value::Bool(true))]))
    );
    let finished = rt
        .block_on(async { tokio::time::timeout(STEP, slow.recv()).await })
        .expect("the slow handler was dropped in time")
        .expect("report");
    assert!(
        !finished,
        "the slow handler ran to its end instead of being interrupted"
    );

    // xbrd's error with URI, args and kwargs as Python saw it.
    let (err_args, err_kwargs) = rust_error_payload(serializer);
    let mut expected_error = dict([("error", Value::from("com.interop.error.rs_failed"))]);
    if let Value::Dict(payload) = printable_payload(&err_args, &err_kwargs) {
        expected_error.extend(payload);
    }
    assert_eq!(result_line(&lines, "fail"), Value::Dict(expected_error));

    // Integers beyond u64 from xbrd; MsgPack cannot carry them and the caller learns why.
    let bigint = result_line(&lines, "bigint");
    if has_bignums(serializer) {
        assert_eq!(
            bigint,
            printable_payload(
                &[big(), Value::from_u128(TWO_POW_64)],
                &dict([("big", big())])
            )
        );
    } else {
        let doc = bigint.as_dict().expect("an error document");
        assert_eq!(
            doc["error"],
            Value::from("wamp.error.invalid_argument"),
            "{bigint:?}"
        );
    }

    rt.block_on(session.leave()).expect("leave");
}

#[test]
fn python_calls_rust_json() {
    python_calls_rust(Serializer::Json);
}

#[test]
fn python_calls_rust_msgpack() {
    python_calls_rust(Serializer::MsgPack);
}

#[test]
fn python_calls_rust_cbor() {
    python_calls_rust(Serializer::Cbor);
}

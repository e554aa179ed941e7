//! The `wamp` command-line client against Crossbar.io and an Autobahn|Python peer: JSON in and
//! out, exit codes (0 ok, 1 WAMP error, 2 usage/connection error), publish/subscribe across
//! languages, a shell command registered as a procedure and called from Python, and every
//! authentication method through the command line and the environment.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use wamp_proto::{Dict, Serializer, Value};
use xbrd_testkit::{
    CRYPTOSIGN_AUTHID, CRYPTOSIGN_PRIVATE_KEY_HEX, Crossbar, PythonPeer, REALM_ANONYMOUS,
    REALM_AUTH, TICKET_AUTHID, TICKET_SECRET, WAMPCRA_AUTHID, WAMPCRA_SALTED_AUTHID,
    WAMPCRA_SECRET,
};

const PEER: &str = "tests/peers/python/interop_peer.py";
const PEER_START: Duration = Duration::from_secs(90);
const STEP: Duration = Duration::from_secs(30);
const BIG: u128 = 999_000_000_000_000_000_000;

fn wamp() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wamp"));
    // Only what a test sets explicitly may configure the client.
    for var in [
        "WAMP_URL",
        "WAMP_REALM",
        "WAMP_SERIALIZER",
        "WAMP_AUTHMETHOD",
        "WAMP_AUTHID",
        "WAMP_AUTHROLE",
        "WAMP_TICKET",
        "WAMP_SECRET",
        "WAMP_PRIVATE_KEY",
        "WAMP_CA_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `wamp` to completion (it must not take longer than a minute).
fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the wamp binary starts");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("wamp finished within a minute")
        .expect("wamp output")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

fn json(text: &str) -> Value {
    Serializer::Json
        .decode_value(text.trim().as_bytes())
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {text:?}"))
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout(out).lines().map(json).collect()
}

fn dict<const N: usize>(pairs: [(&str, Value); N]) -> Dict {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn payload(args: Vec<Value>, kwargs: Dict) -> Value {
    Value::Dict(dict([
        ("args", Value::List(args)),
        ("kwargs", Value::Dict(kwargs)),
    ]))
}

fn python_callee(router: &Crossbar) -> PythonPeer {
    let mut peer = PythonPeer::spawn(
        Path::new(PEER),
        &[&router.ws_url, REALM_ANONYMOUS, "json", "callee"],
        &[],
    );
    peer.wait_for_line("READY", PEER_START);
    peer
}

/// A long-running `wamp` process (subscribe/register), killed when dropped.
struct Running {
    child: Option<Child>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the wamp binary starts");
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr piped");
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child: Some(child),
            stderr,
        }
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_stderr(&mut self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + STEP;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!("wamp printed no {needle:?} on stderr; it printed {seen:#?}"),
            }
        }
    }

    /// Waits for the process to exit by itself and returns its output.
    fn finish(mut self) -> Output {
        let (tx, rx) = mpsc::channel();
        let child = self.child.take().expect("still running");
        thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        rx.recv_timeout(STEP)
            .expect("wamp exited in time")
            .expect("wamp output")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn usage_and_connection_errors_exit_2() {
    let out = run(wamp().args(["--url", "http://127.0.0.1:1/ws", "call", "com.example.x"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("http://127.0.0.1:1/ws"),
        "{}",
        stderr(&out)
    );

    let port = xbrd_testkit::free_port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let out = run(wamp().args(["--url", &url, "call", "com.example.x"]));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("cannot join"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let out = run(wamp().args(["--url", &url, "call", "com.example.x", "not-json"]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("argument 1 is not a JSON value"),
        "{}",
        stderr(&out)
    );

    let out = run(wamp().args(["--url", &url, "--ticket", "t", "call", "com.example.x"]));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--authid"), "{}", stderr(&out));

    let out = run(wamp().args(["call"]));
    assert_exit(&out, 2);
}

#[test]
fn call_prints_results_and_errors_as_json() {
    let router = Crossbar::start();
    let _peer = python_callee(&router);

    for serializer in ["json", "msgpack", "cbor"] {
        let out = run(wamp().args([
            "--url",
            &router.ws_url,
            "--serializer",
            serializer,
            "call",
            "com.interop.py.echo",
            "1",
            "\"two\"",
            "\"\\u0000AAH/\"",
            "{\"n\": [null, true]}",
            "--kwargs",
            "{\"k\": -5}",
        ]));
        assert_exit(&out, 0);
        let expected = payload(
            vec![
                Value::from(1),
                Value::from("two"),
                Value::bytes(vec![0u8, 1, 0xff]),
                Value::Dict(dict([(
                    "n",
                    Value::List(vec![Value::Null, Value::Bool(true)]),
                )])),
            ],
            dict([("k", Value::from(-5))]),
        );
        assert_eq!(json_lines(&out), vec![expected], "{serializer}");
    }

    // Integers beyond u64 in and out, over RawSocket with CBOR.
    let out = run(wamp().args([
        "--url",
        &router.rs_url,
        "--serializer",
        "cbor",
        "call",
        "com.interop.py.echo",
        &BIG.to_string(),
    ]));
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("999000000000000000000"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        json_lines(&out),
        vec![payload(vec![Value::from_u128(BIG)], Dict::new())]
    );

    // Progressive results, one line each, then the final result.
    let out = run(wamp().args([
        "--url",
        &router.ws_url,
        "call",
        "com.interop.py.progressive",
        "2",
        "--progress",
    ]));
    assert_exit(&out, 0);
    let step = |i: i64| {
        let mut doc = dict([
            ("args", Value::List(vec![Value::from(i)])),
            ("kwargs", Value::Dict(dict([("step", Value::from(i))]))),
        ]);
        doc.insert("progress".into(), Value::Bool(true));
        Value::Dict(doc)
    };
    assert_eq!(
        json_lines(&out),
        vec![
            step(0),
            step(1),
            payload(vec![Value::from("done"), Value::from(2)], Dict::new())
        ]
    );

    // A missing procedure: exit 1 and the router's error as JSON.
    let out = run(wamp().args(["--url", &router.ws_url, "call", "com.interop.py.missing"]));
    assert_exit(&out, 1);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{}", stdout(&out));
    assert_eq!(
        lines[0].as_dict().unwrap()["error"],
        Value::from("wamp.error.no_such_procedure")
    );

    // An application error: URI, args and kwargs.
    let out = run(wamp().args(["--url", &router.ws_url, "call", "com.interop.py.fail"]));
    assert_exit(&out, 1);
    let mut expected = dict([("error", Value::from("com.interop.error.failed"))]);
    if let Value::Dict(p) = payload(
        vec![
            Value::from("something failed"),
            Value::from(42),
            Value::bytes(vec![0u8, 0xff]),
        ],
        dict([
            (
                "reason",
                Value::Dict(dict([
                    ("code", Value::from(7)),
                    (
                        "where",
                        Value::List(vec![Value::from("a"), Value::from("b")]),
                    ),
                ])),
            ),
            ("big", Value::from_u128(BIG)),
        ]),
    ) {
        expected.extend(p);
    }
    assert_eq!(json_lines(&out), vec![Value::Dict(expected)]);

    // A call timeout is a local failure: exit 2, nothing on stdout.
    let out = run(wamp().args([
        "--url",
        &router.ws_url,
        "call",
        "com.interop.py.slow",
        "30",
        "--timeout",
        "0.5",
    ]));
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[test]
fn publish_reaches_python_and_subscribe_prints_python_events() {
    let router = Crossbar::start();
    let mut peer = python_callee(&router);

    // wamp publish → the Python subscriber.
    let out = run(wamp().args([
        "--url",
        &router.rs_url,
        "--serializer",
        "msgpack",
        "publish",
        "com.interop.py.inbox",
        "\"\\u0000AAH/\"",
        "[1, {\"x\": null}]",
        "--kwargs",
        "{\"who\": \"cli\"}",
    ]));
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].as_dict().unwrap()["publication"]
            .as_u64()
            .is_some(),
        "{lines:?}"
    );
    let event = peer.wait_for_line("EVENT ", STEP);
    let seen = json(&event["EVENT ".len()..]);
    let expected = payload(
        vec![
            Value::Dict(dict([("$bytes", Value::from("0001ff"))])),
            Value::List(vec![
                Value::from(1),
                Value::Dict(dict([("x", Value::Null)])),
            ]),
        ],
        dict([("who", Value::from("cli"))]),
    );
    assert_eq!(seen, expected);

    // wamp subscribe ← events Python publishes; exits by itself after --count events.
    let mut subscriber = Running::spawn(wamp().args([
        "--url",
        &router.ws_url,
        "--serializer",
        "cbor",
        "subscribe",
        "com.interop.py.event",
        "--count",
        "2",
    ]));
    subscriber.wait_stderr("subscribed to com.interop.py.event");
    let out = run(wamp().args([
        "--url",
        &router.ws_url,
        "call",
        "com.interop.py.publish",
        "2",
        "true",
    ]));
    assert_exit(&out, 0);
    let out = subscriber.finish();
    assert_exit(&out, 0);
    let events = json_lines(&out);
    assert_eq!(events.len(), 2, "{}", stdout(&out));
    for (i, event) in events.iter().enumerate() {
        let i = i as u8;
        let doc = event.as_dict().unwrap();
        assert_eq!(doc["topic"], Value::from("com.interop.py.event"));
        assert_eq!(
            doc["args"],
            Value::List(vec![
                Value::from(i64::from(i)),
                Value::bytes(vec![i, 0, 255]),
                Value::Dict(dict([
                    ("i", Value::from(i64::from(i))),
                    ("bytes", Value::bytes(vec![i]))
                ])),
            ])
        );
        let kwargs = doc["kwargs"].as_dict().unwrap();
        assert_eq!(kwargs["seq"], Value::from(i64::from(i)));
        assert_eq!(kwargs["big"], Value::from_u128(BIG));
    }
}

#[test]
fn registered_shell_command_answers_python_calls() {
    let router = Crossbar::start();

    // Echoes its first argument (argv) and its stdin document back as one JSON object.
    let script =
        r#"read -r doc; printf '{"procedure": "%s", "first": %s, "stdin": %s}\n' "$0" "$1" "$doc""#;
    let mut callee =
        Running::spawn(wamp().args(["--url", &router.rs_url, "register", "com.cli.shell", script]));
    callee.wait_stderr("registered com.cli.shell");
    let mut failing = Running::spawn(wamp().args([
        "--url",
        &router.ws_url,
        "register",
        "com.cli.failing",
        "echo 'no luck' >&2; exit 3",
    ]));
    failing.wait_stderr("registered com.cli.failing");

    let mut caller = PythonPeer::spawn(
        Path::new(PEER),
        &[
            &router.ws_url,
            REALM_ANONYMOUS,
            "cbor",
            "call",
            "com.cli.shell",
            "[{\"x\": [1, 2]}, \"two\"]",
        ],
        &[],
    );
    let line = caller.wait_for_line("RESULT ", PEER_START);
    let first = Value::Dict(dict([(
        "x",
        Value::List(vec![Value::from(1), Value::from(2)]),
    )]));
    let stdin_doc = payload(vec![first.clone(), Value::from("two")], Dict::new());
    let result = Value::Dict(dict([
        ("procedure", Value::from("com.cli.shell")),
        ("first", first),
        ("stdin", stdin_doc),
    ]));
    assert_eq!(
        json(&line["RESULT ".len()..]),
        payload(vec![result], Dict::new())
    );

    let mut caller = PythonPeer::spawn(
        Path::new(PEER),
        &[
            &router.ws_url,
            REALM_ANONYMOUS,
            "json",
            "call",
            "com.cli.failing",
            "[]",
        ],
        &[],
    );
    let line = caller.wait_for_line("ERROR ", PEER_START);
    let error = json(&line["ERROR ".len()..]);
    let error = error.as_dict().unwrap();
    assert_eq!(error["error"], Value::from("xbrd.error.command_failed"));
    assert_eq!(error["args"], Value::List(vec![Value::from("no luck")]));
    assert_eq!(
        error["kwargs"].as_dict().unwrap()["exit_code"],
        Value::from(3)
    );

    // The registered command's caller can also be the CLI itself; its log line is JSON.
    let out = run(wamp().args(["--url", &router.ws_url, "call", "com.cli.shell", "7"]));
    assert_exit(&out, 0);
    let result = json_lines(&out);
    let doc = result[0].as_dict().unwrap()["args"].as_list().unwrap()[0].clone();
    assert_eq!(doc.as_dict().unwrap()["first"], Value::from(7));
}

#[test]
fn every_authentication_method_from_flags_and_environment() {
    let router = Crossbar::start();
    let url = router.ws_auth_url.as_str();
    let count = |cmd: &mut Command| {
        let out = run(cmd.args([
            "--url",
            url,
            "--realm",
            REALM_AUTH,
            "call",
            "wamp.session.count",
        ]));
        assert_exit(&out, 0);
        let lines = json_lines(&out);
        let n = lines[0].as_dict().unwrap()["args"].as_list().unwrap()[0].as_u64();
        assert!(n.is_some_and(|n| n >= 1), "{lines:?}");
    };
    count(wamp().args(["--authid", TICKET_AUTHID, "--ticket", TICKET_SECRET]));
    count(wamp().env("WAMP_TICKET", TICKET_SECRET).args([
        "--authmethod",
        "ticket",
        "--authid",
        TICKET_AUTHID,
    ]));
    count(wamp().env("WAMP_SECRET", WAMPCRA_SECRET).args([
        "--authmethod",
        "wampcra",
        "--authid",
        WAMPCRA_AUTHID,
    ]));
    count(wamp().args([
        "--authid",
        WAMPCRA_SALTED_AUTHID,
        "--secret",
        WAMPCRA_SECRET,
        "--serializer",
        "msgpack",
    ]));
    count(
        wamp()
            .env("WAMP_PRIVATE_KEY", CRYPTOSIGN_PRIVATE_KEY_HEX)
            .env("WAMP_AUTHID", CRYPTOSIGN_AUTHID)
            .args(["--authmethod", "cryptosign", "--serializer", "cbor"]),
    );

    // Wrong credentials: a clean authentication failure, exit 2.
    let out = run(wamp().args([
        "--url",
        url,
        "--realm",
        REALM_AUTH,
        "--authid",
        TICKET_AUTHID,
        "--ticket",
        "wrong-ticket",
        "call",
        "wamp.session.count",
    ]));
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("authentication failed"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("wrong-ticket"),
        "the secret must not be printed"
    );
}

//! Shared by the `xbrd chain` tests: the binary run with a clean environment, its JSON answer or
//! its failure, and a test per dev-chain kind.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `xbrd args…` (no `RUST_LOG`, no chain settings from the environment).
pub fn xbrd<S: AsRef<str>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xbrd"))
        .args(args.iter().map(AsRef::as_ref))
        .env_remove("RUST_LOG")
        .env_remove("XBRD_GATEWAY")
        .env_remove("XBRD_CHAIN_ID")
        .output()
        .unwrap()
}

/// Runs `xbrd args… --json`, asserting success; the JSON it printed.
pub fn ok<S: AsRef<str>>(args: &[S]) -> serde_json::Value {
    let mut args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    args.push("--json");
    let o = xbrd(&args);
    assert!(
        o.status.success(),
        "xbrd {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Runs `xbrd args…`, asserting failure; what it wrote on stderr.
pub fn fails<S: AsRef<str>>(args: &[S]) -> String {
    let o = xbrd(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_ne!(o.status.code(), Some(0), "xbrd succeeded: {err}");
    err
}

/// `name::ganache` and `name::anvil`: the test `name(ChainKind)` on each dev chain.
#[macro_export]
macro_rules! on_both_chains {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn ganache() {
                super::$name(xbrd_testkit::ChainKind::Ganache)
            }
            #[test]
            fn anvil() {
                super::$name(xbrd_testkit::ChainKind::Anvil)
            }
        }
    )+};
}

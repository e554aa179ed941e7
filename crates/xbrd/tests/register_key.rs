//! `xbrd market register-key` through the real binary: usage and configuration errors (exit 2,
//! naming the field), an unreachable router (exit 1), and no secret in the output.

use std::path::Path;
use std::process::Output;

mod common;
use common::{BIN, SELLER_KEY, free_admin, seller_toml, write_key};

/// The member's key (ganache account 2, a public test key).
const MEMBER_KEY: &str = "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c";
/// The delegate's cryptosign seed.
const CS_SEED: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn xbrd(args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run xbrd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A seller config in `dir` joining `router`, with `auth` appended (TOML).
fn config(dir: &Path, router: &str, auth: &str) -> String {
    write_key(dir, "seller.key", SELLER_KEY);
    write_key(dir, "cs.key", CS_SEED);
    let toml = seller_toml(router, "http://127.0.0.1:2", &free_admin()) + auth;
    let p = dir.join("seller.toml");
    std::fs::write(&p, toml).unwrap();
    p.to_str().unwrap().to_owned()
}

const CRYPTOSIGN: &str =
    "[authentication]\nmethod = \"cryptosign\"\nprivate_key_file = \"cs.key\"\n";

#[test]
fn help_and_usage_errors() {
    let o = xbrd(&["market", "register-key", "--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--member-key-file"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "ws://127.0.0.1:1/ws", CRYPTOSIGN);
    let o = xbrd(&["market", "register-key", "-c", &cfg]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));
}

#[test]
fn a_config_without_cryptosign_or_a_bad_member_key_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let member = write_key(dir.path(), "member.key", MEMBER_KEY);
    let member = member.to_str().unwrap();
    let anonymous = config(dir.path(), "ws://127.0.0.1:1/ws", "");
    let o = xbrd(&[
        "market",
        "register-key",
        "-c",
        &anonymous,
        "--member-key-file",
        member,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("authentication.method"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("cryptosign"), "{}", stderr(&o));

    let cfg = config(dir.path(), "ws://127.0.0.1:1/ws", CRYPTOSIGN);
    let missing = dir.path().join("nope.key");
    let o = xbrd(&[
        "market",
        "register-key",
        "-c",
        &cfg,
        "--member-key-file",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));

    let open = dir.path().join("open.key");
    std::fs::write(&open, MEMBER_KEY).unwrap();
    let o = xbrd(&[
        "market",
        "register-key",
        "-c",
        &cfg,
        "--member-key-file",
        open.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--member-key-file"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(MEMBER_KEY));
}

#[test]
fn an_unreachable_router_exits_1_without_leaking_keys() {
    let dir = tempfile::tempdir().unwrap();
    let member = write_key(dir.path(), "member.key", MEMBER_KEY);
    let port = common::free_port();
    let cfg = config(dir.path(), &format!("ws://127.0.0.1:{port}/ws"), CRYPTOSIGN);
    let o = xbrd(&[
        "market",
        "register-key",
        "-c",
        &cfg,
        "--member-key-file",
        member.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("joining realm"), "{}", stderr(&o));
    let all = stderr(&o) + &String::from_utf8_lossy(&o.stdout);
    assert!(!all.contains(MEMBER_KEY) && !all.contains(CS_SEED) && !all.contains(SELLER_KEY));
}

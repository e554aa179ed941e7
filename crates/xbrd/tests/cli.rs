//! The real binary on configuration and key-file errors, environment layering, the example configs and
//! keygen: exit codes, messages naming the field, and no secrets in output.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_xbrd");
/// ganache deterministic account 4 (spec §4.5), a public test key.
const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";
const SELLER_ADDR: &str = "0xd03ea8624C8C5987235048901fB614fDcA89b117";

fn repo_config(name: &str) -> PathBuf {
    xbrd_testkit::repo_root().join("config").join(name)
}

fn xbrd(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run xbrd")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write_key(dir: &Path, name: &str, hex: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{hex}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// A minimal valid seller config in `dir`, with `extra` appended (TOML).
fn seller_config(dir: &Path, extra: &str) -> PathBuf {
    write_key(dir, "seller.key", SELLER_KEY, 0o600);
    let p = dir.join("seller.toml");
    std::fs::write(
        &p,
        format!(
            r#"role = "seller"
realm = "xbr-market"
[[transports]]
url = "ws://127.0.0.1:1/ws"
[ethereum]
gateway = "http://127.0.0.1:2"
private_key_file = "seller.key"
[ethereum.contracts]
token = "0x254dffcd3277C0b1660F6d42EFbB754edaBAbC2B"
network = "0xC89Ce4735882C9F0f0FE26686c53074E09B0D550"
[market]
maker = "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9"
[[market.apis]]
api_id = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04"
prefix = "io.crossbar.example"
price = "35 XBR"
rotation_interval = "10s"
{extra}"#
        ),
    )
    .unwrap();
    p
}

#[test]
fn version_and_help() {
    let o = xbrd(&["--version"], &[]);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("xbrd {}", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        &["--help"][..],
        &["run", "--help"],
        &["config", "check", "--help"],
        &["keygen", "--help"],
        &["chain", "deploy", "--help"],
        &["chain", "balance", "--help"],
        &["status", "--help"],
    ] {
        let o = xbrd(sub, &[]);
        assert!(o.status.success(), "{sub:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage: xbrd"),
            "{sub:?}"
        );
    }
}

#[test]
fn valid_config_prints_effective_settings_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = seller_config(dir.path(), "");
    let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["role"], "seller");
    assert_eq!(v["ethereum"]["delegate_address"], SELLER_ADDR);
    assert_eq!(v["market"]["apis"][0]["price"], "35000000000000000000");
    assert_eq!(
        v["admin"]["listen"], "127.0.0.1:7480",
        "loopback by default"
    );
    assert_eq!(v["transports"][0]["retry"]["max_retries"], -1);
    assert!(
        !out.contains(SELLER_KEY) && !stderr(&o).contains(SELLER_KEY),
        "the key never appears"
    );
}

/// Each bad value → exit 2 and a message naming the field and the expected form.
#[test]
fn bad_config_exits_2_naming_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("[admin]\nlisten = \"localhost\"", "admin.listen", "IP:port"),
        (
            "[[market.apis]]\napi_id = \"627f1b5c-58c2-43b1-8422-a34f7d3f5a05\"\nprefix = \"a.b\"\nprice = \"cheap\"\nrotation_count = 5",
            "market.apis[1].price",
            "decimal string",
        ),
        (
            "[[market.apis]]\napi_id = \"627f1b5c-58c2-43b1-8422-a34f7d3f5a05\"\nprefix = \"a.b\"\nprice = 1",
            "market.apis[1].rotation_interval",
            "exactly one of",
        ),
        (
            "[log]\nformat = \"xml\"",
            "log.format",
            "\"pretty\" or \"json\"",
        ),
        (
            "[authentication]\nmethod = \"ticket\"",
            "authentication.authid",
            "authid",
        ),
        (
            "[authentication]\nmethod = \"kerberos\"",
            "authentication.method",
            "cryptosign",
        ),
    ];
    for (extra, field, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cfg = seller_config(dir.path(), extra);
        let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &[]);
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("`{field}`")),
            "{extra}: message names {field}: {e}"
        );
        assert!(
            e.contains(expected),
            "{extra}: message gives the expected form {expected:?}: {e}"
        );
        // `run` refuses the same config the same way, before binding anything.
        let o = xbrd(&["run", "-c", cfg.to_str().unwrap()], &[]);
        assert_eq!(o.status.code(), Some(2), "run: {extra}");
        assert!(stderr(&o).contains(&format!("`{field}`")));
    }
}

#[test]
fn missing_fields_and_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.toml");
    std::fs::write(&p, "realm = \"r\"\n").unwrap();
    let o = xbrd(&["config", "check", "-c", p.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`role` is missing"), "{}", stderr(&o));

    std::fs::write(&p, "role = \"seller\"\nrealm = \"r\"\nreaml = \"typo\"\n").unwrap();
    let o = xbrd(&["config", "check", "-c", p.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("reaml"),
        "unknown keys are named: {}",
        stderr(&o)
    );

    let o = xbrd(
        &[
            "config",
            "check",
            "-c",
            dir.path().join("nope.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nope.toml"));
}

#[test]
fn group_or_world_readable_key_file_is_refused() {
    for mode in [0o644, 0o640, 0o604] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = seller_config(dir.path(), "");
        std::fs::set_permissions(
            dir.path().join("seller.key"),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
        let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &[]);
        assert_eq!(o.status.code(), Some(2), "mode {mode:o}");
        let e = stderr(&o);
        assert!(e.contains("`ethereum.private_key_file`"), "{e}");
        assert!(
            e.contains("readable by group or others") && e.contains("chmod 600"),
            "{e}"
        );
        assert!(!e.contains(SELLER_KEY));
        let o = xbrd(&["run", "-c", cfg.to_str().unwrap()], &[]);
        assert_eq!(o.status.code(), Some(2), "run refuses too");
    }
    // The same rule for a cryptosign key and the admin token.
    let dir = tempfile::tempdir().unwrap();
    write_key(dir.path(), "cs.key", &"11".repeat(32), 0o644);
    let cfg = seller_config(
        dir.path(),
        "[authentication]\nmethod = \"cryptosign\"\nprivate_key_file = \"cs.key\"",
    );
    let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`authentication.private_key_file`"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    write_key(dir.path(), "admin.token", "t0ken", 0o666);
    let cfg = seller_config(dir.path(), "[admin]\ntoken_file = \"admin.token\"");
    let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`admin.token_file`"), "{}", stderr(&o));
}

#[test]
fn environment_layers_over_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = seller_config(dir.path(), "");
    let env = [
        ("XBRD__ADMIN__LISTEN", "127.0.0.1:7999"),
        ("XBRD__LOG__FORMAT", "json"),
        ("XBR_INSTANCE", "rs://127.0.0.1:8081"),
        ("XBR_REALM", "realm9"),
        (
            "XBR_MARKET_MAKER_ADR",
            "0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC",
        ),
        (
            "XBR_DEBUG_MARKET_ADDR",
            "0xe982E462b094850F12AF94d21D470e21bE9D0E9C",
        ),
    ];
    let o = xbrd(&["config", "check", "-c", cfg.to_str().unwrap()], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["admin"]["listen"], "127.0.0.1:7999");
    assert_eq!(v["log"]["format"], "json");
    assert_eq!(v["transports"].as_array().unwrap().len(), 1);
    assert_eq!(v["transports"][0]["url"], "rs://127.0.0.1:8081");
    assert_eq!(v["realm"], "realm9");
    assert_eq!(
        v["market"]["maker"],
        "0x95cED938F7991cd0dFcb48F0a06a40FA1aF46EBC"
    );
    assert_eq!(
        v["ethereum"]["contracts"]["market"],
        "0xe982E462b094850F12AF94d21D470e21bE9D0E9C"
    );
    // XBRD__ wins over the Autobahn name.
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[("XBR_REALM", "a"), ("XBRD__REALM", "b")],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["realm"], "b");
    // A bad value from the environment names the field too.
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[("XBR_MARKET_MAKER_ADR", "0x123")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`market.maker`"), "{}", stderr(&o));
}

#[test]
fn autobahn_privkey_variables_follow_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = seller_config(dir.path(), "");
    // Without the key file, XBR_SELLER_PRIVKEY supplies the key; XBR_BUYER_PRIVKEY is ignored for a seller.
    std::fs::remove_file(dir.path().join("seller.key")).unwrap();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("private_key_file = \"seller.key\"\n", "");
    std::fs::write(&cfg, text).unwrap();
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[("XBR_BUYER_PRIVKEY", SELLER_KEY)],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("XBR_SELLER_PRIVKEY"), "{}", stderr(&o));
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[("XBR_SELLER_PRIVKEY", SELLER_KEY)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ethereum"]["delegate_address"], SELLER_ADDR);
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[("XBR_SELLER_PRIVKEY", "0xnothex")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("`ethereum.private_key`") && !stderr(&o).contains("nothex"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn example_configs_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "eth.key", SELLER_KEY, 0o600);
    for name in ["seller.toml", "buyer.toml", "marketmaker.toml"] {
        let o = xbrd(
            &["config", "check", "-c", repo_config(name).to_str().unwrap()],
            &[
                ("XBRD__ETHEREUM__PRIVATE_KEY_FILE", key.to_str().unwrap()),
                ("XBRD__STORE__STATE_DIR", dir.path().to_str().unwrap()),
            ],
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ip = v["admin"]["listen"].as_str().unwrap();
        assert!(
            ip.starts_with("127.0.0.1:"),
            "{name}: admin API on loopback"
        );
    }
}

#[test]
fn keygen_writes_private_files_0600() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys");
    let o = xbrd(
        &["keygen", "--out", out.to_str().unwrap(), "--name", "seller"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let private = out.join("seller.priv");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&private).unwrap();
    assert!(text.contains("private-key-eth: ") && text.contains("private-key-ed25519: "));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let eth_line = text
        .lines()
        .find(|l| l.starts_with("private-key-eth: "))
        .unwrap();
    assert!(
        !stdout.contains(eth_line.trim_start_matches("private-key-eth: ")),
        "private key not printed"
    );
    // The generated file works as a config key file and gives the printed address.
    let cfg = seller_config(dir.path(), "");
    let o = xbrd(
        &["config", "check", "-c", cfg.to_str().unwrap()],
        &[(
            "XBRD__ETHEREUM__PRIVATE_KEY_FILE",
            private.to_str().unwrap(),
        )],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["ethereum"]["delegate_address"], v["eth_address"]);
    // Mnemonic derivation (ganache account 4) and a refusal to overwrite.
    let m = dir.path().join("mnemonic");
    std::fs::write(
        &m,
        "myth like bonus scare over problem client lizard pioneer submit female collect",
    )
    .unwrap();
    std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = xbrd(
        &[
            "keygen",
            "--out",
            out.to_str().unwrap(),
            "--name",
            "derived",
            "--mnemonic-file",
            m.to_str().unwrap(),
            "--index",
            "4",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["eth_address"], SELLER_ADDR);
    let o = xbrd(
        &[
            "keygen",
            "--out",
            out.to_str().unwrap(),
            "--name",
            "derived",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"));
}

#[test]
fn chain_deploy_refuses_an_addresses_file_it_could_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = write_key(dir.path(), "deployer.key", SELLER_KEY, 0o600);
    let out = dir.path().join("contracts.json");
    let o = xbrd(
        &[
            "chain",
            "deploy",
            "--gateway",
            "http://127.0.0.1:9",
            "--key-file",
            key.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("must end in .toml"), "{e}");
    assert!(!out.exists());
}

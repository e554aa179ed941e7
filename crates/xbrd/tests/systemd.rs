//! xbrd under systemd, without systemd: `STATUS=` lines on a real `NOTIFY_SOCKET` while the daemon
//! starts (no `READY=1` while the router is away), key files as credentials from
//! `$CREDENTIALS_DIRECTORY` (`LoadCredential=`), and the sysusers.d file the unit's user comes from.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::{BIN, SELLER_KEY, free_admin, free_port, wait_for, write_key, write_seller_config};

#[test]
fn status_lines_while_starting_and_no_ready_without_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let admin = free_admin();
    // Neither a router nor a chain listens there.
    let router = format!("ws://127.0.0.1:{}/ws", free_port());
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let cfg = write_seller_config(dir.path(), &router, &gateway, &admin);
    let socket = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&socket).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut daemon = common::spawn(&cfg, &admin, |c| {
        c.env("NOTIFY_SOCKET", &socket);
    });
    let mut got = Vec::<String>::new();
    let mut buf = [0u8; 1024];
    wait_for(
        "a STATUS line with the store open and the chain not reachable",
        Duration::from_secs(30),
        || {
            if let Ok(n) = notify.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
            got.iter().any(|m| {
                m.contains(
                    "STATUS=starting: store open; connecting to the router; chain not reachable",
                )
            })
        },
    );
    assert!(
        got.iter().all(|m| m.starts_with("STATUS=starting: ")),
        "{got:?}"
    );
    assert!(!got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).0, Some(0));
    while let Ok(n) = notify.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(got.iter().any(|m| m.contains("STOPPING=1")), "{got:?}");
}

/// Both key files given as systemd credentials: `config check` reads them from
/// `$CREDENTIALS_DIRECTORY`; without it, the error names the field.
#[test]
fn key_files_as_systemd_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_seller_config(
        dir.path(),
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:2",
        &free_admin(),
    );
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    write_key(&creds, "eth-key", SELLER_KEY);
    let o = Command::new(BIN)
        .args(["keygen", "--out", creds.to_str().unwrap(), "--name", "wamp"])
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::rename(creds.join("wamp.priv"), creds.join("wamp-key")).unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "private_key_file = \"seller.key\"",
        "private_key_credential = \"eth-key\"",
    ) + "[authentication]\nmethod = \"cryptosign\"\nprivate_key_credential = \"wamp-key\"\n";
    std::fs::write(&cfg, text).unwrap();
    let check = |credentials: Option<&std::path::Path>| {
        let mut c = Command::new(BIN);
        c.args(["config", "check", "-c", cfg.to_str().unwrap()])
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("XBRD_CONFIG");
        if let Some(d) = credentials {
            c.env("CREDENTIALS_DIRECTORY", d);
        }
        c.output().unwrap()
    };
    let o = check(Some(&creds));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let eff: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        eff["ethereum"]["delegate_address"],
        "0xd03ea8624C8C5987235048901fB614fDcA89b117"
    );
    assert_eq!(
        eff["ethereum"]["key"]["file"],
        creds.join("eth-key").to_str().unwrap()
    );
    assert_eq!(eff["authentication"]["method"], "cryptosign");
    let o = check(None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for field in [
        "ethereum.private_key_credential",
        "authentication.private_key_credential",
    ] {
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
    }
    assert!(err.contains("CREDENTIALS_DIRECTORY"), "{err}");
}

/// The unit's user comes from the sysusers.d file; the unit offers both keys as credentials under
/// the names the example configurations use.
#[test]
fn sysusers_and_unit_credentials_agree() {
    let repo = xbrd_testkit::repo_root();
    let sysusers = std::fs::read_to_string(repo.join("deploy/systemd/xbrd.sysusers")).unwrap();
    let entries: Vec<Vec<&str>> = sysusers
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let user = &entries[0];
    assert_eq!(user[0], "u", "a system user (and its group)");
    let unit = std::fs::read_to_string(repo.join("deploy/systemd/xbrd@.service")).unwrap();
    let value = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key}="))
    };
    assert_eq!(value("User"), user[1]);
    assert_eq!(value("Group"), user[1]);
    assert_eq!(*user.last().unwrap(), "/usr/sbin/nologin");
    let seller = std::fs::read_to_string(repo.join("config/seller.toml")).unwrap();
    for id in ["eth-key", "wamp-key"] {
        assert!(
            unit.contains(&format!(
                "LoadCredential={id}:/etc/xbrd/credentials/%i.{id}"
            )),
            "{id}"
        );
        assert!(
            seller.contains(&format!("private_key_credential = \"{id}\"")),
            "config/seller.toml names {id}"
        );
    }
}

//! `xbrd config check` as an operator meets it: every problem of a configuration reported in one
//! run, each cause said once, exit code 2; and the example configurations naming the files the
//! commands write.

mod common;

use std::process::Command;

use common::{BIN, write_seller_config};

/// `xbrd config check` on the seller config `edit` makes of the test seller config, with the key
/// file `seller.key` removed when `remove_key`: the exit code and stderr.
fn check_edited(edit: impl FnOnce(String) -> String, remove_key: bool) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_seller_config(
        dir.path(),
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:2",
        "127.0.0.1:7480",
    );
    std::fs::write(&cfg, edit(std::fs::read_to_string(&cfg).unwrap())).unwrap();
    if remove_key {
        std::fs::remove_file(dir.path().join("seller.key")).unwrap();
    }
    let o = Command::new(BIN)
        .args(["config", "check", "-c", cfg.to_str().unwrap()])
        .env_remove("XBRD_CONFIG")
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The text of a missing file's I/O error.
fn not_found() -> String {
    std::io::Error::from_raw_os_error(2).to_string()
}

#[test]
fn config_check_reports_every_problem_once() {
    let (code, err) = check_edited(
        |text| {
            text.replace(
                "gateway = \"http://127.0.0.1:2\"",
                "gateway = \"ftp://chain\"",
            )
            .replace("listen = \"127.0.0.1:7480\"", "listen = \"localhost\"")
            .replace("format = \"json\"", "format = \"xml\"")
            .replace("price = \"35 XBR\"", "price = \"cheap\"")
        },
        true,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("5 problems in the configuration"), "{err}");
    for field in [
        "ethereum.private_key_file",
        "ethereum.gateway",
        "admin.listen",
        "log.format",
        "market.apis[0].price",
    ] {
        assert_eq!(
            err.matches(&format!("`{field}`")).count(),
            1,
            "{field} once: {err}"
        );
    }
    assert_eq!(err.matches("cannot read key file").count(), 1, "{err}");
    assert_eq!(
        err.matches(&not_found()).count(),
        1,
        "the cause once: {err}"
    );
}

#[test]
fn a_single_key_file_problem_names_its_cause_once() {
    let (code, err) = check_edited(|text| text, true);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.matches("cannot read key file").count(), 1, "{err}");
    assert_eq!(err.matches(&not_found()).count(), 1, "{err}");
    assert!(err.contains("`ethereum.private_key_file`"), "{err}");
    assert!(
        !err.contains("problems in the configuration"),
        "one problem: {err}"
    );
}

/// The example configs suggest the contracts file `xbrd chain deploy` writes by default.
#[test]
fn example_configs_name_the_contracts_file_chain_deploy_writes() {
    let help = Command::new(BIN)
        .args(["chain", "deploy", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let default = help
        .split("[default: ")
        .skip(1)
        .filter_map(|s| s.split(']').next())
        .find(|d| d.starts_with("contracts"))
        .unwrap_or_else(|| panic!("--out has a default: {help}"));
    for name in ["seller.toml", "buyer.toml", "marketmaker.toml"] {
        let path = xbrd_testkit::repo_root().join("config").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let named: Vec<&str> = text
            .lines()
            .map(|l| l.trim_start_matches(['#', ' ']))
            .filter_map(|l| l.strip_prefix("contracts_file = "))
            .map(|v| v.trim().trim_matches('"'))
            .collect();
        assert!(!named.is_empty(), "{name} mentions contracts_file");
        for file in named {
            assert_eq!(file, default, "{name}");
        }
    }
}

/// The names of xbrd's subcommands, from the CLI definition.
fn subcommands() -> Vec<String> {
    use clap::CommandFactory;
    xbrd::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect()
}

#[test]
fn bash_completion_names_every_subcommand_and_parses() {
    let o = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = String::from_utf8(o.stdout).unwrap();
    assert!(
        script.contains("complete -F"),
        "a bash completion: {script}"
    );
    for sub in subcommands() {
        assert!(script.contains(&sub), "{sub} completes");
    }
    // bash itself accepts it (syntax only).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("xbrd.bash");
    std::fs::write(&file, &script).unwrap();
    let o = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for shell in ["zsh", "fish"] {
        let o = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(o.status.success() && !o.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn man_page_renders() {
    let o = Command::new(BIN).arg("man").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let roff = String::from_utf8(o.stdout).unwrap();
    assert!(roff.contains(".TH xbrd 1"), "{roff}");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("xbrd.1");
    std::fs::write(&page, &roff).unwrap();
    // Rendered by man(1) where it is installed; else the roff is checked as text.
    let rendered = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output();
    let text = match rendered {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => roff.clone(),
    };
    for want in ["NAME", "SYNOPSIS", "SUBCOMMANDS"] {
        assert!(text.contains(want), "{want}: {text}");
    }
    for sub in subcommands() {
        assert!(text.contains(&sub), "{sub} in the man page");
    }
    // One page per command for packagers.
    let pages = dir.path().join("man1");
    let o = Command::new(BIN)
        .args(["man", "--out", pages.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for name in ["xbrd.1", "xbrd-backup.1", "xbrd-chain-deploy.1"] {
        assert!(pages.join(name).exists(), "{name}");
    }
}

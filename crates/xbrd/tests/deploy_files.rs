//! Static checks of the deployment files (no Docker engine or systemd here): the systemd unit's keys and
//! hardening, the Dockerfile's stages, user and health check, and the compose file's services, health
//! checks, users and ports; the configs they name exist and pass `xbrd config check` with the environment
//! the compose file gives them. On the secured market realm the maker joins over the router's `xbrmm.sock`
//! (a volume only the router and the maker mount) and the delegates with cryptosign, their keys made and
//! registered by one-shot services.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;

fn repo() -> PathBuf {
    xbrd_testkit::repo_root()
}

/// `Key=Value` lines of a unit file, per section; repeated keys keep every value.
fn parse_unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a Key=Value line: {line}"));
        out.entry(section.clone())
            .or_default()
            .entry(k.trim().to_owned())
            .or_default()
            .push(v.trim().to_owned());
    }
    out
}

#[test]
fn systemd_unit_is_notify_and_hardened() {
    let text = std::fs::read_to_string(repo().join("deploy/systemd/xbrd@.service")).unwrap();
    let unit = parse_unit(&text);
    let svc = &unit["Service"];
    let one = |k: &str| -> &str {
        svc.get(k)
            .and_then(|v| v.last())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("[Service] {k} missing"))
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("NoNewPrivileges"), "yes");
    assert_eq!(one("ProtectSystem"), "strict");
    assert_eq!(one("PrivateTmp"), "yes");
    assert_eq!(one("ProtectHome"), "yes");
    assert_eq!(one("CapabilityBoundingSet"), "", "no capabilities at all");
    let families: Vec<&str> = one("RestrictAddressFamilies").split_whitespace().collect();
    assert!(
        families.contains(&"AF_UNIX"),
        "AF_UNIX is needed for NOTIFY_SOCKET"
    );
    assert!(families.contains(&"AF_INET") && families.contains(&"AF_INET6"));
    assert!(one("StateDirectory").starts_with("xbrd/"));
    assert!(one("EnvironmentFile").contains("%i"));
    assert!(!one("WatchdogSec").is_empty());
    assert_eq!(
        one("RestartPreventExitStatus"),
        "2",
        "config errors (exit 2) are not restarted"
    );
    assert_eq!(one("KillSignal"), "SIGTERM");
    let exec: Vec<&str> = one("ExecStart").split_whitespace().collect();
    assert_eq!(&exec[1..3], &["run", "-c"], "{exec:?}");
    assert!(exec[3].contains("%i"));
    // The unit's command line is one the binary accepts.
    let o = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(o.status.success());
    assert!(unit["Install"]["WantedBy"].contains(&"multi-user.target".to_string()));
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_health_check() {
    let text = std::fs::read_to_string(repo().join("deploy/docker/Dockerfile")).unwrap();
    let instr: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(a, b)| (a.to_uppercase(), b.to_owned()))
        })
        .collect();
    let froms: Vec<&String> = instr
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(
        instr
            .iter()
            .any(|(i, a)| i == "COPY" && a.starts_with("--from=build")),
        "runtime copies from the build stage"
    );
    let user = instr
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, a)| a.as_str())
        .expect("USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "non-root user: {user}");
    let hc = text.find("HEALTHCHECK").expect("HEALTHCHECK");
    assert!(
        text[hc..].contains("\"health\""),
        "health check uses `xbrd health`"
    );
    assert!(text.contains("cargo build --release --locked -p xbrd"));
    // `xbrd health` exists and fails when nothing listens (a free port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = Command::new(BIN)
        .args(["health", "--admin", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

fn yaml(path: &Path) -> serde_norway::Value {
    let mut v: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v.apply_merge().unwrap();
    // Nested merges (environment: <<: *seller-env, itself <<: *xbrd-delegate-env, …) need more
    // passes per service; a pass over a mapping without merge keys changes nothing.
    if let Some(services) = v.get_mut("services").and_then(|s| s.as_mapping_mut()) {
        for (_, svc) in services.iter_mut() {
            svc.apply_merge().unwrap();
            for key in ["environment", "depends_on"] {
                if let Some(m) = svc.get_mut(key) {
                    for _ in 0..4 {
                        m.apply_merge().unwrap();
                    }
                }
            }
        }
    }
    v
}

/// A compose service's `volumes` as (source, target) pairs.
fn mounts(svc: &serde_norway::Value) -> Vec<(String, String)> {
    svc["volumes"]
        .as_sequence()
        .map(|v| {
            v.iter()
                .map(|m| {
                    let mut parts = m.as_str().unwrap().split(':');
                    (
                        parts.next().unwrap().to_owned(),
                        parts.next().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The shipped router config's listener for the maker (the Unix RawSocket transport whose static
/// anonymous authentication gives role `xbrmm`): its path, relative to the node directory.
fn router_maker_socket() -> PathBuf {
    let path = repo().join("deploy/crossbar/config.json");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let transports = config["workers"][0]["transports"].as_array().unwrap();
    let ws = transports.iter().find(|t| t["type"] == "web").unwrap();
    let cryptosign = &ws["paths"]["ws"]["auth"]["cryptosign"];
    assert_eq!(
        cryptosign["type"], "dynamic",
        "delegates: cryptosign on /ws"
    );
    assert_eq!(
        cryptosign["authenticator"],
        "xbr.marketmaker.authenticator.authenticate"
    );
    let maker = transports
        .iter()
        .find(|t| t["type"] == "rawsocket" && t["endpoint"]["type"] == "unix")
        .expect("a Unix socket transport for the maker");
    assert_eq!(maker["auth"]["anonymous"]["role"], "xbrmm");
    assert_eq!(
        maker["auth"].as_object().unwrap().len(),
        1,
        "anonymous only"
    );
    PathBuf::from(maker["endpoint"]["path"].as_str().unwrap())
}

/// The maker joins over the router's socket, through a volume only the router and the maker mount.
fn check_maker_socket(c: &serde_norway::Value) -> String {
    let socket = router_maker_socket();
    assert!(socket.is_relative(), "relative to the node dir: {socket:?}");
    let crossbar = &c["services"]["crossbar"];
    let dockerfile = crossbar["build"]["dockerfile_inline"].as_str().unwrap();
    let cbdir = dockerfile
        .split(['"', ' ', ','])
        .skip_while(|w| *w != "--cbdir")
        .find(|w| w.starts_with('/'))
        .expect("the crossbar command names its node dir (--cbdir)");
    let socket_dir = Path::new(cbdir).join(socket.parent().unwrap());
    let socket_dir = socket_dir.to_str().unwrap();
    let (volume, _) = mounts(crossbar)
        .into_iter()
        .find(|(_, target)| target == socket_dir)
        .unwrap_or_else(|| panic!("crossbar mounts a volume on the socket dir {socket_dir}"));
    assert!(
        c["volumes"].get(volume.as_str()).is_some(),
        "{volume} is a named volume"
    );
    let services = c["services"].as_mapping().unwrap();
    let holders: Vec<&str> = services
        .iter()
        .filter(|(_, svc)| mounts(svc).iter().any(|(source, _)| *source == volume))
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    assert_eq!(holders, ["crossbar", "maker"], "who can reach the socket");
    let (_, target) = mounts(&c["services"]["maker"])
        .into_iter()
        .find(|(source, _)| *source == volume)
        .unwrap();
    format!(
        "rs+unix://{}",
        Path::new(&target)
            .join(socket.file_name().unwrap())
            .display()
    )
}

/// A delegate's one-time `<role>-key` service: it makes the cryptosign key `key_file` (in the
/// delegate's state volume) and registers it with the delegate's config, before the delegate
/// starts and once the maker runs.
fn check_key_service(c: &serde_norway::Value, role: &str, config: &str, key_file: &Path) {
    let name = format!("{role}-key");
    let svc = &c["services"][name.as_str()];
    let delegate = &c["services"][role];
    assert_eq!(
        delegate["depends_on"][name.as_str()]["condition"].as_str(),
        Some("service_completed_successfully"),
        "{role} starts after {name}"
    );
    assert_eq!(
        svc["depends_on"]["maker"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert_eq!(svc["restart"].as_str(), Some("no"), "{name} is a one-shot");
    assert_eq!(
        mounts(svc),
        mounts(delegate),
        "{name} sees the {role}'s volumes"
    );
    let state = mounts(delegate)
        .into_iter()
        .find(|(_, target)| Path::new(target) == key_file.parent().unwrap())
        .unwrap_or_else(|| panic!("{role}: the key file {key_file:?} is in a volume"));
    assert!(state.0.ends_with("-state"), "{state:?}");
    assert_eq!(svc["command"][0].as_str(), Some(config));
    let script = svc["entrypoint"][2].as_str().unwrap();
    let keygen = format!(
        "xbrd keygen --out {} --name {}",
        key_file.parent().unwrap().display(),
        key_file.file_stem().unwrap().to_str().unwrap()
    );
    assert!(script.contains(&keygen), "{name}: {script}");
    assert!(
        script.contains("xbrd market register-key -c \"$$0\" --member-key-file"),
        "{name}: {script}"
    );
    let member = svc["environment"]["XBRD_MEMBER_KEY"].as_str().unwrap();
    assert_eq!(member.len(), 64, "{name}: the member's (dev) key");
    assert!(
        delegate["environment"].get("XBRD_MEMBER_KEY").is_none(),
        "the {role} itself never sees its member's key"
    );
}

#[test]
fn compose_market_is_complete_and_checked() {
    let c = yaml(&repo().join("deploy/compose.yaml"));
    let services = c["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    for want in [
        "ganache",
        "crossbar",
        "market-setup",
        "maker",
        "seller",
        "buyer",
        "seller-key",
        "buyer-key",
    ] {
        assert!(names.contains(&want), "service {want} in {names:?}");
    }
    for s in ["ganache", "crossbar"] {
        let test = &c["services"][s]["healthcheck"]["test"];
        assert!(
            test.as_sequence().is_some_and(|t| t.len() >= 2),
            "{s} has a health check"
        );
    }
    let maker_url = check_maker_socket(&c);
    let state_dir = tempfile::tempdir().unwrap();
    let contracts = state_dir.path().join("contracts.toml");
    // The shape `xbrd chain deploy` writes (xbr-chain's ContractAddresses::to_toml).
    std::fs::write(
        &contracts,
        "[ethereum.contracts]\ntoken = \"0xCfEB869F69431e42cdB54A4F4f105C19C080A601\"\nnetwork = \"0x254dffcd3277C0b1660F6d42EFbB754edaBAbC2B\"\n\
         domain = \"0xC89Ce4735882C9F0f0FE26686c53074E09B0D550\"\ncatalog = \"0xD833215cBcc3f914bD1C9ece3EE7BF8B14f841bb\"\n\
         market = \"0x9561C133DD8580860B6b7E504bC5Aa500f0f06a7\"\nchannel = \"0xe982E462b094850F12AF94d21D470e21bE9D0E9C\"\n",
    )
    .unwrap();
    // The delegates' cryptosign key, as their `-key` service makes it.
    let o = Command::new(BIN)
        .args(["keygen", "--out", state_dir.path().to_str().unwrap()])
        .args(["--name", "wamp"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let wamp_key = state_dir.path().join("wamp.priv");
    for s in ["maker", "seller", "buyer"] {
        let svc = &c["services"][s];
        assert_eq!(
            svc["user"].as_str(),
            Some("10001:10001"),
            "{s} runs as the non-root user"
        );
        assert_eq!(
            svc["read_only"].as_bool(),
            Some(true),
            "{s} has a read-only root fs"
        );
        let ports = svc["ports"].as_sequence().unwrap();
        assert!(
            ports
                .iter()
                .all(|p| p.as_str().unwrap().starts_with("127.0.0.1:")),
            "{s}: admin published on loopback only"
        );
        assert_eq!(
            svc["depends_on"]["market-setup"]["condition"].as_str(),
            Some("service_completed_successfully")
        );
        let cmd: Vec<&str> = svc["command"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&cmd[..2], &["run", "-c"]);
        let cfg = repo()
            .join("config")
            .join(Path::new(cmd[2]).strip_prefix("/etc/xbrd").unwrap());
        // The container's environment, with its paths mapped onto this machine.
        let mut check = Command::new(BIN);
        check
            .args(["config", "check", "-c", cfg.to_str().unwrap()])
            .env_clear();
        let mut key_file = None;
        for (k, v) in svc["environment"].as_mapping().unwrap() {
            let (k, v) = (k.as_str().unwrap(), v.as_str().unwrap());
            let v = match k {
                "XBRD__ETHEREUM__CONTRACTS_FILE" => contracts.to_str().unwrap(),
                "XBRD__STORE__STATE_DIR" => state_dir.path().to_str().unwrap(),
                "XBRD__AUTHENTICATION__PRIVATE_KEY_FILE" => {
                    key_file = Some(PathBuf::from(v));
                    wamp_key.to_str().unwrap()
                }
                _ => v,
            };
            check.env(k, v);
        }
        let o = check.output().unwrap();
        assert!(
            o.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let eff: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let method = eff["authentication"]["method"].as_str().unwrap();
        if s == "maker" {
            // The socket's static authentication gives role xbrmm.
            assert_eq!(eff["transports"][0]["url"], maker_url.as_str(), "{s}");
            assert_eq!(method, "anonymous", "{s}");
            // `[market] max_channel_amount` unset: the maker's default cap, 1000 XBR.
            assert_eq!(
                eff["market"]["max_channel_amount"],
                xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT.to_string()
            );
        } else {
            assert_eq!(eff["transports"][0]["url"], "ws://crossbar:8080/ws", "{s}");
            assert_eq!(method, "cryptosign", "{s}");
            check_key_service(&c, s, cmd[2], &key_file.unwrap());
        }
        assert_eq!(eff["ethereum"]["gateway"], "http://ganache:8545/", "{s}");
        assert_eq!(
            eff["ethereum"]["contracts"]["token"], "0xCfEB869F69431e42cdB54A4F4f105C19C080A601",
            "{s}: the deploy file wins"
        );
        let admin = eff["admin"]["listen"].as_str().unwrap();
        let published = svc["ports"][0].as_str().unwrap();
        assert!(
            published.ends_with(&admin[admin.rfind(':').unwrap()..]),
            "{s}: publishes its admin port {admin}"
        );
    }
    let setup: Vec<&str> = c["services"]["market-setup"]["command"][0]
        .as_str()
        .unwrap()
        .lines()
        .collect();
    assert!(
        setup.iter().any(|l| l.contains("xbrd chain deploy"))
            && setup.iter().any(|l| l.contains("xbrd chain bootstrap"))
    );
    assert!(repo().join("config/dev-market.toml").exists());
}

#[test]
fn dev_market_description_is_valid() {
    let text = std::fs::read_to_string(repo().join("config/dev-market.toml")).unwrap();
    let desc: xbr_chain::MarketDescription = toml::from_str(&text).unwrap();
    desc.validate().unwrap();
    assert_eq!(desc.channels.len(), 2);
    assert_eq!(
        desc.maker.key.address().to_checksum(None),
        "0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9"
    );
}

/// The Dockerfile's instructions, `\`-continued lines joined, comments left out.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/docker/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let (i, a) = current.trim().split_once(' ').unwrap();
                out.push((i.to_uppercase(), a.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// The JSON exec form after `prefix` (e.g. `CMD [...]`).
fn exec_form(args: &str) -> Vec<String> {
    let json = &args[args.find('[').expect("exec form")..];
    serde_json::from_str(json).unwrap()
}

/// The image as shipped: its health check, run against a daemon started with the image's default
/// command, configuration and environment (paths mapped onto a temporary directory), passes once
/// the admin API is up and fails before; nothing misleading is exposed.
#[test]
fn image_health_check_follows_the_configured_admin_address() {
    let instr = dockerfile_instructions();
    let get = |name: &str| -> Vec<&str> {
        instr
            .iter()
            .filter(|(i, _)| i == name)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    assert!(
        get("EXPOSE").is_empty(),
        "the admin API binds loopback: no EXPOSE"
    );
    let health = exec_form(get("HEALTHCHECK")[0]);
    let cmd = exec_form(get("CMD").last().unwrap());
    let entrypoint = exec_form(get("ENTRYPOINT")[0]);
    assert_eq!(
        health[0], entrypoint[0],
        "the health check runs the image's binary"
    );
    assert_eq!(health[1], "health");
    let env: Vec<(String, String)> = get("ENV")
        .iter()
        .flat_map(|a| a.split_whitespace())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let image_config = &env.iter().find(|(k, _)| k == "XBRD_CONFIG").unwrap().1;
    let (copied_from, config_dir) = get("COPY")
        .iter()
        .find_map(|a| a.strip_prefix("config/ "))
        .map(|dir| ("config", dir.trim().trim_end_matches('/')))
        .expect("the configs are copied into the image");

    // The image's directories, here.
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc");
    let state = tmp.path().join("state");
    std::fs::create_dir_all(etc.join("keys")).unwrap();
    for entry in std::fs::read_dir(repo().join(copied_from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), etc.join(entry.file_name())).unwrap();
    }
    let local = |p: &str| -> String {
        if let Some(rest) = p.strip_prefix(config_dir) {
            format!("{}{rest}", etc.display())
        } else if let Some(rest) = p.strip_prefix("/var/lib/xbrd") {
            format!("{}{rest}", state.display())
        } else {
            p.to_owned()
        }
    };
    let config = PathBuf::from(local(image_config));
    // The configured admin port is not the default one (what the health check used to probe);
    // moved to a free port so that parallel tests do not collide.
    let text = std::fs::read_to_string(&config).unwrap();
    let listen = text
        .lines()
        .find_map(|l| l.strip_prefix("listen = \""))
        .and_then(|l| l.split('"').next())
        .expect("[admin] listen in the image's config")
        .to_owned();
    assert_ne!(listen, xbrd::config::DEFAULT_ADMIN_LISTEN);
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    std::fs::write(&config, text.replace(&listen, &free.to_string())).unwrap();
    let key_path = etc.join("keys/seller.priv");
    std::fs::write(&key_path, common::SELLER_KEY).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let closed_router = format!("ws://127.0.0.1:{}/ws", common::free_port());

    let image_env = |c: &mut Command| {
        c.env_clear();
        for (k, v) in &env {
            c.env(k, local(v));
        }
        // Nothing else is reached: the router is a closed port.
        c.env("XBR_INSTANCE", &closed_router);
    };
    let probe = || {
        let mut c = Command::new(BIN);
        image_env(&mut c);
        c.args(&health[1..]).output().unwrap()
    };
    assert_eq!(probe().status.code(), Some(1), "nothing listens yet");
    let mut run = Command::new(BIN);
    image_env(&mut run);
    run.args(&cmd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut daemon = common::Daemon {
        child: run.spawn().unwrap(),
        admin: free.to_string(),
        dir: etc.clone(),
    };
    common::wait_for(
        "the image's health check to pass",
        std::time::Duration::from_secs(30),
        || probe().status.success(),
    );
    daemon.signal("TERM");
    let (code, _) = daemon.wait_exit(std::time::Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(probe().status.code(), Some(1), "stopped: unhealthy");
}

/// Each daemon service of the compose file names its `-c` configuration in `XBRD_CONFIG` too,
/// which the image's health check reads.
#[test]
fn compose_services_give_the_health_check_their_config() {
    let c = yaml(&repo().join("deploy/compose.yaml"));
    for s in ["maker", "seller", "buyer"] {
        let svc = &c["services"][s];
        let cmd = svc["command"][2].as_str().unwrap();
        assert_eq!(svc["environment"]["XBRD_CONFIG"].as_str(), Some(cmd), "{s}");
    }
}

/// The production router config: the realm-trust roles of the dev one, TLS on the only public
/// transport with cryptosign alone (no anonymous session anywhere but the maker's Unix socket), and
/// Crossbar's own validator accepts it.
#[test]
fn production_crossbar_config_is_tls_and_cryptosign_only() {
    let read = |name: &str| -> serde_json::Value {
        let path = repo().join("deploy/crossbar").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let (dev, prod) = (read("config.json"), read("config.production.json"));
    let worker = &prod["workers"][0];
    let realm = &worker["realms"][0];
    assert_eq!(realm["name"], dev["workers"][0]["realms"][0]["name"]);
    let role_names: Vec<&str> = realm["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(role_names, ["xbrmm", "user"], "no anonymous role");
    for role in realm["roles"].as_array().unwrap() {
        let same = dev["workers"][0]["realms"][0]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == role["name"])
            .unwrap();
        assert_eq!(
            role, same,
            "the realm-trust role {} as in the dev config",
            role["name"]
        );
    }
    let transports = worker["transports"].as_array().unwrap();
    assert_eq!(transports.len(), 2);
    for t in transports {
        let endpoint = &t["endpoint"];
        if endpoint["type"] == "unix" {
            // The maker's socket: the only place of role xbrmm, like the dev config.
            assert_eq!(t, &dev["workers"][0]["transports"][1]);
            continue;
        }
        assert_eq!(endpoint["type"], "tcp");
        let tls = &endpoint["tls"];
        for key in ["key", "certificate"] {
            assert!(
                tls[key].as_str().is_some_and(|p| p.starts_with("tls/")),
                "{key}"
            );
        }
        let paths = t["paths"].as_object().unwrap();
        assert_eq!(paths.keys().collect::<Vec<_>>(), ["ws"]);
        let auth = paths["ws"]["auth"].as_object().unwrap();
        assert_eq!(
            auth.keys().collect::<Vec<_>>(),
            ["cryptosign"],
            "cryptosign only"
        );
        assert_eq!(
            auth["cryptosign"]["authenticator"],
            "xbr.marketmaker.authenticator.authenticate"
        );
    }
    // Crossbar's own configuration check.
    let node = tempfile::tempdir().unwrap();
    std::fs::write(
        node.path().join("config.json"),
        serde_json::to_string_pretty(&prod).unwrap(),
    )
    .unwrap();
    let o = Command::new(xbrd_testkit::peers_dir().join("venv/bin/crossbar"))
        .args(["check", "--cbdir", node.path().to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("looks good"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

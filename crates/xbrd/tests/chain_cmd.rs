//! `xbrd chain` onboarding as an operator runs it, through the real binary on ganache and on anvil:
//! deploy, member get/register (explicit EULA), market create/get/join (security approved), actor
//! get, payment channel open/get, balance; each with its failing case (a wrong chain id, an
//! unfunded account, a decoded revert, a market that does not exist, an actor of the wrong kind).

mod chain_support;
mod common;

use std::path::PathBuf;

use serde_json::Value;
use xbr_chain::{ContractAddresses, SimpleBlockchain};
use xbr_core::eth::EthPrivateKey;
use xbrd_testkit::{ChainKind, DEV_KEYS, DevChain};

use chain_support::xbrd;
use common::write_key;

/// Dev-chain accounts: deployer (holds the XBR supply), market owner, provider, consumer, the
/// consumer's delegate, the market maker.
const DEPLOYER: usize = 0;
const OWNER: usize = 1;
const PROVIDER: usize = 2;
const CONSUMER: usize = 3;
const DELEGATE: usize = 5;
const MAKER: usize = 6;
/// A key no dev chain funds.
const UNFUNDED: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const MARKET: &str = "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1";
const CHANNEL: &str = "b1b1b1b1-b1b1-b1b1-b1b1-b1b1b1b1b1b1";
const XBR: u128 = 1_000_000_000_000_000_000;

fn address(i: usize) -> String {
    EthPrivateKey::from_hex(DEV_KEYS[i])
        .unwrap()
        .address()
        .to_checksum(None)
}

/// A dev chain with the XBR contracts deployed by `xbrd chain deploy`, and the key files.
struct Onboarding {
    chain: DevChain,
    dir: tempfile::TempDir,
}

impl Onboarding {
    fn key(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("key{i}"))
    }

    fn contracts(&self) -> PathBuf {
        self.dir.path().join("contracts.toml")
    }

    /// `xbrd chain <args> --gateway … --contracts-file … --chain-id 1337`.
    fn chain_args<S: AsRef<str>>(&self, args: &[S]) -> Vec<String> {
        let mut v = vec!["chain".to_string()];
        v.extend(args.iter().map(|s| s.as_ref().to_owned()));
        v.extend([
            "--gateway".into(),
            self.chain.url.clone(),
            "--contracts-file".into(),
            self.contracts().display().to_string(),
            "--chain-id".into(),
            self.chain.chain_id.to_string(),
        ]);
        v
    }

    /// A command expected to succeed; its `--json` output.
    fn ok<S: AsRef<str>>(&self, args: &[S]) -> Value {
        chain_support::ok(&self.chain_args(args))
    }

    /// A command expected to fail (exit ≠ 0); its stderr.
    fn fails<S: AsRef<str>>(&self, args: &[S]) -> String {
        chain_support::fails(&self.chain_args(args))
    }

    fn key_flag(&self, i: usize) -> String {
        self.key(i).display().to_string()
    }

    /// XBR held by account `i`, read with `xbrd chain balance`.
    fn xbr(&self, i: usize) -> u128 {
        let b = self.ok(&["balance", &address(i)]);
        b["xbr"].as_str().unwrap().parse().unwrap()
    }
}

fn deploy(kind: ChainKind) -> Onboarding {
    let chain = DevChain::start(kind);
    let dir = tempfile::tempdir().unwrap();
    for (i, key) in DEV_KEYS.iter().enumerate() {
        write_key(dir.path(), &format!("key{i}"), key);
    }
    write_key(dir.path(), "unfunded", UNFUNDED);
    let o = Onboarding { chain, dir };
    let deploy = |chain_id: &str| {
        xbrd(&[
            "chain".into(),
            "deploy".into(),
            "--json".into(),
            "--gateway".into(),
            o.chain.url.clone(),
            "--chain-id".into(),
            chain_id.into(),
            "--key-file".into(),
            o.key_flag(DEPLOYER),
            "--bytecode".into(),
            xbrd_testkit::contracts_dir().display().to_string(),
            "--out".into(),
            o.contracts().display().to_string(),
        ])
    };
    // Another chain than the one asked for: nothing deployed, nothing written.
    let wrong = deploy("5");
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success());
    assert!(err.contains("serves chain 1337, but chain 5"), "{err}");
    assert!(!o.contracts().exists());
    let out = deploy(&o.chain.chain_id.to_string());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chain_id"], 1337);
    assert!(o.contracts().exists());
    o
}

/// Gives `to` 100 XBR from the deployer (the CLI has no token transfer: the reference had none).
fn fund_xbr(o: &Onboarding, to: usize) {
    let text = std::fs::read_to_string(o.contracts()).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let c = &table["ethereum"]["contracts"];
    let a = |name: &str| c[name].as_str().unwrap().parse().unwrap();
    let addresses = ContractAddresses {
        token: a("token"),
        network: a("network"),
        domain: a("domain"),
        catalog: a("catalog"),
        market: a("market"),
        channel: a("channel"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (chain, _) = SimpleBlockchain::connect(&o.chain.url, addresses)
            .await
            .unwrap();
        let from = EthPrivateKey::from_hex(DEV_KEYS[DEPLOYER]).unwrap();
        let to = EthPrivateKey::from_hex(DEV_KEYS[to]).unwrap().address();
        chain
            .transfer_xbr(&from, to, xbr_chain::U256::from(100 * XBR))
            .await
            .unwrap();
    });
}

/// A keystore made by `cast wallet new` (mode 0600) and its passphrase file; its address.
fn cast_keystore(dir: &std::path::Path) -> (String, String, String) {
    let (keystore, address) = xbrd_testkit::cast_wallet_new(dir, "operator", "correct horse");
    let passphrase = write_key(dir, "operator.pass", "correct horse\n");
    (
        keystore.display().to_string(),
        passphrase.display().to_string(),
        address,
    )
}

fn register(o: &Onboarding, i: usize, eula: &str) -> Value {
    o.ok(&[
        "member",
        "register",
        "--key-file",
        &o.key_flag(i),
        "--eula",
        eula,
    ])
}

fn onboarding(kind: ChainKind) {
    let o = deploy(kind);

    // member get (and the older spelling `member ADDRESS`).
    let owner = address(OWNER);
    let m = o.ok(&["member", "get", &owner]);
    assert_eq!(m["is_member"], false);
    let eula = m["network_eula"].as_str().unwrap().to_owned();
    assert!(eula.starts_with("Qm"), "{m}");
    assert_eq!(o.ok(&["member", &owner]), m);

    // member register: the EULA must be accepted explicitly, and be the network's.
    let missing = o.fails(&["member", "register", "--key-file", &o.key_flag(OWNER)]);
    assert!(missing.contains(&format!("--eula {eula}")), "{missing}");
    let wrong = o.fails(&[
        "member",
        "register",
        "--key-file",
        &o.key_flag(OWNER),
        "--eula",
        "QmNotTheEula",
    ]);
    assert!(wrong.contains("is not the network's EULA"), "{wrong}");
    let unfunded = o.dir.path().join("unfunded").display().to_string();
    let poor = o.fails(&[
        "member",
        "register",
        "--key-file",
        &unfunded,
        "--eula",
        &eula,
    ]);
    assert!(
        poor.contains("has 0 wei but the transaction may cost"),
        "{poor}"
    );
    let r = register(&o, OWNER, &eula);
    assert_eq!(r["is_member"], true);
    assert_eq!(r["level"], "ACTIVE");
    assert_eq!(r["eula"], eula.as_str());
    assert!(r["transaction"]["hash"].as_str().unwrap().starts_with("0x"));
    let again = register(&o, OWNER, &eula);
    assert_eq!(again["is_member"], true);
    assert!(again.get("transaction").is_none(), "nothing sent: {again}");
    assert_eq!(o.ok(&["member", "get", &owner])["is_member"], true);

    // An operator's key as Foundry keeps it: a keystore v3 file and its passphrase file.
    let (keystore, passphrase, ks_address) = cast_keystore(o.dir.path());
    o.chain.set_balance(&ks_address, "0xde0b6b3a7640000");
    let ks = o.ok(&[
        "member",
        "register",
        "--key-file",
        &keystore,
        "--passphrase-file",
        &passphrase,
        "--eula",
        &eula,
    ]);
    assert_eq!(
        ks["address"].as_str().unwrap().to_lowercase(),
        ks_address.to_lowercase()
    );
    assert_eq!(ks["is_member"], true);

    // market create: only a member may; the revert reason is decoded.
    let maker = address(MAKER);
    let create = [
        "market",
        "create",
        "--market-id",
        MARKET,
        "--maker",
        &maker,
        "--consumer-security",
        "10 XBR",
        "--terms",
        "QmTerms",
        "--key-file",
    ];
    let not_member = o.fails(&[&create[..], &[&o.key_flag(PROVIDER)]].concat());
    assert!(
        not_member.contains("XBRMarket.createMarket reverted: SENDER_NOT_A_MEMBER"),
        "{not_member}"
    );
    let created = o.ok(&[&create[..], &[&o.key_flag(OWNER)]].concat());
    assert_eq!(created["market_id"], MARKET);
    assert_eq!(created["owner"], owner.as_str());
    assert_eq!(created["maker"], maker.as_str());
    assert_eq!(created["consumer_security"], (10 * XBR).to_string());
    assert_eq!(created["terms"], "QmTerms");
    let by_id = o.ok(&["market", "get", MARKET]);
    assert_eq!(by_id["owner"], owner.as_str());
    assert_eq!(o.ok(&["market", "get", "--maker", &maker]), by_id);

    // market join: the security is approved and paid; an unknown market is refused up front.
    register(&o, PROVIDER, &eula);
    register(&o, CONSUMER, &eula);
    fund_xbr(&o, CONSUMER);
    let join = |market: &str, actor: &str, member: usize| {
        let key = o.key_flag(member);
        [
            "market",
            "join",
            "--market-id",
            market,
            "--actor",
            actor,
            "--key-file",
            &key,
        ]
        .map(str::to_owned)
    };
    let unknown = o.fails(&join(
        "c0c0c0c0-c0c0-c0c0-c0c0-c0c0c0c0c0c0",
        "consumer",
        CONSUMER,
    ));
    assert!(unknown.contains("no market"), "{unknown}");
    let joined = o.ok(&join(MARKET, "consumer", CONSUMER));
    assert_eq!(joined["actor"], "consumer");
    assert_eq!(joined["security_paid"], (10 * XBR).to_string());
    assert_eq!(o.xbr(CONSUMER), 90 * XBR);
    let provider = o.ok(&join(MARKET, "provider", PROVIDER));
    assert_eq!(provider["actor"], "provider");
    assert_eq!(provider["security_paid"], "0");

    // actor get.
    let a = o.ok(&["actor", "get", &address(CONSUMER), "--market-id", MARKET]);
    assert_eq!(a["actor"], "consumer");
    assert_eq!(a["consumer"]["security"], (10 * XBR).to_string());
    assert_eq!(a["provider"], Value::Null);
    let none = o.ok(&["actor", "get", &owner, "--market-id", MARKET]);
    assert_eq!(none["actor"], Value::Null);

    // channel open (payment): the consumer approves and opens; the recipient is the owner.
    let open = |member: usize| {
        [
            "channel".to_string(),
            "open".into(),
            "--type".into(),
            "payment".into(),
            "--market-id".into(),
            MARKET.into(),
            "--channel-id".into(),
            CHANNEL.into(),
            "--delegate".into(),
            address(DELEGATE),
            "--amount".into(),
            "50 XBR".into(),
            "--key-file".into(),
            o.key_flag(member),
        ]
    };
    let not_consumer = o.fails(&open(PROVIDER));
    assert!(
        not_consumer.contains("has not joined market") && not_consumer.contains("Consumer"),
        "{not_consumer}"
    );
    let c = o.ok(&open(CONSUMER));
    assert_eq!(c["channel_id"], CHANNEL);
    assert_eq!(c["type"], "payment");
    assert_eq!(c["state"], "open");
    assert_eq!(c["actor"], address(CONSUMER).as_str());
    assert_eq!(c["delegate"], address(DELEGATE).as_str());
    assert_eq!(c["recipient"], owner.as_str());
    assert_eq!(c["marketmaker"], maker.as_str());
    assert_eq!(c["amount"], (50 * XBR).to_string());
    assert!(c["transaction"]["hash"].as_str().unwrap().starts_with("0x"));
    assert_eq!(o.xbr(CONSUMER), 40 * XBR);
    let got = o.ok(&["channel", "get", CHANNEL]);
    assert_eq!(got["state"], "open");
    assert_eq!(got["closing"]["closed_at"], "0");

    // Reads on another chain than asked for are refused too.
    let mut args = o.chain_args(&["channel", "get", CHANNEL]);
    *args.last_mut().unwrap() = "5".into();
    let o5 = xbrd(&args);
    assert!(!o5.status.success());
    assert!(String::from_utf8_lossy(&o5.stderr).contains("but chain 5 is configured"));

    // Reads of what is not there, and input that is not an address.
    let nothing = "c0c0c0c0-c0c0-c0c0-c0c0-c0c0c0c0c0c0";
    assert!(o.fails(&["market", "get", nothing]).contains("no market"));
    let no_actor = o.fails(&["actor", "get", &owner, "--market-id", nothing]);
    assert!(no_actor.contains("no market"), "{no_actor}");
    assert!(o.fails(&["channel", "get", nothing]).contains("no channel"));
    assert!(
        o.fails(&["balance", "0x1234"])
            .contains("expected an Ethereum address")
    );
    assert!(
        o.fails(&["member", "get", "nobody"])
            .contains("expected an Ethereum address")
    );

    // bootstrap: the dev market's maker (account 6) works for the market created above already,
    // so creating the dev market reverts.
    let dev_market = xbrd_testkit::repo_root().join("config/dev-market.toml");
    let taken = o.fails(&[
        "bootstrap",
        "--market",
        dev_market.to_str().unwrap(),
        "--funder-key-file",
        &o.key_flag(DEPLOYER),
    ]);
    assert!(taken.contains("XBRMarket.createMarket reverted"), "{taken}");

    let text = xbrd(&o.chain_args(&["member", "get", &owner]));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.starts_with(&format!("{owner} is a member")),
        "{stdout}"
    );
    assert!(stdout.contains("  level: ACTIVE"), "{stdout}");
    assert!(
        String::from_utf8_lossy(&text.stderr).contains("connected"),
        "progress is logged"
    );
}

on_both_chains!(onboarding);

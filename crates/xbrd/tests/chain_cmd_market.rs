//! The channel commands that need a running market, through the real binary on ganache and on
//! anvil with Crossbar.io and the three roles as `xbrd run`: a seller's member asks the maker
//! for a paying channel (`xbrd chain channel open --type paying -c seller.toml`), and the buyer
//! and the seller close their channels through their daemons (`xbrd chain channel close -c …`),
//! the command returning once the chain shows them closing or closed; with the failing cases (a
//! member of the wrong kind, no delegate configuration, a channel closed already, a role that
//! holds no channel, a wrong chain id).

mod chain_support;
mod common;

use std::path::Path;

use chain_support::{fails, ok};

use common::market::{
    BUYER, CONSUMER, KEYS, MAKER, PAYING, PAYMENT, PROVIDER, Routes, SELLER, common_toml,
    deploy_market, description, key, prepare_role, register_delegate, run_role, start_role,
    wait_running, xbr,
};
use common::{free_admin, write_key};
use xbrd_testkit::{ChainKind, Crossbar, DevChain};

const API: &str = "627f1b5c-58c2-43b1-8422-a34f7d3f5a04";
const NEW_PAYING: &str = "c2c2c2c2-c2c2-c2c2-c2c2-c2c2c2c2c2c2";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn channels_through_the_daemons(kind: ChainKind) {
    let chain = DevChain::start(kind);
    let (_rt, deployed) = deploy_market(&chain, &description(500, 1000));
    let contracts = *deployed.addresses();
    let router = Crossbar::start();
    let routes = Routes::of(&router);
    let dir = tempfile::tempdir().unwrap();
    let (maker_admin, seller_admin, buyer_admin) = (free_admin(), free_admin(), free_admin());
    let maker = key(MAKER).address().to_checksum(None);
    let toml = |role: &str, admin: &str| common_toml(role, &routes, &chain.url, &contracts, admin);
    let maker_d = start_role(
        dir.path(),
        "marketmaker",
        MAKER,
        toml("marketmaker", &maker_admin),
        &maker_admin,
    );
    let seller_toml =
        toml("seller", &seller_admin) + &common::market::seller_market(&maker, API, "10s");
    let buyer_toml = toml("buyer", &buyer_admin)
        + &format!(
            "[market]\nmaker = \"{maker}\"\nmax_price = \"10 XBR\"\ntopics = [\"io.crossbar.example\"]\n"
        );
    let seller_cfg = prepare_role(dir.path(), "seller", SELLER, seller_toml);
    let buyer_cfg = prepare_role(dir.path(), "buyer", BUYER, buyer_toml);
    register_delegate(&seller_cfg, PROVIDER);
    register_delegate(&buyer_cfg, CONSUMER);
    let seller_d = run_role(&seller_cfg, &seller_admin);
    let buyer_d = run_role(&buyer_cfg, &buyer_admin);
    for d in [&maker_d, &seller_d, &buyer_d] {
        wait_running(d);
    }
    let keys = tempfile::tempdir().unwrap();
    let provider_key = write_key(keys.path(), "provider.key", KEYS[PROVIDER]);
    let consumer_key = write_key(keys.path(), "consumer.key", KEYS[CONSUMER]);
    let chain_id = chain.chain_id.to_string();

    // A paying channel: the seller's member signs, the maker funds and sends it.
    let open = |cfg: &Path, member_key: &Path| {
        vec![
            "chain".to_owned(),
            "channel".into(),
            "open".into(),
            "--type".into(),
            "paying".into(),
            "-c".into(),
            path(cfg).into(),
            "--key-file".into(),
            path(member_key).into(),
            "--amount".into(),
            "100 XBR".into(),
            "--channel-id".into(),
            NEW_PAYING.into(),
        ]
    };
    let wrong_member = fails(&open(&buyer_cfg, &consumer_key));
    assert!(
        wrong_member.contains("has not joined market") && wrong_member.contains("Provider"),
        "{wrong_member}"
    );
    let opened = ok(&open(&seller_cfg, &provider_key));
    assert_eq!(opened["channel_id"], NEW_PAYING);
    assert_eq!(opened["type"], "paying");
    assert_eq!(opened["state"], "open");
    let provider = key(PROVIDER).address().to_checksum(None);
    assert_eq!(opened["actor"], provider.as_str());
    assert_eq!(opened["recipient"], provider.as_str());
    assert_eq!(
        opened["delegate"],
        key(SELLER).address().to_checksum(None).as_str()
    );
    assert_eq!(opened["marketmaker"], maker.as_str());
    assert_eq!(opened["amount"], xbr(100).to_string());
    assert_eq!(opened["transaction"]["sent_by"], "market maker");
    // Without the delegate's configuration the maker cannot be asked.
    let no_cfg = fails(&[
        "chain",
        "channel",
        "open",
        "--type",
        "paying",
        "--gateway",
        &chain.url,
        "--contracts-file",
        path(&write_contracts(dir.path(), &contracts)),
        "--key-file",
        path(&provider_key),
        "--amount",
        "1 XBR",
        "--delegate",
        &key(SELLER).address().to_checksum(None),
        "--market-id",
        "a1a1a1a1-a1a1-a1a1-a1a1-a1a1a1a1a1a1",
    ]);
    assert!(no_cfg.contains("give -c"), "{no_cfg}");

    // Closing goes through the delegate daemons; the command returns once the chain shows it.
    // The configurations pin the chain id; `--chain-id` overrides it.
    let close = |cfg: &Path, chain_id: &str| {
        let mut args = ["chain", "channel", "close", "-c", path(cfg)]
            .map(str::to_owned)
            .to_vec();
        if !chain_id.is_empty() {
            args.extend(["--chain-id".into(), chain_id.into()]);
        }
        args
    };
    let wrong_chain = fails(&close(&buyer_cfg, "5"));
    assert!(
        wrong_chain.contains("but chain 5 is configured"),
        "{wrong_chain}"
    );
    let closed = ok(&close(&buyer_cfg, &chain_id));
    assert_eq!(closed["channel_id"], PAYMENT.to_string());
    assert!(
        matches!(closed["state"].as_str(), Some("closing" | "closed")),
        "{closed}"
    );
    assert_eq!(closed["daemon"]["channel_type"], "payment");
    assert_eq!(closed["daemon"]["balance"], xbr(500).to_string());
    let again = fails(&close(&buyer_cfg, &chain_id));
    assert!(again.contains("refused to close the channel"), "{again}");
    let paying = ok(&close(&seller_cfg, ""));
    assert_eq!(paying["channel_id"], PAYING.to_string());
    assert!(
        matches!(paying["state"].as_str(), Some("closing" | "closed")),
        "{paying}"
    );
    assert_eq!(paying["daemon"]["channel_type"], "paying");
    let maker_cfg = maker_d.dir.join("marketmaker.toml");
    let not_delegate = fails(&close(&maker_cfg, &chain_id));
    assert!(
        not_delegate.contains("not available for role"),
        "{not_delegate}"
    );
}

/// The contract addresses as `xbrd chain deploy` writes them.
fn write_contracts(dir: &Path, c: &xbr_chain::ContractAddresses) -> std::path::PathBuf {
    let p = dir.join("contracts.toml");
    c.write_files(&p, &dir.join("contracts.env")).unwrap();
    p
}

on_both_chains!(channels_through_the_daemons);

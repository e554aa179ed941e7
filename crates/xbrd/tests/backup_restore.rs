//! `xbrd backup` of a live store while it is written, then `xbrd restore` into another daemon's
//! state: the backup is one consistent snapshot (the seller's money-path invariants hold over it),
//! taken in the middle of the writes, and the restore keeps the store it replaces.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use alloy_primitives::U256;
use common::{BIN, wait_for, write_seller_config};
use xbr_core::{ApiId, ChannelId, KeyId, MarketId, Signature};
use xbr_market::SqliteStore;
use xbr_market::store::SellerStore;
use xbr_market::types::{LocalChannel, SellerKey, SellerSale};

const DEPOSIT: u64 = 1_000_000;

fn xbrd(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("XBRD_CONFIG")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn id(n: u64, tag: u8) -> [u8; 16] {
    let mut b = [tag; 16];
    b[..8].copy_from_slice(&n.to_be_bytes());
    b
}

/// One sale of key `n` on the channel (seq `n`, one base unit each), its key stored first.
fn sell(store: &SqliteStore, channel: ChannelId, n: u64) {
    let key_id = KeyId::new(id(n, 1));
    store
        .put_seller_key(&SellerKey {
            key_id,
            api_id: ApiId::new(id(0, 2)),
            created: n,
            wrapped_key: vec![7; 48],
            offered: true,
        })
        .unwrap();
    store
        .record_sale(&SellerSale {
            channel_oid: channel,
            seq: n,
            created: n,
            key_id,
            buyer_pubkey: [3; 32],
            amount: U256::from(1u64),
            balance: U256::from(DEPOSIT - n),
            maker_signature: Signature([4; 65]),
            seller_signature: Signature([5; 65]),
            voided: false,
        })
        .unwrap();
}

/// The live sales in the database at `path`, read without changing the file.
fn sales(path: &Path) -> usize {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(
        "SELECT count(*) FROM seller_sale WHERE voided = 0",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

/// A seller's config in `dir` (nothing listening at its router or gateway) and its store's path
/// (the state directory created).
fn seller_dir(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let cfg = write_seller_config(
        dir,
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:2",
        &common::free_admin(),
    );
    (cfg, dir.join("state/xbrd.sqlite"))
}

#[test]
fn backup_of_a_store_being_written_restores_with_its_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, store_path) = seller_dir(&dir.path().join("live"));

    // The writer: sales one after another until told to stop.
    let store = Arc::new(SqliteStore::open(&store_path).unwrap());
    let channel = ChannelId::new(id(9, 9));
    store
        .set_seller_channel(&LocalChannel {
            channel_oid: channel,
            market_oid: MarketId::new(id(8, 8)),
            seq: 0,
            balance: U256::from(DEPOSIT),
        })
        .unwrap();
    let (stop, written) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writer = {
        let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                sell(&store, channel, n);
                written.store(n, Ordering::SeqCst);
            }
        })
    };
    let limit = Duration::from_secs(60);
    wait_for("sales before the backup", limit, || {
        written.load(Ordering::SeqCst) >= 20
    });
    let out = dir.path().join("seller.backup");
    let report = json(&xbrd(&[
        "backup",
        "-c",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let at_backup_end = written.load(Ordering::SeqCst);
    wait_for("sales after the backup", limit, || {
        written.load(Ordering::SeqCst) >= at_backup_end + 20
    });
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(report["file"], out.to_str().unwrap());
    assert!(report["schema_version"].as_i64().unwrap() >= 1);
    let in_backup = sales(&out);
    let total = sales(&store_path);
    assert!(in_backup >= 20, "taken after the first sales: {in_backup}");
    assert!(
        in_backup < total,
        "taken before the last: {in_backup} of {total}"
    );

    // `--check` changes nothing; the restore puts the snapshot in place of another daemon's store.
    let (other_cfg, other_store) = seller_dir(&dir.path().join("other"));
    drop(SqliteStore::open(&other_store).unwrap());
    let from = ["--from", out.to_str().unwrap()];
    let checked = json(&xbrd(
        &[
            &["restore", "-c", other_cfg.to_str().unwrap(), "--check"][..],
            &from,
        ]
        .concat(),
    ));
    assert_eq!(checked["check_only"], true);
    assert_eq!(
        checked["invariants"]["violations"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(sales(&other_store), 0, "--check changes nothing");
    let restored = json(&xbrd(
        &[&["restore", "-c", other_cfg.to_str().unwrap()][..], &from].concat(),
    ));
    assert_eq!(
        restored["invariants"]["violations"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(sales(&other_store), in_backup);
    let kept = restored["replaced_store_kept_at"].as_str().unwrap();
    assert_eq!(sales(Path::new(kept)), 0, "the replaced store is kept");
    let channel_now = SqliteStore::open(&other_store)
        .unwrap()
        .seller_channel()
        .unwrap()
        .unwrap();
    assert_eq!(
        channel_now.seq as usize, in_backup,
        "the channel stands at the last sale"
    );
}

/// A daemon running on the store: backed up while it runs, but restore refuses; once stopped, a
/// file that is no store is refused and the store is left as it was.
#[test]
fn restore_refuses_a_running_daemon_and_a_bad_backup() {
    let dir = tempfile::tempdir().unwrap();
    let admin = common::free_admin();
    let cfg = write_seller_config(
        dir.path(),
        "ws://127.0.0.1:1/ws",
        "http://127.0.0.1:2",
        &admin,
    );
    let cfg = cfg.to_str().unwrap();
    let mut daemon = common::spawn(Path::new(cfg), &admin, |_| {});
    daemon.wait_up(Duration::from_secs(30));
    let store = dir.path().join("state/xbrd.sqlite");
    wait_for("the store", Duration::from_secs(30), || store.exists());
    let good = dir.path().join("good.backup");
    json(&xbrd(&[
        "backup",
        "-c",
        cfg,
        "--out",
        good.to_str().unwrap(),
    ]));
    let o = xbrd(&["restore", "-c", cfg, "--from", good.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("stop it before restoring"), "{err}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(10)).0, Some(0));

    let junk = dir.path().join("junk.backup");
    std::fs::write(&junk, b"not a database, not at all: just some bytes").unwrap();
    let before = std::fs::read(&store).unwrap();
    let o = xbrd(&["restore", "-c", cfg, "--from", junk.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        before,
        "the store is left as it was"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| !n.contains("before-restore") && !n.contains("restoring")),
        "{names:?}"
    );
}

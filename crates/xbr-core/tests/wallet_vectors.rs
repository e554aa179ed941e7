//! Wallet derivation against the reference test-suite vectors, and key-file loading.

mod common;

use common::{data, unhex};
use serde::Deserialize;
use xbr_core::address::{format_address, parse_address};
use xbr_core::wallet::{Mnemonic, WalletError, load_eth_key_file, load_raw_key_file};

#[derive(Deserialize)]
struct Account {
    index: u32,
    address: String,
    privkey: String,
}

#[derive(Deserialize)]
struct Accounts {
    mnemonic: String,
    accounts: Vec<Account>,
}

#[derive(Deserialize)]
struct Cryptosign {
    mnemonic: String,
    ed25519_pubkeys: Vec<String>,
}

#[derive(Deserialize)]
struct WalletVectors {
    ganache: Accounts,
    cryptosign: Cryptosign,
    avocado: Accounts,
}

fn vectors() -> WalletVectors {
    serde_json::from_str(&data("reference-wallet.json")).unwrap()
}

fn check_accounts(set: &Accounts) {
    let m = Mnemonic::parse(&set.mnemonic).unwrap();
    for a in &set.accounts {
        let key = m.eth_key(a.index).unwrap();
        assert_eq!(
            key.to_bytes().to_vec(),
            unhex(&a.privkey),
            "index {}",
            a.index
        );
        assert_eq!(
            format_address(&key.address()),
            a.address,
            "index {}",
            a.index
        );
    }
}

#[test]
fn ganache_accounts_0_to_19() {
    let v = vectors();
    assert_eq!(v.ganache.accounts.len(), 20);
    check_accounts(&v.ganache);
}

#[test]
fn ganache_accounts_match_the_shared_vector_roles() {
    let v = vectors();
    let shared: serde_json::Value = serde_json::from_str(&data("xbr-market-vectors.json")).unwrap();
    let m = Mnemonic::parse(&v.ganache.mnemonic).unwrap();
    // spec §4.5: member i=2, market owner i=3, seller delegate i=4, buyer delegate i=5, market maker i=6
    for (role, i) in [
        ("member_buyer", 2),
        ("market_owner", 3),
        ("seller_delegate", 4),
        ("buyer_delegate", 5),
        ("market_maker", 6),
    ] {
        let key = m.eth_key(i).unwrap();
        let want = parse_address(shared["keys"][role]["address"].as_str().unwrap()).unwrap();
        assert_eq!(key.address(), want, "{role}");
    }
}

#[test]
fn avocado_accounts() {
    let v = vectors();
    assert_eq!(v.avocado.accounts.len(), 5);
    check_accounts(&v.avocado);
}

#[test]
fn cryptosign_seeds_give_the_reference_ed25519_keys() {
    let v = vectors();
    let m = Mnemonic::parse(&v.cryptosign.mnemonic).unwrap();
    assert_eq!(v.cryptosign.ed25519_pubkeys.len(), 5);
    for (i, want) in v.cryptosign.ed25519_pubkeys.iter().enumerate() {
        let seed = m.cryptosign_seed(i as u32).unwrap();
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        assert_eq!(
            sk.verifying_key().to_bytes().to_vec(),
            unhex(want),
            "index {i}"
        );
    }
}

#[test]
fn generated_mnemonic_round_trips() {
    let mut rng = rand_core::OsRng;
    let m = Mnemonic::generate(16, &mut rng).unwrap();
    assert_eq!(m.word_count(), 12);
    let again = Mnemonic::parse(&m.phrase()).unwrap();
    assert_eq!(
        again.eth_key(0).unwrap().address(),
        m.eth_key(0).unwrap().address()
    );
    assert_eq!(Mnemonic::generate(32, &mut rng).unwrap().word_count(), 24);
    assert!(matches!(
        Mnemonic::generate(17, &mut rng),
        Err(WalletError::BadEntropy { len: 17 })
    ));
}

#[cfg(unix)]
fn write_key(dir: &std::path::Path, name: &str, content: &[u8], mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[cfg(unix)]
#[test]
fn key_files_hex_raw_and_permissions() {
    // the market maker key of the examples (`.xbrmm.key`, 32 raw bytes)
    let mm_hex = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52";
    let mm_addr = parse_address("0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9").unwrap();
    let dir = tempfile::tempdir().unwrap();

    let raw = write_key(dir.path(), "raw.key", &unhex(mm_hex), 0o600);
    assert_eq!(load_eth_key_file(&raw).unwrap().address(), mm_addr);
    let hex0x = write_key(
        dir.path(),
        "hex.key",
        format!("0x{mm_hex}\n").as_bytes(),
        0o400,
    );
    assert_eq!(load_eth_key_file(&hex0x).unwrap().address(), mm_addr);
    let bare = write_key(dir.path(), "bare.key", mm_hex.as_bytes(), 0o600);
    assert_eq!(load_raw_key_file(&bare).unwrap().to_vec(), unhex(mm_hex));

    let open = write_key(dir.path(), "open.key", mm_hex.as_bytes(), 0o644);
    match load_raw_key_file(&open) {
        Err(WalletError::InsecurePermissions { mode, .. }) => assert_eq!(mode, 0o644),
        other => panic!("expected InsecurePermissions, got {other:?}"),
    }
    let group = write_key(dir.path(), "group.key", mm_hex.as_bytes(), 0o640);
    assert!(matches!(
        load_raw_key_file(&group),
        Err(WalletError::InsecurePermissions { .. })
    ));

    let garbage = write_key(dir.path(), "bad.key", b"not a key", 0o600);
    assert!(matches!(
        load_raw_key_file(&garbage),
        Err(WalletError::BadKeyFile { .. })
    ));
    let zero = write_key(dir.path(), "zero.key", &[0u8; 32], 0o600);
    assert!(matches!(load_eth_key_file(&zero), Err(WalletError::Key(_))));
    assert!(matches!(
        load_raw_key_file(&dir.path().join("missing.key")),
        Err(WalletError::Io { .. })
    ));
    // the error message names the fix, the Debug of a loaded key does not show it
    let msg = load_raw_key_file(&open).unwrap_err().to_string();
    assert!(msg.contains("chmod 600"), "{msg}");
    let key = load_eth_key_file(&raw).unwrap();
    assert!(!format!("{key:?}").contains(&mm_hex[..16]));
}

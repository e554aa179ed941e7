use std::os::unix::fs::PermissionsExt;

use xbr_market::MemoryStore;

use super::*;

#[test]
fn kek_is_keccak_of_context_and_key() {
    let key = [7u8; 32];
    let mut input = b"xbrd data-key KEK v1".to_vec();
    input.extend_from_slice(&key);
    assert_eq!(
        data_key_kek(&key).as_bytes(),
        &alloy_primitives::keccak256(&input).0
    );
    assert_ne!(
        data_key_kek(&key).as_bytes(),
        data_key_kek(&[8; 32]).as_bytes()
    );
}

const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";

/// The repository's example seller configuration, with its key and state in `dir` (its router
/// and chain are not there).
fn seller_config(dir: &std::path::Path) -> Config {
    let key = dir.join("seller.key");
    std::fs::write(&key, format!("{SELLER_KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let repo = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let env = [
        ("XBRD__ETHEREUM__PRIVATE_KEY_FILE", key.to_str().unwrap()),
        ("XBRD__STORE__STATE_DIR", dir.to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    crate::config::load_with_env(&repo.join("config/seller.toml"), &env).unwrap()
}

#[tokio::test]
async fn a_role_runs_over_the_memory_store_and_is_served_only_once_attached() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = seller_config(dir.path());
    let slot = Arc::new(RoleSlot::default());
    let (role, observer) = build(RoleContext {
        stores: Stores::of(Arc::new(MemoryStore::new())),
        chain: Chain::new(&cfg),
        metrics: Arc::new(Metrics::new()),
        health: Arc::default(),
        peer: SessionPeer::unbound(Some(CALL_TIMEOUT)),
        slot: Arc::clone(&slot),
        cfg,
    })
    .unwrap();
    let declared = role.declarations(&observer);
    let uris: Vec<&str> = declared.procedures.iter().map(|p| p.uri.as_str()).collect();
    assert_eq!(uris.len(), 2, "{uris:?}");
    assert!(uris[0].starts_with("xbr.provider.0x") && uris[0].ends_with(".sell"));
    assert!(uris[1].ends_with(".close_channel"));
    assert!(declared.topics.is_empty());

    // No session yet: the seller cannot reach the maker, so the role is not served.
    let err = role.on_join().await.unwrap_err();
    assert!(err.uri.starts_with("xbr.error.transport"), "{err}");
    assert!(slot.get().is_err());
    role.stop();
}

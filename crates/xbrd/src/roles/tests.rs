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

/// A seller configuration in `dir` whose router and chain are not there.
fn seller_config(dir: &std::path::Path) -> Config {
    let key = dir.join("seller.key");
    std::fs::write(&key, format!("{SELLER_KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = dir.join("seller.toml");
    std::fs::write(
        &path,
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
"#,
    )
    .unwrap();
    crate::config::load(&path).unwrap()
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

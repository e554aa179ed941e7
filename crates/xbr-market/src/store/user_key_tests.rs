//! The maker's user keys, run against both store implementations.

use super::*;

fn key(n: u8, member: u8, created: u64) -> UserKey {
    UserKey {
        pubkey: [n; 32],
        member: Address::repeat_byte(member),
        created,
    }
}

fn user_key_suite(s: &dyn MakerStore) {
    assert_eq!(s.user_key(&[1; 32]).unwrap(), None);
    assert_eq!(
        s.add_user_key(&key(1, 7, 10), 2).unwrap(),
        KeyRegistration::Added
    );
    assert_eq!(s.user_key(&[1; 32]).unwrap(), Some(key(1, 7, 10)));
    // Registered again for the same member: kept as it was.
    assert_eq!(
        s.add_user_key(&key(1, 7, 99), 2).unwrap(),
        KeyRegistration::Known
    );
    assert_eq!(s.user_key(&[1; 32]).unwrap(), Some(key(1, 7, 10)));
    // Another member cannot take a registered key.
    assert_eq!(
        s.add_user_key(&key(1, 8, 11), 2).unwrap(),
        KeyRegistration::OtherMember(Address::repeat_byte(7))
    );
    assert_eq!(s.user_key(&[1; 32]).unwrap(), Some(key(1, 7, 10)));
    // At most two keys per member; other members are not counted.
    assert_eq!(
        s.add_user_key(&key(3, 8, 5), 2).unwrap(),
        KeyRegistration::Added
    );
    assert_eq!(
        s.add_user_key(&key(2, 7, 12), 2).unwrap(),
        KeyRegistration::Added
    );
    assert_eq!(
        s.add_user_key(&key(4, 7, 13), 2).unwrap(),
        KeyRegistration::TooMany
    );
    assert_eq!(s.user_key(&[4; 32]).unwrap(), None);
    assert_eq!(
        s.user_keys_of(&Address::repeat_byte(7)).unwrap(),
        vec![key(1, 7, 10), key(2, 7, 12)]
    );
    // A removed key frees its slot.
    assert!(s.remove_user_key(&[1; 32]).unwrap());
    assert!(!s.remove_user_key(&[1; 32]).unwrap());
    assert_eq!(
        s.add_user_key(&key(4, 7, 13), 2).unwrap(),
        KeyRegistration::Added
    );
    assert_eq!(
        s.user_keys_of(&Address::repeat_byte(7)).unwrap(),
        vec![key(2, 7, 12), key(4, 7, 13)]
    );
}

#[test]
fn memory_store_keeps_user_keys() {
    user_key_suite(&MemoryStore::new());
}

#[test]
fn sqlite_store_keeps_user_keys() {
    user_key_suite(&SqliteStore::open_in_memory().unwrap());
}

#[test]
fn sqlite_user_keys_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maker.db");
    SqliteStore::open(&path)
        .unwrap()
        .add_user_key(&key(1, 7, 10), 16)
        .unwrap();
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.user_key(&[1; 32]).unwrap(), Some(key(1, 7, 10)));
}

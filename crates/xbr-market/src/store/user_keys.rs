//! The rule both stores apply when a user key is registered (see
//! [`MakerStore::add_user_key`](super::MakerStore::add_user_key)).

use crate::types::{KeyRegistration, UserKey};

/// What registering `key` does, given the registration of its pubkey (`existing`) and how many
/// keys its member holds: `None` means store it ([`KeyRegistration::Added`]).
pub(super) fn refusal(
    key: &UserKey,
    existing: Option<&UserKey>,
    member_keys: usize,
    max_per_member: usize,
) -> Option<KeyRegistration> {
    match existing {
        Some(e) if e.member == key.member => Some(KeyRegistration::Known),
        Some(e) => Some(KeyRegistration::OtherMember(e.member)),
        None if member_keys >= max_per_member => Some(KeyRegistration::TooMany),
        None => None,
    }
}

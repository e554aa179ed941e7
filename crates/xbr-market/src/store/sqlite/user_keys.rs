//! The maker's user keys on SQLite (table `mm_user_key`): a delegate's cryptosign public key →
//! the member it was registered for.

use rusqlite::{Connection, Row, params};

use super::codec::{arr, i, u64_col};
use super::{query_all, query_opt};
use crate::store::StoreResult;
use crate::store::user_keys::refusal;
use crate::types::{Address, KeyRegistration, UserKey};

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<UserKey> {
    Ok(UserKey {
        pubkey: arr::<32>(row, 0)?,
        member: Address::from(arr::<20>(row, 1)?),
        created: u64_col(row, 2)?,
    })
}

/// The registration of `pubkey`.
pub(super) fn load(conn: &Connection, pubkey: &[u8; 32]) -> StoreResult<Option<UserKey>> {
    query_opt(
        conn,
        "SELECT pubkey, member, created FROM mm_user_key WHERE pubkey = ?1",
        [pubkey.as_slice()],
        key_from_row,
    )
}

/// A member's keys, oldest first.
pub(super) fn of_member(conn: &Connection, member: &Address) -> StoreResult<Vec<UserKey>> {
    query_all(
        conn,
        "SELECT pubkey, member, created FROM mm_user_key WHERE member = ?1 ORDER BY created, rowid",
        [member.as_slice()],
        key_from_row,
    )
}

/// Registers `key` (in the caller's transaction) unless [`refusal`] says otherwise.
pub(super) fn add(tx: &Connection, key: &UserKey, max: usize) -> StoreResult<KeyRegistration> {
    let count: i64 = tx.query_row(
        "SELECT COUNT(*) FROM mm_user_key WHERE member = ?1",
        [key.member.as_slice()],
        |r| r.get(0),
    )?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if let Some(refused) = refusal(key, load(tx, &key.pubkey)?.as_ref(), count, max) {
        return Ok(refused);
    }
    tx.execute(
        "INSERT INTO mm_user_key (pubkey, member, created) VALUES (?1, ?2, ?3)",
        params![
            key.pubkey.as_slice(),
            key.member.as_slice(),
            i(key.created)?
        ],
    )?;
    Ok(KeyRegistration::Added)
}

/// Deletes `pubkey`'s registration; `false` if there was none.
pub(super) fn remove(conn: &Connection, pubkey: &[u8; 32]) -> StoreResult<bool> {
    let n = conn.execute(
        "DELETE FROM mm_user_key WHERE pubkey = ?1",
        [pubkey.as_slice()],
    )?;
    Ok(n > 0)
}

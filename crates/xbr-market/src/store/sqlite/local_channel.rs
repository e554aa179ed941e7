//! The seller's and the buyer's active channel mirror: the same shape in two tables
//! (`seller_channel`, `buyer_channel`), at most one row of each marked active.

use rusqlite::{Connection, params};

use super::codec::{LOCAL_CHANNEL_COLS, b, i, local_channel_from_row};
use super::query_opt;
use crate::store::{StoreResult, rules};
use crate::types::{ChannelId, LocalChannel, U256};

/// Which mirror table.
#[derive(Clone, Copy)]
pub(super) enum Mirror {
    /// `seller_channel`: the seller's paying channel.
    Seller,
    /// `buyer_channel`: the buyer's payment channel.
    Buyer,
}

impl Mirror {
    fn table(self) -> &'static str {
        match self {
            Mirror::Seller => "seller_channel",
            Mirror::Buyer => "buyer_channel",
        }
    }
}

/// The active channel.
pub(super) fn active(conn: &Connection, mirror: Mirror) -> StoreResult<Option<LocalChannel>> {
    let sql = format!(
        "SELECT {LOCAL_CHANNEL_COLS} FROM {} WHERE active = 1",
        mirror.table()
    );
    query_opt(conn, &sql, [], local_channel_from_row)
}

/// Makes `c` the active channel, replacing its seq and balance if it is known.
pub(super) fn set_active(conn: &Connection, mirror: Mirror, c: &LocalChannel) -> StoreResult<()> {
    let table = mirror.table();
    conn.execute(
        &format!("UPDATE {table} SET active = 0 WHERE channel_oid != ?1"),
        [c.channel_oid.as_ref()],
    )?;
    conn.execute(
        &format!(
            "INSERT INTO {table} ({LOCAL_CHANNEL_COLS}, active) VALUES (?1, ?2, ?3, ?4, 1) \
             ON CONFLICT(channel_oid) DO UPDATE SET market_oid = ?2, seq = ?3, balance = ?4, active = 1"
        ),
        params![c.channel_oid.as_ref(), c.market_oid.as_ref(), i(c.seq)?, b(&c.balance).as_slice()],
    )?;
    Ok(())
}

/// Moves the active channel by a transaction of `amount` to `(seq_after, balance_after)`,
/// checked by [`rules::advance_local`].
pub(super) fn advance(
    conn: &Connection,
    mirror: Mirror,
    channel_oid: &ChannelId,
    seq_after: u64,
    balance_after: U256,
    amount: U256,
) -> StoreResult<()> {
    let current = active(conn, mirror)?;
    let next = rules::advance_local(
        current.as_ref(),
        channel_oid,
        seq_after,
        balance_after,
        amount,
    )?;
    conn.execute(
        &format!(
            "UPDATE {} SET seq = ?2, balance = ?3 WHERE channel_oid = ?1",
            mirror.table()
        ),
        params![
            next.channel_oid.as_ref(),
            i(next.seq)?,
            b(&next.balance).as_slice()
        ],
    )?;
    Ok(())
}

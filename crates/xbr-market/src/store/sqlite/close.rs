//! The maker's close intents on SQLite (table `mm_close_intent`, one row per channel): written
//! with the channel's move to Closing, advanced by the close worker, made final by the scan.

use rusqlite::{Connection, Row, params};

use super::codec::{arr, b, i, id, insert_sql, opt_arr, opt_i, opt_u64, sig, u64_col, u256};
use super::maker::mark_closing;
use super::{query_all, query_opt};
use crate::store::{StoreError, StoreResult, rules};
use crate::types::{ChannelClose, ChannelId, ChannelState, CloseIntent, CloseState, CloseTx};

/// `mm_close_intent`'s columns, in [`intent_from_row`]'s order.
const INTENT_COLS: &str = "channel_oid, close_at, seq, balance, is_final, del_sig, mm_sig, created, \
     state, tx_hash, submitted_at, attempts, mined_block, failure";

fn intent_from_row(row: &Row<'_>) -> rusqlite::Result<CloseIntent> {
    let state = CloseState::from_u64(u64_col(row, 8)?).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            8,
            rusqlite::types::Type::Integer,
            "unknown close state".into(),
        )
    })?;
    Ok(CloseIntent {
        channel_oid: id(row, 0)?,
        close_at: u64_col(row, 1)?,
        seq: u64_col(row, 2)?,
        balance: u256(row, 3)?,
        is_final: row.get(4)?,
        delegate_signature: sig(row, 5)?,
        marketmaker_signature: sig(row, 6)?,
        created: u64_col(row, 7)?,
        state,
        tx_hash: opt_arr::<32>(row, 9)?,
        submitted_at: opt_u64(row, 10)?,
        attempts: u32::try_from(u64_col(row, 11)?).unwrap_or(u32::MAX),
        mined_block: opt_u64(row, 12)?,
        failure: row.get(13)?,
        versions: Vec::new(),
    })
}

/// `mm_close_tx`'s columns, in [`close_tx_from_row`]'s order.
const TX_COLS: &str = "channel_oid, version, tx_hash, nonce, max_fee, max_tip, raw";

fn close_tx_from_row(row: &Row<'_>) -> rusqlite::Result<CloseTx> {
    Ok(CloseTx {
        hash: arr::<32>(row, 2)?,
        nonce: u64_col(row, 3)?,
        max_fee_per_gas: u128::from_be_bytes(arr::<16>(row, 4)?),
        max_priority_fee_per_gas: u128::from_be_bytes(arr::<16>(row, 5)?),
        raw: row.get(6)?,
    })
}

/// A close's transaction versions, oldest first.
fn load_versions(conn: &Connection, channel_oid: &ChannelId) -> StoreResult<Vec<CloseTx>> {
    let sql = format!("SELECT {TX_COLS} FROM mm_close_tx WHERE channel_oid = ?1 ORDER BY version");
    query_all(conn, &sql, [channel_oid.as_ref()], close_tx_from_row)
}

/// The intent with its transaction versions.
fn with_versions(conn: &Connection, mut c: CloseIntent) -> StoreResult<CloseIntent> {
    c.versions = load_versions(conn, &c.channel_oid)?;
    Ok(c)
}

/// Appends the versions of `c` that are not stored yet (stored ones never change).
fn append_versions(tx: &Connection, stored: &[CloseTx], c: &CloseIntent) -> StoreResult<()> {
    let new = rules::appended_close_txs(stored, &c.versions)?;
    for (n, v) in new.iter().enumerate() {
        let version = i(u64::try_from(stored.len() + n).unwrap_or(u64::MAX))?;
        tx.execute(
            &insert_sql("INSERT", "mm_close_tx", TX_COLS),
            params![
                c.channel_oid.as_ref(),
                version,
                v.hash.as_slice(),
                i(v.nonce)?,
                v.max_fee_per_gas.to_be_bytes().as_slice(),
                v.max_priority_fee_per_gas.to_be_bytes().as_slice(),
                v.raw,
            ],
        )?;
    }
    Ok(())
}

/// A channel's close intent.
pub(super) fn load_intent(
    conn: &Connection,
    channel_oid: &ChannelId,
) -> StoreResult<Option<CloseIntent>> {
    let sql = format!("SELECT {INTENT_COLS} FROM mm_close_intent WHERE channel_oid = ?1");
    query_opt(conn, &sql, [channel_oid.as_ref()], intent_from_row)?
        .map(|c| with_versions(conn, c))
        .transpose()
}

/// Every close intent, oldest first.
pub(super) fn all_intents(conn: &Connection) -> StoreResult<Vec<CloseIntent>> {
    let sql = format!("SELECT {INTENT_COLS} FROM mm_close_intent ORDER BY created, rowid");
    query_all(conn, &sql, [], intent_from_row)?
        .into_iter()
        .map(|c| with_versions(conn, c))
        .collect()
}

/// Marks the channel Closing and inserts the intent (in the caller's transaction).
pub(super) fn begin_close(
    tx: &Connection,
    close: &ChannelClose,
    c: &CloseIntent,
) -> StoreResult<()> {
    if load_intent(tx, &c.channel_oid)?.is_some() {
        return Err(StoreError::Duplicate("close intent"));
    }
    mark_closing(
        tx,
        &c.channel_oid,
        ChannelState::Open,
        ChannelState::Closing,
        close,
    )?;
    tx.execute(
        &insert_sql("INSERT", "mm_close_intent", INTENT_COLS),
        params![
            c.channel_oid.as_ref(),
            i(c.close_at)?,
            i(c.seq)?,
            b(&c.balance).as_slice(),
            c.is_final,
            c.delegate_signature.as_ref(),
            c.marketmaker_signature.as_ref(),
            i(c.created)?,
            c.state as i64,
            c.tx_hash.map(|t| t.to_vec()),
            opt_i(c.submitted_at)?,
            i64::from(c.attempts),
            opt_i(c.mined_block)?,
            c.failure,
        ],
    )?;
    append_versions(tx, &[], c)
}

/// Writes the worker's progress (compare-and-set on the state) and the channel's part of it.
pub(super) fn save_progress(
    tx: &Connection,
    c: &CloseIntent,
    expect: CloseState,
) -> StoreResult<()> {
    let n = tx.execute(
        "UPDATE mm_close_intent SET state = ?2, tx_hash = ?3, submitted_at = ?4, attempts = ?5, \
         mined_block = ?6, failure = ?7 WHERE channel_oid = ?1 AND state = ?8",
        params![
            c.channel_oid.as_ref(),
            c.state as i64,
            c.tx_hash.map(|t| t.to_vec()),
            opt_i(c.submitted_at)?,
            i64::from(c.attempts),
            opt_i(c.mined_block)?,
            c.failure,
            expect as i64,
        ],
    )?;
    if n != 1 {
        return Err(match load_intent(tx, &c.channel_oid)? {
            None => StoreError::NotFound("close intent"),
            Some(stored) => StoreError::Conflict(format!("close intent is {:?}", stored.state)),
        });
    }
    append_versions(tx, &load_versions(tx, &c.channel_oid)?, c)?;
    tx.execute(
        "UPDATE mm_channel SET closed_tx = ?2 WHERE channel_oid = ?1 AND close_seq IS NOT NULL",
        params![c.channel_oid.as_ref(), c.tx_hash.map(|t| t.to_vec())],
    )?;
    if let Some(state) = c.channel_state() {
        tx.execute(
            "UPDATE mm_channel SET state = ?2 WHERE channel_oid = ?1 AND state < ?2",
            params![c.channel_oid.as_ref(), state as i64],
        )?;
    }
    Ok(())
}

/// Makes the intent Final if the log that moved the channel to `log_state` ends it.
pub(super) fn finalize(
    tx: &Connection,
    channel_oid: &ChannelId,
    log_state: ChannelState,
) -> StoreResult<bool> {
    let Some(c) = load_intent(tx, channel_oid)? else {
        return Ok(false);
    };
    if !c.finalized_by(log_state) {
        return Ok(false);
    }
    tx.execute(
        "UPDATE mm_close_intent SET state = ?2 WHERE channel_oid = ?1",
        params![channel_oid.as_ref(), CloseState::Final as i64],
    )?;
    Ok(true)
}

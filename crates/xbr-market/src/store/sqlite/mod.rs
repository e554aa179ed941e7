//! SQLite store: one connection behind a mutex, WAL journal, busy timeout, schema migrations
//! tracked in `PRAGMA user_version` and applied from the embedded `migrations/*.sql`.
//!
//! This module opens the database and holds the query helpers; [`codec`] maps rows to records,
//! [`maker`], [`seller`] and [`buyer`] implement the three store traits, and [`local_channel`]
//! keeps the seller's and the buyer's active channel mirror (the same shape in two tables).

mod buyer;
mod close;
mod codec;
mod local_channel;
mod maker;
mod seller;
mod user_keys;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Params, Row, Transaction};
use rusqlite_migration::{M, Migrations};

use super::StoreResult;

/// The schema migrations, in order. Never edit an applied one; append a new file instead.
const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!(
        "../../../../../migrations/0001_market_initial.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0002_maker_scan_cursor.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0003_maker_sale_states.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0004_seller_sale_versions.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0005_buyer_purchase_intent.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0006_maker_close_intents.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0007_maker_user_keys.sql"
    )),
    M::up(include_str!(
        "../../../../../migrations/0008_maker_close_txs.sql"
    )),
];

/// How hard a commit waits for the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: a committed sale survives power loss (default).
    #[default]
    Full,
    /// `synchronous=NORMAL`: a committed sale survives a process crash; the last commits may be
    /// lost on power loss. Faster.
    Normal,
}

/// The SQLite implementation of the store traits.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to the latest schema.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, Durability::Full)
    }

    /// Like [`SqliteStore::open`] with an explicit durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> StoreResult<Self> {
        let conn = Connection::open(path)?;
        Self::init(conn, durability)
    }

    /// A private in-memory database (for tests).
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory()?, Durability::Normal)
    }

    fn init(mut conn: Connection, durability: Durability) -> StoreResult<Self> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version (`PRAGMA user_version`).
    pub fn schema_version(&self) -> StoreResult<i64> {
        Ok(self
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    pub(in crate::store) fn lock(&self) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an unfinished transaction on drop, so a poisoned lock still guards
        // a consistent database.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

// ------------------------------------------------------------------ query helpers

/// Every row a query returns, decoded.
fn query_all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map(params, decode)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The row a query returns, if any, decoded.
fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Option<T>> {
    Ok(conn.query_row(sql, params, decode).optional()?)
}

/// A page of a table in recording order: at most `limit` rows whose rowid is above `after`, each
/// with its rowid as the cursor. SQLite reads only the rows of the page (the rowid is the
/// table's key), and the cursor of a row never changes: rows are never deleted, so rowids are
/// 1, 2, … in the order the rows were recorded, the same numbering the memory store uses (and
/// `VACUUM`, which may renumber the rowids of a table without an INTEGER PRIMARY KEY, finds no
/// gaps to close).
fn page_by_rowid<T>(
    conn: &Connection,
    table: &str,
    cols: &str,
    after: u64,
    limit: usize,
    decode: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<(u64, T)>> {
    let sql = format!(
        "SELECT {cols}, rowid AS page_cursor FROM {table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
    );
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    query_all(conn, &sql, [after, limit], |row| {
        let rowid: i64 = row.get("page_cursor")?;
        // rowids of inserted rows are positive.
        Ok((rowid.unsigned_abs(), decode(row)?))
    })
}

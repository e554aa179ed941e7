//! SQLite store: one connection behind a mutex, WAL journal, busy timeout, schema migrations
//! tracked in `PRAGMA user_version` and applied from the embedded `migrations/*.sql`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use rusqlite_migration::{M, Migrations};

use super::memory::{check_advance, check_local_advance};
use super::{BuyerStore, MakerStore, SellerStore, StoreError, StoreResult};
use crate::types::{
    Address, Channel, ChannelClose, ChannelState, ChannelType, LocalChannel, Offer, OfferQuery,
    Oid, Purchase, Sale, SaleStatus, SellerKey, SellerSale, Signature, U256,
};

/// The schema migrations, in order. Never edit an applied one; append a new file instead.
const MIGRATIONS: &[M<'static>] = &[M::up(include_str!(
    "../../../../migrations/0001_market_initial.sql"
))];

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

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
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

// ------------------------------------------------------------------ column conversions

fn conv_err(idx: usize, msg: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Blob, msg.to_string().into())
}

fn arr<const N: usize>(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; N]> {
    let v: Vec<u8> = row.get(idx)?;
    v.try_into().map_err(|_| conv_err(idx, "wrong blob length"))
}

fn opt_arr<const N: usize>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<[u8; N]>> {
    let v: Option<Vec<u8>> = row.get(idx)?;
    v.map(|v| v.try_into().map_err(|_| conv_err(idx, "wrong blob length")))
        .transpose()
}

fn u256(row: &Row<'_>, idx: usize) -> rusqlite::Result<U256> {
    Ok(U256::from_be_bytes(arr::<32>(row, idx)?))
}

fn addr(row: &Row<'_>, idx: usize) -> rusqlite::Result<Address> {
    Ok(Address::from(arr::<20>(row, idx)?))
}

fn u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| conv_err(idx, "negative integer"))
}

fn opt_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| conv_err(idx, "negative integer")))
        .transpose()
}

fn b(v: &U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

fn i(v: u64) -> StoreResult<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("integer {v} exceeds the SQLite range")))
}

fn opt_i(v: Option<u64>) -> StoreResult<Option<i64>> {
    v.map(i).transpose()
}

// ------------------------------------------------------------------ market maker

const CHANNEL_COLS: &str = "channel_oid, channel_type, market_oid, member_oid, timestamp, open_at, marketmaker, \
     actor, delegate, recipient, amount, timeout, state, seq, remaining, inflight, close_seq, close_balance, \
     close_is_final, close_del_sig, close_mm_sig, closing_at, closed_tx";

fn channel_from_row(row: &Row<'_>) -> rusqlite::Result<Channel> {
    let channel_type = ChannelType::from_u64(u64_col(row, 1)?)
        .ok_or_else(|| conv_err(1, "unknown channel type"))?;
    let close = match opt_u64(row, 16)? {
        None => None,
        Some(seq) => Some(ChannelClose {
            seq,
            balance: opt_arr::<32>(row, 17)?
                .map(U256::from_be_bytes)
                .unwrap_or_default(),
            is_final: row.get::<_, Option<bool>>(18)?.unwrap_or(false),
            delegate_signature: row.get::<_, Option<Vec<u8>>>(19)?.unwrap_or_default(),
            marketmaker_signature: row.get(20)?,
            closing_at: opt_u64(row, 21)?.unwrap_or(0),
            closed_tx: opt_arr::<32>(row, 22)?,
        }),
    };
    Ok(Channel {
        channel_oid: arr(row, 0)?,
        channel_type,
        market_oid: arr(row, 2)?,
        member_oid: opt_arr(row, 3)?,
        timestamp: u64_col(row, 4)?,
        open_at: u256(row, 5)?,
        marketmaker: addr(row, 6)?,
        actor: addr(row, 7)?,
        delegate: addr(row, 8)?,
        recipient: addr(row, 9)?,
        amount: u256(row, 10)?,
        timeout: u64_col(row, 11)?,
        state: ChannelState::from_u64(u64_col(row, 12)?),
        seq: u64_col(row, 13)?,
        remaining: u256(row, 14)?,
        inflight: u256(row, 15)?,
        close,
    })
}

fn load_channel(conn: &Connection, oid: &Oid) -> StoreResult<Option<Channel>> {
    let sql = format!("SELECT {CHANNEL_COLS} FROM mm_channel WHERE channel_oid = ?1");
    Ok(conn
        .query_row(&sql, [oid.as_slice()], channel_from_row)
        .optional()?)
}

fn set_channel_money(
    conn: &Connection,
    oid: &Oid,
    seq: u64,
    remaining: &U256,
    inflight: &U256,
) -> StoreResult<()> {
    let n = conn.execute(
        "UPDATE mm_channel SET seq = ?2, remaining = ?3, inflight = ?4 WHERE channel_oid = ?1",
        params![
            oid.as_slice(),
            i(seq)?,
            b(remaining).as_slice(),
            b(inflight).as_slice()
        ],
    )?;
    if n != 1 {
        return Err(StoreError::NotFound("channel"));
    }
    Ok(())
}

const OFFER_COLS: &str = "offer_id, key_id, timestamp, seller, seller_session_id, seller_authid, api_id, uri, \
     valid_from, signature, price, categories, expires, copies, remaining";

fn offer_from_row(row: &Row<'_>) -> rusqlite::Result<Offer> {
    let categories: Option<String> = row.get(11)?;
    let categories = categories
        .map(|s| {
            serde_json::from_str(&s)
                .map_err(|_| conv_err(11, "categories are not a JSON object of strings"))
        })
        .transpose()?;
    Ok(Offer {
        offer_id: arr(row, 0)?,
        key_id: arr(row, 1)?,
        timestamp: u64_col(row, 2)?,
        seller: addr(row, 3)?,
        seller_session_id: u64_col(row, 4)?,
        seller_authid: row.get(5)?,
        api_id: arr(row, 6)?,
        uri: row.get(7)?,
        valid_from: u64_col(row, 8)?,
        signature: row.get(9)?,
        price: u256(row, 10)?,
        categories,
        expires: opt_u64(row, 12)?,
        copies: opt_u64(row, 13)?,
        remaining: opt_u64(row, 14)?,
    })
}

const SALE_COLS: &str = "tx_id, created, status, key_id, offer_id, buyer_delegate, buyer_pubkey, amount_offered, \
     amount_paid, payment_channel, payment_seq, payment_remaining, buyer_signature, paying_channel, paying_seq, \
     paying_remaining, maker_sell_sig, seller_signature, maker_receipt_sig, failure";

fn sale_from_row(row: &Row<'_>) -> rusqlite::Result<Sale> {
    Ok(Sale {
        tx_id: arr(row, 0)?,
        created: u64_col(row, 1)?,
        status: SaleStatus::from_u64(u64_col(row, 2)?),
        key_id: arr(row, 3)?,
        offer_id: arr(row, 4)?,
        buyer_delegate: addr(row, 5)?,
        buyer_pubkey: arr(row, 6)?,
        amount_offered: u256(row, 7)?,
        amount_paid: u256(row, 8)?,
        payment_channel: arr(row, 9)?,
        payment_seq: u64_col(row, 10)?,
        payment_remaining: u256(row, 11)?,
        buyer_signature: row.get(12)?,
        paying_channel: arr(row, 13)?,
        paying_seq: u64_col(row, 14)?,
        paying_remaining: u256(row, 15)?,
        maker_sell_signature: row.get(16)?,
        seller_signature: row.get(17)?,
        maker_receipt_signature: row.get(18)?,
        failure: row.get(19)?,
    })
}

fn load_sale(conn: &Connection, tx_id: &Oid) -> StoreResult<Option<Sale>> {
    let sql = format!("SELECT {SALE_COLS} FROM mm_sale WHERE tx_id = ?1");
    Ok(conn
        .query_row(&sql, [tx_id.as_slice()], sale_from_row)
        .optional()?)
}

impl MakerStore for SqliteStore {
    fn insert_channel(&self, c: &Channel) -> StoreResult<bool> {
        self.with_tx(|tx| {
            if load_channel(tx, &c.channel_oid)?.is_some() {
                return Ok(false);
            }
            let close = c.close.as_ref();
            tx.execute(
                &format!(
                    "INSERT INTO mm_channel ({CHANNEL_COLS}) VALUES \
                     (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23)"
                ),
                params![
                    c.channel_oid.as_slice(),
                    c.channel_type.as_u8(),
                    c.market_oid.as_slice(),
                    c.member_oid.as_ref().map(|m| m.as_slice()),
                    i(c.timestamp)?,
                    b(&c.open_at).as_slice(),
                    c.marketmaker.as_slice(),
                    c.actor.as_slice(),
                    c.delegate.as_slice(),
                    c.recipient.as_slice(),
                    b(&c.amount).as_slice(),
                    i(c.timeout)?,
                    c.state as i64,
                    i(c.seq)?,
                    b(&c.remaining).as_slice(),
                    b(&c.inflight).as_slice(),
                    opt_i(close.map(|x| x.seq))?,
                    close.map(|x| b(&x.balance).to_vec()),
                    close.map(|x| x.is_final),
                    close.map(|x| x.delegate_signature.clone()),
                    close.and_then(|x| x.marketmaker_signature.clone()),
                    opt_i(close.map(|x| x.closing_at))?,
                    close.and_then(|x| x.closed_tx.map(|t| t.to_vec())),
                ],
            )?;
            Ok(true)
        })
    }

    fn channel(&self, channel_oid: &Oid) -> StoreResult<Option<Channel>> {
        load_channel(&self.lock(), channel_oid)
    }

    fn channels_by_delegate(
        &self,
        delegate: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {CHANNEL_COLS} FROM mm_channel WHERE delegate = ?1 AND channel_type = ?2 ORDER BY timestamp, rowid"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![delegate.as_slice(), channel_type.as_u8()],
            channel_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn channels_by_member(
        &self,
        member: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        let conn = self.lock();
        let col = match channel_type {
            ChannelType::Payment => "actor",
            ChannelType::Paying => "recipient",
        };
        let sql = format!(
            "SELECT {CHANNEL_COLS} FROM mm_channel WHERE {col} = ?1 AND channel_type = ?2 ORDER BY timestamp, rowid"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![member.as_slice(), channel_type.as_u8()],
            channel_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn close_channel(
        &self,
        channel_oid: &Oid,
        expect_state: ChannelState,
        new_state: ChannelState,
        close: &ChannelClose,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            let ch = load_channel(tx, channel_oid)?.ok_or(StoreError::NotFound("channel"))?;
            if ch.state != expect_state {
                return Err(StoreError::Conflict(format!("channel state is {:?}", ch.state)));
            }
            tx.execute(
                "UPDATE mm_channel SET state = ?2, close_seq = ?3, close_balance = ?4, close_is_final = ?5, \
                 close_del_sig = ?6, close_mm_sig = ?7, closing_at = ?8, closed_tx = ?9 WHERE channel_oid = ?1",
                params![
                    channel_oid.as_slice(),
                    new_state as i64,
                    i(close.seq)?,
                    b(&close.balance).as_slice(),
                    close.is_final,
                    close.delegate_signature,
                    close.marketmaker_signature,
                    i(close.closing_at)?,
                    close.closed_tx.map(|t| t.to_vec()),
                ],
            )?;
            Ok(())
        })
    }

    fn insert_offer(&self, o: &Offer) -> StoreResult<()> {
        let categories = o
            .categories
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.with_tx(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM mm_offer WHERE key_id = ?1 OR offer_id = ?2)",
                params![o.key_id.as_slice(), o.offer_id.as_slice()],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Duplicate("offer"));
            }
            tx.execute(
                &format!("INSERT INTO mm_offer ({OFFER_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"),
                params![
                    o.offer_id.as_slice(),
                    o.key_id.as_slice(),
                    i(o.timestamp)?,
                    o.seller.as_slice(),
                    i(o.seller_session_id)?,
                    o.seller_authid,
                    o.api_id.as_slice(),
                    o.uri,
                    i(o.valid_from)?,
                    o.signature,
                    b(&o.price).as_slice(),
                    categories,
                    opt_i(o.expires)?,
                    opt_i(o.copies)?,
                    opt_i(o.remaining)?,
                ],
            )?;
            Ok(())
        })
    }

    fn offer(&self, offer_id: &Oid) -> StoreResult<Option<Offer>> {
        let sql = format!("SELECT {OFFER_COLS} FROM mm_offer WHERE offer_id = ?1");
        Ok(self
            .lock()
            .query_row(&sql, [offer_id.as_slice()], offer_from_row)
            .optional()?)
    }

    fn offer_by_key(&self, key_id: &Oid) -> StoreResult<Option<Offer>> {
        let sql = format!("SELECT {OFFER_COLS} FROM mm_offer WHERE key_id = ?1");
        Ok(self
            .lock()
            .query_row(&sql, [key_id.as_slice()], offer_from_row)
            .optional()?)
    }

    fn set_offer_expires(&self, key_id: &Oid, expires: u64) -> StoreResult<Offer> {
        self.with_tx(|tx| {
            let n = tx.execute(
                "UPDATE mm_offer SET expires = ?2 WHERE key_id = ?1",
                params![key_id.as_slice(), i(expires)?],
            )?;
            if n != 1 {
                return Err(StoreError::NotFound("offer"));
            }
            let sql = format!("SELECT {OFFER_COLS} FROM mm_offer WHERE key_id = ?1");
            Ok(tx.query_row(&sql, [key_id.as_slice()], offer_from_row)?)
        })
    }

    fn query_offers(&self, q: &OfferQuery) -> StoreResult<Vec<Offer>> {
        // The indexed filters go to SQL; URI prefix and category filters are applied on the rows.
        let conn = self.lock();
        let sql = format!(
            "SELECT {OFFER_COLS} FROM mm_offer WHERE (?1 IS NULL OR api_id = ?1) AND (?2 IS NULL OR timestamp >= ?2) \
             AND (?3 IS NULL OR timestamp < ?3) AND (?4 IS NULL OR seller = ?4) ORDER BY timestamp, rowid"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![
                q.api_id.as_ref().map(|a| a.as_slice()),
                opt_i(q.from_ts)?,
                opt_i(q.until_ts)?,
                q.seller.as_ref().map(|s| s.as_slice()),
            ],
            offer_from_row,
        )?;
        let mut out = Vec::new();
        for row in rows {
            let o = row?;
            if q.matches(&o) {
                out.push(o);
                if q.limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn begin_sale(&self, s: &Sale) -> StoreResult<()> {
        self.with_tx(|tx| {
            if load_sale(tx, &s.tx_id)?.is_some() {
                return Err(StoreError::Duplicate("sale"));
            }
            let payment = load_channel(tx, &s.payment_channel)?
                .ok_or(StoreError::NotFound("payment channel"))?;
            let paying = load_channel(tx, &s.paying_channel)?
                .ok_or(StoreError::NotFound("paying channel"))?;
            check_advance(
                "payment",
                &payment,
                s.payment_seq,
                s.payment_remaining,
                s.amount_paid,
            )?;
            check_advance(
                "paying",
                &paying,
                s.paying_seq,
                s.paying_remaining,
                s.amount_paid,
            )?;
            set_channel_money(
                tx,
                &s.payment_channel,
                s.payment_seq,
                &s.payment_remaining,
                &(payment.inflight + s.amount_paid),
            )?;
            set_channel_money(
                tx,
                &s.paying_channel,
                s.paying_seq,
                &s.paying_remaining,
                &(paying.inflight + s.amount_paid),
            )?;
            tx.execute(
                &format!(
                    "INSERT INTO mm_sale ({SALE_COLS}) VALUES \
                     (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)"
                ),
                params![
                    s.tx_id.as_slice(),
                    i(s.created)?,
                    SaleStatus::Inflight as i64,
                    s.key_id.as_slice(),
                    s.offer_id.as_slice(),
                    s.buyer_delegate.as_slice(),
                    s.buyer_pubkey.as_slice(),
                    b(&s.amount_offered).as_slice(),
                    b(&s.amount_paid).as_slice(),
                    s.payment_channel.as_slice(),
                    i(s.payment_seq)?,
                    b(&s.payment_remaining).as_slice(),
                    s.buyer_signature,
                    s.paying_channel.as_slice(),
                    i(s.paying_seq)?,
                    b(&s.paying_remaining).as_slice(),
                    s.maker_sell_signature,
                    s.seller_signature,
                    s.maker_receipt_signature,
                    s.failure,
                ],
            )?;
            Ok(())
        })
    }

    fn complete_sale(
        &self,
        tx_id: &Oid,
        seller_signature: &Signature,
        receipt_signature: &Signature,
    ) -> StoreResult<(Channel, Channel)> {
        self.with_tx(|tx| {
            let s = load_sale(tx, tx_id)?.ok_or(StoreError::NotFound("sale"))?;
            if s.status != SaleStatus::Inflight {
                return Err(StoreError::Conflict("sale is not in flight".into()));
            }
            let mut out = Vec::with_capacity(2);
            for oid in [s.payment_channel, s.paying_channel] {
                let mut ch = load_channel(tx, &oid)?.ok_or(StoreError::NotFound("channel"))?;
                ch.inflight = ch
                    .inflight
                    .checked_sub(s.amount_paid)
                    .ok_or_else(|| StoreError::Corrupt("inflight below sale amount".into()))?;
                set_channel_money(tx, &oid, ch.seq, &ch.remaining, &ch.inflight)?;
                out.push(ch);
            }
            tx.execute(
                "UPDATE mm_sale SET status = ?2, seller_signature = ?3, maker_receipt_sig = ?4 WHERE tx_id = ?1",
                params![tx_id.as_slice(), SaleStatus::Completed as i64, seller_signature, receipt_signature],
            )?;
            let paying = out.pop().ok_or(StoreError::NotFound("channel"))?;
            let payment = out.pop().ok_or(StoreError::NotFound("channel"))?;
            Ok((payment, paying))
        })
    }

    fn rollback_sale(&self, tx_id: &Oid, reason: &str) -> StoreResult<()> {
        self.with_tx(|tx| {
            let s = load_sale(tx, tx_id)?.ok_or(StoreError::NotFound("sale"))?;
            if s.status != SaleStatus::Inflight {
                return Err(StoreError::Conflict("sale is not in flight".into()));
            }
            for (oid, seq) in [
                (s.payment_channel, s.payment_seq),
                (s.paying_channel, s.paying_seq),
            ] {
                let ch = load_channel(tx, &oid)?.ok_or(StoreError::NotFound("channel"))?;
                if ch.seq != seq || ch.inflight < s.amount_paid {
                    return Err(StoreError::Conflict(
                        "channel moved past the sale being rolled back".into(),
                    ));
                }
                set_channel_money(
                    tx,
                    &oid,
                    seq - 1,
                    &(ch.remaining + s.amount_paid),
                    &(ch.inflight - s.amount_paid),
                )?;
            }
            tx.execute(
                "UPDATE mm_sale SET status = ?2, failure = ?3 WHERE tx_id = ?1",
                params![tx_id.as_slice(), SaleStatus::Failed as i64, reason],
            )?;
            Ok(())
        })
    }

    fn sale(&self, tx_id: &Oid) -> StoreResult<Option<Sale>> {
        load_sale(&self.lock(), tx_id)
    }

    fn sales(&self) -> StoreResult<Vec<Sale>> {
        let conn = self.lock();
        let sql = format!("SELECT {SALE_COLS} FROM mm_sale ORDER BY created, rowid");
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([], sale_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        let conn = self.lock();
        let sql = format!("SELECT {CHANNEL_COLS} FROM mm_channel ORDER BY timestamp, rowid");
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([], channel_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

// ------------------------------------------------------------------ seller / buyer channels

fn local_channel(conn: &Connection, table: &str) -> StoreResult<Option<LocalChannel>> {
    let sql = format!("SELECT channel_oid, market_oid, seq, balance FROM {table} WHERE active = 1");
    Ok(conn
        .query_row(&sql, [], |r| {
            Ok(LocalChannel {
                channel_oid: arr(r, 0)?,
                market_oid: arr(r, 1)?,
                seq: u64_col(r, 2)?,
                balance: u256(r, 3)?,
            })
        })
        .optional()?)
}

fn set_local_channel(conn: &Connection, table: &str, c: &LocalChannel) -> StoreResult<()> {
    conn.execute(
        &format!("UPDATE {table} SET active = 0 WHERE channel_oid != ?1"),
        [c.channel_oid.as_slice()],
    )?;
    conn.execute(
        &format!(
            "INSERT INTO {table} (channel_oid, market_oid, seq, balance, active) VALUES (?1, ?2, ?3, ?4, 1) \
             ON CONFLICT(channel_oid) DO UPDATE SET market_oid = ?2, seq = ?3, balance = ?4, active = 1"
        ),
        params![c.channel_oid.as_slice(), c.market_oid.as_slice(), i(c.seq)?, b(&c.balance).as_slice()],
    )?;
    Ok(())
}

fn advance_local(
    conn: &Connection,
    table: &str,
    oid: &Oid,
    seq: u64,
    balance: &U256,
) -> StoreResult<()> {
    conn.execute(
        &format!("UPDATE {table} SET seq = ?2, balance = ?3 WHERE channel_oid = ?1"),
        params![oid.as_slice(), i(seq)?, b(balance).as_slice()],
    )?;
    Ok(())
}

impl SellerStore for SqliteStore {
    fn put_seller_key(&self, k: &SellerKey) -> StoreResult<()> {
        let conn = self.lock();
        let n = conn.execute(
            "INSERT OR IGNORE INTO seller_key (key_id, api_id, created, wrapped_key, offered) VALUES (?1,?2,?3,?4,?5)",
            params![k.key_id.as_slice(), k.api_id.as_slice(), i(k.created)?, k.wrapped_key, k.offered],
        )?;
        if n == 0 {
            return Err(StoreError::Duplicate("seller key"));
        }
        Ok(())
    }

    fn mark_key_offered(&self, key_id: &Oid) -> StoreResult<()> {
        let n = self.lock().execute(
            "UPDATE seller_key SET offered = 1 WHERE key_id = ?1",
            [key_id.as_slice()],
        )?;
        if n != 1 {
            return Err(StoreError::NotFound("seller key"));
        }
        Ok(())
    }

    fn seller_keys(&self) -> StoreResult<Vec<SellerKey>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT key_id, api_id, created, wrapped_key, offered FROM seller_key ORDER BY created, rowid",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SellerKey {
                key_id: arr(r, 0)?,
                api_id: arr(r, 1)?,
                created: u64_col(r, 2)?,
                wrapped_key: r.get(3)?,
                offered: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn seller_channel(&self) -> StoreResult<Option<LocalChannel>> {
        local_channel(&self.lock(), "seller_channel")
    }

    fn set_seller_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.with_tx(|tx| set_local_channel(tx, "seller_channel", channel))
    }

    fn record_sale(&self, s: &SellerSale) -> StoreResult<()> {
        self.with_tx(|tx| {
            let ch = local_channel(tx, "seller_channel")?;
            check_local_advance(ch.as_ref(), &s.channel_oid, s.seq, s.balance, s.amount)?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO seller_sale (channel_oid, seq, created, key_id, buyer_pubkey, amount, balance, \
                 maker_signature, seller_signature) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                params![
                    s.channel_oid.as_slice(),
                    i(s.seq)?,
                    i(s.created)?,
                    s.key_id.as_slice(),
                    s.buyer_pubkey.as_slice(),
                    b(&s.amount).as_slice(),
                    b(&s.balance).as_slice(),
                    s.maker_signature,
                    s.seller_signature,
                ],
            )?;
            if n == 0 {
                return Err(StoreError::Duplicate("seller sale"));
            }
            advance_local(tx, "seller_channel", &s.channel_oid, s.seq, &s.balance)
        })
    }

    fn seller_sales(&self) -> StoreResult<Vec<SellerSale>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT channel_oid, seq, created, key_id, buyer_pubkey, amount, balance, maker_signature, \
             seller_signature FROM seller_sale ORDER BY created, rowid",
        )?;
        let rows = st.query_map([], |r| {
            Ok(SellerSale {
                channel_oid: arr(r, 0)?,
                seq: u64_col(r, 1)?,
                created: u64_col(r, 2)?,
                key_id: arr(r, 3)?,
                buyer_pubkey: arr(r, 4)?,
                amount: u256(r, 5)?,
                balance: u256(r, 6)?,
                maker_signature: r.get(7)?,
                seller_signature: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

const PURCHASE_COLS: &str = "key_id, created, wrapped_key, channel_oid, seq, amount, balance, buyer_signature, maker_signature";

fn purchase_from_row(r: &Row<'_>) -> rusqlite::Result<Purchase> {
    Ok(Purchase {
        key_id: arr(r, 0)?,
        created: u64_col(r, 1)?,
        wrapped_key: r.get(2)?,
        channel_oid: arr(r, 3)?,
        seq: u64_col(r, 4)?,
        amount: u256(r, 5)?,
        balance: u256(r, 6)?,
        buyer_signature: r.get(7)?,
        maker_signature: r.get(8)?,
    })
}

impl BuyerStore for SqliteStore {
    fn buyer_channel(&self) -> StoreResult<Option<LocalChannel>> {
        local_channel(&self.lock(), "buyer_channel")
    }

    fn set_buyer_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.with_tx(|tx| set_local_channel(tx, "buyer_channel", channel))
    }

    fn record_purchase(&self, p: &Purchase) -> StoreResult<()> {
        self.with_tx(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM buyer_key WHERE key_id = ?1)",
                [p.key_id.as_slice()],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Duplicate("purchase"));
            }
            let ch = local_channel(tx, "buyer_channel")?;
            check_local_advance(ch.as_ref(), &p.channel_oid, p.seq, p.balance, p.amount)?;
            tx.execute(
                &format!(
                    "INSERT INTO buyer_key ({PURCHASE_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
                ),
                params![
                    p.key_id.as_slice(),
                    i(p.created)?,
                    p.wrapped_key,
                    p.channel_oid.as_slice(),
                    i(p.seq)?,
                    b(&p.amount).as_slice(),
                    b(&p.balance).as_slice(),
                    p.buyer_signature,
                    p.maker_signature,
                ],
            )?;
            advance_local(tx, "buyer_channel", &p.channel_oid, p.seq, &p.balance)
        })
    }

    fn purchase(&self, key_id: &Oid) -> StoreResult<Option<Purchase>> {
        let sql = format!("SELECT {PURCHASE_COLS} FROM buyer_key WHERE key_id = ?1");
        Ok(self
            .lock()
            .query_row(&sql, [key_id.as_slice()], purchase_from_row)
            .optional()?)
    }

    fn purchases(&self) -> StoreResult<Vec<Purchase>> {
        let conn = self.lock();
        let sql = format!("SELECT {PURCHASE_COLS} FROM buyer_key ORDER BY created, rowid");
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([], purchase_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

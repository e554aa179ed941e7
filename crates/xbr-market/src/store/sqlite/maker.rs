//! [`MakerStore`] on SQLite: tables `mm_channel`, `mm_offer`, `mm_sale`. The sale transactions
//! load both channels, let [`rules`] compute them after the step, and write them back, all in
//! one immediate transaction.

use rusqlite::{Connection, params};

use super::codec::{
    CHANNEL_COLS, OFFER_COLS, SALE_COLS, b, channel_from_row, i, insert_sql, offer_from_row, opt_i,
    sale_from_row,
};
use super::{SqliteStore, page_by_rowid, query_all, query_opt, user_keys};
use crate::store::{MakerStore, StoreError, StoreResult, rules};
use crate::types::{
    Address, Channel, ChannelClose, ChannelId, ChannelState, ChannelType, KeyId, Offer, OfferId,
    OfferQuery, Sale, SaleStatus, Signature, TxId,
};
use crate::types::{CloseIntent, CloseState};
use crate::types::{KeyRegistration, UserKey};

fn load_channel(conn: &Connection, oid: &ChannelId) -> StoreResult<Option<Channel>> {
    let sql = format!("SELECT {CHANNEL_COLS} FROM mm_channel WHERE channel_oid = ?1");
    query_opt(conn, &sql, [oid.as_ref()], channel_from_row)
}

/// The channels of a type whose `col` is `address`, oldest first.
fn channels_where(
    conn: &Connection,
    col: &str,
    address: &Address,
    channel_type: ChannelType,
) -> StoreResult<Vec<Channel>> {
    let sql = format!(
        "SELECT {CHANNEL_COLS} FROM mm_channel WHERE {col} = ?1 AND channel_type = ?2 ORDER BY timestamp, rowid"
    );
    query_all(
        conn,
        &sql,
        params![address.as_slice(), channel_type.as_u8()],
        channel_from_row,
    )
}

/// Writes a channel's seq, remaining and inflight (the money a sale moves).
fn store_channel_money(conn: &Connection, ch: &Channel) -> StoreResult<()> {
    let n = conn.execute(
        "UPDATE mm_channel SET seq = ?2, remaining = ?3, inflight = ?4 WHERE channel_oid = ?1",
        params![
            ch.channel_oid.as_ref(),
            i(ch.seq)?,
            b(&ch.remaining).as_slice(),
            b(&ch.inflight).as_slice()
        ],
    )?;
    if n != 1 {
        return Err(StoreError::NotFound("channel"));
    }
    Ok(())
}

fn load_sale(conn: &Connection, tx_id: &TxId) -> StoreResult<Option<Sale>> {
    let sql = format!("SELECT {SALE_COLS} FROM mm_sale WHERE tx_id = ?1");
    query_opt(conn, &sql, [tx_id.as_ref()], sale_from_row)
}

/// Loads the payment and the paying channel of a sale, moves them by one of the sale [`rules`],
/// and writes them back. Returns both after the step.
fn move_sale_channels(
    conn: &Connection,
    sale: &Sale,
    rule: rules::SaleRule,
) -> StoreResult<(Channel, Channel)> {
    let payment = load_channel(conn, &sale.payment_channel)?
        .ok_or(StoreError::NotFound("payment channel"))?;
    let paying =
        load_channel(conn, &sale.paying_channel)?.ok_or(StoreError::NotFound("paying channel"))?;
    let (payment, paying) = rule(sale, &payment, &paying)?;
    store_channel_money(conn, &payment)?;
    store_channel_money(conn, &paying)?;
    Ok((payment, paying))
}

/// Moves a channel from `expect_state` to `new_state` with its close information.
pub(super) fn mark_closing(
    tx: &Connection,
    channel_oid: &ChannelId,
    expect_state: ChannelState,
    new_state: ChannelState,
    close: &ChannelClose,
) -> StoreResult<()> {
    let ch = load_channel(tx, channel_oid)?.ok_or(StoreError::NotFound("channel"))?;
    if ch.state != expect_state {
        return Err(StoreError::Conflict(format!(
            "channel state is {:?}",
            ch.state
        )));
    }
    tx.execute(
            "UPDATE mm_channel SET state = ?2, close_seq = ?3, close_balance = ?4, close_is_final = ?5, \
             close_del_sig = ?6, close_mm_sig = ?7, closing_at = ?8, closed_tx = ?9 WHERE channel_oid = ?1",
            params![
                channel_oid.as_ref(),
                new_state as i64,
                i(close.seq)?,
                b(&close.balance).as_slice(),
                close.is_final,
                close.delegate_signature.as_ref(),
                close.marketmaker_signature.as_deref(),
                i(close.closing_at)?,
                close.closed_tx.map(|t| t.to_vec()),
            ],
        )?;
    Ok(())
}

fn offer_where(conn: &Connection, col: &str, id: &[u8]) -> StoreResult<Option<Offer>> {
    let sql = format!("SELECT {OFFER_COLS} FROM mm_offer WHERE {col} = ?1");
    query_opt(conn, &sql, [id], offer_from_row)
}

impl MakerStore for SqliteStore {
    fn insert_channel(&self, c: &Channel) -> StoreResult<bool> {
        self.with_tx(|tx| {
            if load_channel(tx, &c.channel_oid)?.is_some() {
                return Ok(false);
            }
            let close = c.close.as_ref();
            tx.execute(
                &insert_sql("INSERT", "mm_channel", CHANNEL_COLS),
                params![
                    c.channel_oid.as_ref(),
                    c.channel_type.as_u8(),
                    c.market_oid.as_ref(),
                    c.member_oid.as_ref().map(AsRef::<[u8]>::as_ref),
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
                    close.map(|x| x.delegate_signature.to_vec()),
                    close.and_then(|x| x.marketmaker_signature.map(|s| s.to_vec())),
                    opt_i(close.map(|x| x.closing_at))?,
                    close.and_then(|x| x.closed_tx.map(|t| t.to_vec())),
                ],
            )?;
            Ok(true)
        })
    }

    fn channel(&self, channel_oid: &ChannelId) -> StoreResult<Option<Channel>> {
        load_channel(&self.lock(), channel_oid)
    }

    fn channels_by_delegate(
        &self,
        delegate: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        channels_where(&self.lock(), "delegate", delegate, channel_type)
    }

    fn channels_by_member(
        &self,
        member: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        let col = match channel_type {
            ChannelType::Payment => "actor",
            ChannelType::Paying => "recipient",
        };
        channels_where(&self.lock(), col, member, channel_type)
    }

    fn close_channel(
        &self,
        channel_oid: &ChannelId,
        expect_state: ChannelState,
        new_state: ChannelState,
        close: &ChannelClose,
    ) -> StoreResult<()> {
        self.with_tx(|tx| mark_closing(tx, channel_oid, expect_state, new_state, close))
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
                params![o.key_id.as_ref(), o.offer_id.as_ref()],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Duplicate("offer"));
            }
            tx.execute(
                &insert_sql("INSERT", "mm_offer", OFFER_COLS),
                params![
                    o.offer_id.as_ref(),
                    o.key_id.as_ref(),
                    i(o.timestamp)?,
                    o.seller.as_slice(),
                    i(o.seller_session_id)?,
                    o.seller_authid,
                    o.api_id.as_ref(),
                    o.uri,
                    i(o.valid_from)?,
                    o.signature.as_ref(),
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

    fn offer(&self, offer_id: &OfferId) -> StoreResult<Option<Offer>> {
        offer_where(&self.lock(), "offer_id", offer_id.as_ref())
    }

    fn offer_by_key(&self, key_id: &KeyId) -> StoreResult<Option<Offer>> {
        offer_where(&self.lock(), "key_id", key_id.as_ref())
    }

    fn set_offer_expires(&self, key_id: &KeyId, expires: u64) -> StoreResult<Offer> {
        self.with_tx(|tx| {
            let n = tx.execute(
                "UPDATE mm_offer SET expires = ?2 WHERE key_id = ?1",
                params![key_id.as_ref(), i(expires)?],
            )?;
            if n != 1 {
                return Err(StoreError::NotFound("offer"));
            }
            offer_where(tx, "key_id", key_id.as_ref())?.ok_or(StoreError::NotFound("offer"))
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
                q.api_id.as_ref().map(AsRef::<[u8]>::as_ref),
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
            move_sale_channels(tx, s, rules::begin_sale)?;
            tx.execute(
                &insert_sql("INSERT", "mm_sale", SALE_COLS),
                params![
                    s.tx_id.as_ref(),
                    i(s.created)?,
                    SaleStatus::Inflight as i64,
                    s.key_id.as_ref(),
                    s.offer_id.as_ref(),
                    s.buyer_delegate.as_slice(),
                    s.buyer_pubkey.as_slice(),
                    b(&s.amount_offered).as_slice(),
                    b(&s.amount_paid).as_slice(),
                    s.payment_channel.as_ref(),
                    i(s.payment_seq)?,
                    b(&s.payment_remaining).as_slice(),
                    s.buyer_signature.as_ref(),
                    s.paying_channel.as_ref(),
                    i(s.paying_seq)?,
                    b(&s.paying_remaining).as_slice(),
                    s.maker_sell_signature.as_ref(),
                    s.seller_signature.as_deref(),
                    s.maker_receipt_signature.as_deref(),
                    s.failure,
                    s.sealed_key,
                    s.recovered,
                ],
            )?;
            Ok(())
        })
    }

    fn complete_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        receipt_signature: &Signature,
    ) -> StoreResult<(Channel, Channel)> {
        let done = rules::Completion::with_seller(seller_signature, receipt_signature);
        self.with_tx(|tx| complete(tx, tx_id, done))
    }

    fn sale(&self, tx_id: &TxId) -> StoreResult<Option<Sale>> {
        load_sale(&self.lock(), tx_id)
    }

    fn sales(&self) -> StoreResult<Vec<Sale>> {
        let sql = format!("SELECT {SALE_COLS} FROM mm_sale ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], sale_from_row)
    }

    fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLS} FROM mm_channel ORDER BY timestamp, rowid");
        query_all(&self.lock(), &sql, [], channel_from_row)
    }

    fn advance_channel_state(
        &self,
        channel_oid: &ChannelId,
        state: ChannelState,
    ) -> StoreResult<bool> {
        let n = self.lock().execute(
            "UPDATE mm_channel SET state = ?2 WHERE channel_oid = ?1 AND state < ?2",
            params![channel_oid.as_ref(), state as i64],
        )?;
        Ok(n == 1)
    }

    fn scan_cursor(&self) -> StoreResult<Option<u64>> {
        let next: Option<i64> = query_opt(
            &self.lock(),
            "SELECT next_block FROM mm_scan_cursor WHERE id = 1",
            [],
            |r| r.get(0),
        )?;
        next.map(|n| u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("scan cursor {n}"))))
            .transpose()
    }

    fn set_scan_cursor(&self, next_block: u64) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO mm_scan_cursor (id, next_block) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
            [i(next_block)?],
        )?;
        Ok(())
    }

    fn sales_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Sale)>> {
        page_by_rowid(
            &self.lock(),
            "mm_sale",
            SALE_COLS,
            after,
            limit,
            sale_from_row,
        )
    }

    fn begin_close(&self, close: &ChannelClose, intent: &CloseIntent) -> StoreResult<()> {
        self.with_tx(|tx| super::close::begin_close(tx, close, intent))
    }

    fn close_intent(&self, channel_oid: &ChannelId) -> StoreResult<Option<CloseIntent>> {
        super::close::load_intent(&self.lock(), channel_oid)
    }

    fn close_intents(&self) -> StoreResult<Vec<CloseIntent>> {
        super::close::all_intents(&self.lock())
    }

    fn save_close_progress(&self, intent: &CloseIntent, expect: CloseState) -> StoreResult<()> {
        self.with_tx(|tx| super::close::save_progress(tx, intent, expect))
    }

    fn finalize_close(
        &self,
        channel_oid: &ChannelId,
        log_state: ChannelState,
    ) -> StoreResult<bool> {
        self.with_tx(|tx| super::close::finalize(tx, channel_oid, log_state))
    }

    fn seller_signed_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        sealed_key: &[u8],
    ) -> StoreResult<Sale> {
        self.with_tx(|tx| {
            rules::inflight_sale(load_sale(tx, tx_id)?)?;
            tx.execute(
                "UPDATE mm_sale SET status = ?2, seller_signature = ?3, sealed_key = ?4 WHERE tx_id = ?1",
                params![
                    tx_id.as_ref(),
                    SaleStatus::SellerSigned as i64,
                    seller_signature.as_ref(),
                    sealed_key
                ],
            )?;
            load_sale(tx, tx_id)?.ok_or(StoreError::NotFound("sale"))
        })
    }

    fn finish_sale(
        &self,
        tx_id: &TxId,
        receipt_signature: &Signature,
        recovered: bool,
    ) -> StoreResult<(Channel, Channel)> {
        let done = rules::Completion::finish(receipt_signature, recovered);
        self.with_tx(|tx| complete(tx, tx_id, done))
    }

    fn rollback_sale_with(&self, tx_id: &TxId, reason: &str, recovered: bool) -> StoreResult<()> {
        self.with_tx(|tx| {
            let s = rules::inflight_sale(load_sale(tx, tx_id)?)?;
            move_sale_channels(tx, &s, rules::rollback_sale)?;
            tx.execute(
                "UPDATE mm_sale SET status = ?2, failure = ?3, recovered = ?4 WHERE tx_id = ?1",
                params![tx_id.as_ref(), SaleStatus::Failed as i64, reason, recovered],
            )?;
            Ok(())
        })
    }

    fn sale_at_payment(&self, channel_oid: &ChannelId, seq: u64) -> StoreResult<Option<Sale>> {
        let sql = format!(
            "SELECT {SALE_COLS} FROM mm_sale WHERE payment_channel = ?1 AND payment_seq = ?2 AND status != ?3"
        );
        let failed = SaleStatus::Failed as i64;
        query_opt(
            &self.lock(),
            &sql,
            params![channel_oid.as_ref(), i(seq)?, failed],
            sale_from_row,
        )
    }

    fn unresolved_sales(&self) -> StoreResult<Vec<Sale>> {
        let sql = format!(
            "SELECT {SALE_COLS} FROM mm_sale WHERE status IN (1, 4) ORDER BY created, rowid"
        );
        query_all(&self.lock(), &sql, [], sale_from_row)
    }

    fn unresolved_sale_on(&self, channel_oid: &ChannelId) -> StoreResult<Option<Sale>> {
        let sql = format!(
            "SELECT {SALE_COLS} FROM mm_sale WHERE status IN (1, 4) \
             AND (payment_channel = ?1 OR paying_channel = ?1) ORDER BY created, rowid LIMIT 1"
        );
        query_opt(&self.lock(), &sql, [channel_oid.as_ref()], sale_from_row)
    }

    // ---- user keys (issue 12): `user_keys`

    fn user_key(&self, pubkey: &[u8; 32]) -> StoreResult<Option<UserKey>> {
        user_keys::load(&self.lock(), pubkey)
    }

    fn add_user_key(&self, key: &UserKey, max_per_member: usize) -> StoreResult<KeyRegistration> {
        self.with_tx(|tx| user_keys::add(tx, key, max_per_member))
    }

    fn user_keys_of(&self, member: &Address) -> StoreResult<Vec<UserKey>> {
        user_keys::of_member(&self.lock(), member)
    }

    fn remove_user_key(&self, pubkey: &[u8; 32]) -> StoreResult<bool> {
        user_keys::remove(&self.lock(), pubkey)
    }
}

/// Completes a sale in `tx` as `done` says: both channels' in-flight amount released, the sale
/// COMPLETED with its signatures. Returns both channels after it.
fn complete(
    tx: &Connection,
    tx_id: &TxId,
    done: rules::Completion<'_>,
) -> StoreResult<(Channel, Channel)> {
    let s = (done.check)(load_sale(tx, tx_id)?)?;
    let (payment, paying) = move_sale_channels(tx, &s, rules::complete_sale)?;
    tx.execute(
        "UPDATE mm_sale SET status = ?2, seller_signature = COALESCE(?3, seller_signature), \
         maker_receipt_sig = ?4, recovered = ?5 WHERE tx_id = ?1",
        params![
            tx_id.as_ref(),
            SaleStatus::Completed as i64,
            done.seller_signature.map(|s| s.to_vec()),
            done.receipt_signature.as_ref(),
            done.recovered
        ],
    )?;
    Ok((payment, paying))
}

#[cfg(test)]
mod tests {
    use rusqlite_migration::Migrations;

    use super::super::MIGRATIONS;
    use crate::store::{MakerStore, SqliteStore};
    use crate::types::SaleStatus;

    #[test]
    fn sales_written_before_the_sale_states_read_without_sealed_key_and_not_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("market.db");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            Migrations::from_slice(&MIGRATIONS[..2])
                .to_latest(&mut conn)
                .unwrap();
            conn.execute(
                "INSERT INTO mm_sale (tx_id, created, status, key_id, offer_id, buyer_delegate, buyer_pubkey, \
                 amount_offered, amount_paid, payment_channel, payment_seq, payment_remaining, buyer_signature, \
                 paying_channel, paying_seq, paying_remaining, maker_sell_sig) VALUES (zeroblob(16), 1, 1, \
                 zeroblob(16), zeroblob(16), zeroblob(20), zeroblob(32), zeroblob(32), zeroblob(32), zeroblob(16), \
                 2, zeroblob(32), zeroblob(65), zeroblob(16), 2, zeroblob(32), zeroblob(65))",
                [],
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let sales = s.sales().unwrap();
        assert_eq!(sales.len(), 1);
        assert_eq!(sales[0].status, SaleStatus::Inflight);
        assert_eq!(
            (sales[0].sealed_key.as_ref(), sales[0].recovered),
            (None, false)
        );
        assert_eq!(s.unresolved_sales().unwrap(), sales);
    }
}

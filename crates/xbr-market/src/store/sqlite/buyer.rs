//! [`BuyerStore`] on SQLite: table `buyer_key` (the bought keys) and the `buyer_channel` mirror.

use rusqlite::params;

use super::codec::{PURCHASE_COLS, b, i, insert_sql, purchase_from_row};
use super::local_channel::{self, Mirror};
use super::{SqliteStore, page_by_rowid, query_all, query_opt};
use crate::store::{BuyerStore, StoreError, StoreResult};
use crate::types::{KeyId, LocalChannel, Purchase};

impl BuyerStore for SqliteStore {
    fn buyer_channel(&self) -> StoreResult<Option<LocalChannel>> {
        local_channel::active(&self.lock(), Mirror::Buyer)
    }

    fn set_buyer_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.with_tx(|tx| local_channel::set_active(tx, Mirror::Buyer, channel))
    }

    fn record_purchase(&self, p: &Purchase) -> StoreResult<()> {
        self.with_tx(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM buyer_key WHERE key_id = ?1)",
                [p.key_id.as_ref()],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Duplicate("purchase"));
            }
            local_channel::advance(
                tx,
                Mirror::Buyer,
                &p.channel_oid,
                p.seq,
                p.balance,
                p.amount,
            )?;
            tx.execute(
                &insert_sql("INSERT", "buyer_key", PURCHASE_COLS),
                params![
                    p.key_id.as_ref(),
                    i(p.created)?,
                    p.wrapped_key,
                    p.channel_oid.as_ref(),
                    i(p.seq)?,
                    b(&p.amount).as_slice(),
                    b(&p.balance).as_slice(),
                    p.buyer_signature.as_ref(),
                    p.maker_signature.as_ref(),
                ],
            )?;
            Ok(())
        })
    }

    fn purchase(&self, key_id: &KeyId) -> StoreResult<Option<Purchase>> {
        let sql = format!("SELECT {PURCHASE_COLS} FROM buyer_key WHERE key_id = ?1");
        query_opt(&self.lock(), &sql, [key_id.as_ref()], purchase_from_row)
    }

    fn purchases(&self) -> StoreResult<Vec<Purchase>> {
        let sql = format!("SELECT {PURCHASE_COLS} FROM buyer_key ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], purchase_from_row)
    }

    fn purchases_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Purchase)>> {
        page_by_rowid(
            &self.lock(),
            "buyer_key",
            PURCHASE_COLS,
            after,
            limit,
            purchase_from_row,
        )
    }
}

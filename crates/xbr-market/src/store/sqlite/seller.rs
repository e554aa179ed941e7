//! [`SellerStore`] on SQLite: tables `seller_key`, `seller_sale` and the `seller_channel` mirror.
//!
//! `seller_sale` keeps every sale ever recorded; a sale the maker rolled back is marked voided
//! when the seller adopts the lower seq (in [`SellerStore::set_seller_channel`]'s transaction),
//! and a unique partial index allows one live sale per (channel, seq).

use rusqlite::{ErrorCode, params};

use super::codec::{
    SELLER_KEY_COLS, SELLER_SALE_COLS, SELLER_SALE_ROW_COLS, b, i, insert_sql, seller_key_from_row,
    seller_sale_from_row,
};
use super::local_channel::{self, Mirror};
use super::{SqliteStore, page_by_rowid, query_all, query_opt};
use crate::store::{SellerStore, StoreError, StoreResult};
use crate::types::{ChannelId, KeyId, LocalChannel, SellerKey, SellerSale};

impl SellerStore for SqliteStore {
    fn put_seller_key(&self, k: &SellerKey) -> StoreResult<()> {
        let n = self.lock().execute(
            &insert_sql("INSERT OR IGNORE", "seller_key", SELLER_KEY_COLS),
            params![
                k.key_id.as_ref(),
                k.api_id.as_ref(),
                i(k.created)?,
                k.wrapped_key,
                k.offered
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Duplicate("seller key"));
        }
        Ok(())
    }

    fn mark_key_offered(&self, key_id: &KeyId) -> StoreResult<()> {
        let n = self.lock().execute(
            "UPDATE seller_key SET offered = 1 WHERE key_id = ?1",
            [key_id.as_ref()],
        )?;
        if n != 1 {
            return Err(StoreError::NotFound("seller key"));
        }
        Ok(())
    }

    fn seller_keys(&self) -> StoreResult<Vec<SellerKey>> {
        let sql = format!("SELECT {SELLER_KEY_COLS} FROM seller_key ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], seller_key_from_row)
    }

    fn seller_channel(&self) -> StoreResult<Option<LocalChannel>> {
        local_channel::active(&self.lock(), Mirror::Seller)
    }

    fn set_seller_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.with_tx(|tx| {
            local_channel::set_active(tx, Mirror::Seller, channel)?;
            tx.execute(
                "UPDATE seller_sale SET voided = 1 \
                 WHERE channel_oid = ?1 AND seq > ?2 AND voided = 0",
                params![channel.channel_oid.as_ref(), i(channel.seq)?],
            )?;
            Ok(())
        })
    }

    fn record_sale(&self, s: &SellerSale) -> StoreResult<()> {
        self.with_tx(|tx| {
            // Checked first, so a stale sale is a conflict even when it would also be a duplicate.
            local_channel::advance(
                tx,
                Mirror::Seller,
                &s.channel_oid,
                s.seq,
                s.balance,
                s.amount,
            )?;
            // A plain INSERT: a live sale at this (channel, seq) fails the unique index, and
            // that failure rolls the whole transaction back, never a silent no-op.
            tx.execute(
                &insert_sql("INSERT", "seller_sale", SELLER_SALE_COLS),
                params![
                    s.channel_oid.as_ref(),
                    i(s.seq)?,
                    i(s.created)?,
                    s.key_id.as_ref(),
                    s.buyer_pubkey.as_slice(),
                    b(&s.amount).as_slice(),
                    b(&s.balance).as_slice(),
                    s.maker_signature.as_ref(),
                    s.seller_signature.as_ref(),
                ],
            )
            .map_err(|e| match e.sqlite_error_code() {
                Some(ErrorCode::ConstraintViolation) => StoreError::Duplicate("seller sale"),
                _ => StoreError::Sqlite(e),
            })?;
            Ok(())
        })
    }

    fn seller_sales(&self) -> StoreResult<Vec<SellerSale>> {
        let sql = format!("SELECT {SELLER_SALE_ROW_COLS} FROM seller_sale ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], seller_sale_from_row)
    }

    fn seller_sales_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, SellerSale)>> {
        page_by_rowid(
            &self.lock(),
            "seller_sale",
            SELLER_SALE_ROW_COLS,
            after,
            limit,
            seller_sale_from_row,
        )
    }

    fn live_seller_sale(
        &self,
        channel_oid: &ChannelId,
        seq: u64,
    ) -> StoreResult<Option<SellerSale>> {
        let sql = format!(
            "SELECT {SELLER_SALE_ROW_COLS} FROM seller_sale \
             WHERE channel_oid = ?1 AND seq = ?2 AND voided = 0"
        );
        query_opt(
            &self.lock(),
            &sql,
            params![channel_oid.as_ref(), i(seq)?],
            seller_sale_from_row,
        )
    }
}

#[cfg(test)]
#[path = "seller_tests.rs"]
mod tests;

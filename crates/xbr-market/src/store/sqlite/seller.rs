//! [`SellerStore`] on SQLite: tables `seller_key`, `seller_sale` and the `seller_channel` mirror.

use rusqlite::params;

use super::codec::{
    SELLER_KEY_COLS, SELLER_SALE_COLS, b, i, insert_sql, seller_key_from_row, seller_sale_from_row,
};
use super::local_channel::{self, Mirror};
use super::{SqliteStore, page_by_rowid, query_all};
use crate::store::{SellerStore, StoreError, StoreResult};
use crate::types::{KeyId, LocalChannel, SellerKey, SellerSale};

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
        self.with_tx(|tx| local_channel::set_active(tx, Mirror::Seller, channel))
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
            let n = tx.execute(
                &insert_sql("INSERT OR IGNORE", "seller_sale", SELLER_SALE_COLS),
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
            )?;
            if n == 0 {
                return Err(StoreError::Duplicate("seller sale"));
            }
            Ok(())
        })
    }

    fn seller_sales(&self) -> StoreResult<Vec<SellerSale>> {
        let sql = format!("SELECT {SELLER_SALE_COLS} FROM seller_sale ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], seller_sale_from_row)
    }

    fn seller_sales_page(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, SellerSale)>> {
        page_by_rowid(
            &self.lock(),
            "seller_sale",
            SELLER_SALE_COLS,
            after,
            limit,
            seller_sale_from_row,
        )
    }
}

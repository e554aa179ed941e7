//! [`BuyerStore`] on SQLite: table `buyer_key` (the bought keys), the `buyer_channel` mirror,
//! `buyer_intent` (purchases signed and not yet answered for good) and `buyer_receive_key`.

use rusqlite::{Transaction, params};

use super::codec::{
    INTENT_COLS, PURCHASE_COLS, b, i, insert_sql, intent_from_row, purchase_from_row,
};
use super::local_channel::{self, Mirror};
use super::{SqliteStore, page_by_rowid, query_all, query_opt};
use crate::store::{BuyerStore, StoreError, StoreResult, rules};
use crate::types::{ChannelId, KeyId, LocalChannel, Purchase, PurchaseIntent};

/// Whether `key_id` was bought.
fn bought(tx: &Transaction<'_>, key_id: &KeyId) -> StoreResult<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM buyer_key WHERE key_id = ?1)",
        [key_id.as_ref()],
        |r| r.get(0),
    )?)
}

/// The pending intent on a channel.
fn intent(tx: &Transaction<'_>, channel_oid: &ChannelId) -> StoreResult<Option<PurchaseIntent>> {
    let sql = format!("SELECT {INTENT_COLS} FROM buyer_intent WHERE channel_oid = ?1");
    query_opt(tx, &sql, [channel_oid.as_ref()], intent_from_row)
}

/// Records a bought key and advances the active channel (checked by the rules).
fn insert_purchase(tx: &Transaction<'_>, p: &Purchase) -> StoreResult<()> {
    if bought(tx, &p.key_id)? {
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
            p.verified,
        ],
    )?;
    Ok(())
}

impl BuyerStore for SqliteStore {
    fn buyer_channel(&self) -> StoreResult<Option<LocalChannel>> {
        local_channel::active(&self.lock(), Mirror::Buyer)
    }

    fn set_buyer_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.with_tx(|tx| local_channel::set_active(tx, Mirror::Buyer, channel))
    }

    fn record_purchase(&self, p: &Purchase) -> StoreResult<()> {
        self.with_tx(|tx| insert_purchase(tx, p))
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

    fn init_buyer_receive_key(&self, wrapped: &[u8]) -> StoreResult<Vec<u8>> {
        self.with_tx(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO buyer_receive_key (id, wrapped) VALUES (1, ?1)",
                [wrapped],
            )?;
            Ok(tx.query_row(
                "SELECT wrapped FROM buyer_receive_key WHERE id = 1",
                [],
                |r| r.get(0),
            )?)
        })
    }

    fn put_purchase_intent(&self, it: &PurchaseIntent) -> StoreResult<()> {
        self.with_tx(|tx| {
            if intent(tx, &it.channel_oid)?.is_some() {
                return Err(StoreError::Duplicate("purchase intent"));
            }
            if bought(tx, &it.key_id)? {
                return Err(StoreError::Duplicate("purchase"));
            }
            let active = local_channel::active(tx, Mirror::Buyer)?;
            rules::check_intent(active.as_ref(), it)?;
            tx.execute(
                &insert_sql("INSERT", "buyer_intent", INTENT_COLS),
                params![
                    it.channel_oid.as_ref(),
                    it.key_id.as_ref(),
                    i(it.seq)?,
                    b(&it.amount).as_slice(),
                    b(&it.balance).as_slice(),
                    it.buyer_signature.as_ref(),
                    it.buyer_pubkey.as_slice(),
                    i(it.created)?,
                    it.ciphertext,
                ],
            )?;
            Ok(())
        })
    }

    fn purchase_intents(&self) -> StoreResult<Vec<PurchaseIntent>> {
        let sql = format!("SELECT {INTENT_COLS} FROM buyer_intent ORDER BY created, rowid");
        query_all(&self.lock(), &sql, [], intent_from_row)
    }

    fn complete_purchase_intent(&self, p: &Purchase) -> StoreResult<()> {
        self.with_tx(|tx| {
            rules::check_resolves(intent(tx, &p.channel_oid)?.as_ref(), p)?;
            tx.execute(
                "DELETE FROM buyer_intent WHERE channel_oid = ?1",
                [p.channel_oid.as_ref()],
            )?;
            insert_purchase(tx, p)
        })
    }

    fn drop_purchase_intent(
        &self,
        channel_oid: &ChannelId,
        seq: u64,
        adopt: Option<&LocalChannel>,
    ) -> StoreResult<()> {
        self.with_tx(|tx| {
            tx.execute(
                "DELETE FROM buyer_intent WHERE channel_oid = ?1 AND seq = ?2",
                params![channel_oid.as_ref(), i(seq)?],
            )?;
            if let Some(channel) = adopt {
                local_channel::set_active(tx, Mirror::Buyer, channel)?;
            }
            Ok(())
        })
    }

    fn mark_purchase_verified(&self, key_id: &KeyId) -> StoreResult<()> {
        let n = self.lock().execute(
            "UPDATE buyer_key SET verified = 1 WHERE key_id = ?1",
            [key_id.as_ref()],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("purchase"));
        }
        Ok(())
    }
}

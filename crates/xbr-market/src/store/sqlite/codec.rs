//! Row ↔ record: the column lists of each table and the decoders from a row, plus the column
//! conversions both ways. Amounts are 32-byte big-endian BLOBs, addresses 20-byte BLOBs, ids
//! 16-byte BLOBs, integers must fit SQLite's signed 64 bits.

use rusqlite::Row;
use rusqlite::types::Type;

use crate::store::{StoreError, StoreResult};
use crate::types::PurchaseIntent;
use crate::types::{
    Address, Channel, ChannelClose, ChannelState, ChannelType, LocalChannel, Offer, Purchase, Sale,
    SaleStatus, SellerKey, SellerSale, Signature, U256,
};

// ------------------------------------------------------------------ column conversions

fn conv_err(idx: usize, msg: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Blob, msg.to_string().into())
}

/// A fixed-length BLOB column.
pub(super) fn arr<const N: usize>(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; N]> {
    let v: Vec<u8> = row.get(idx)?;
    v.try_into().map_err(|_| conv_err(idx, "wrong blob length"))
}

pub(super) fn opt_arr<const N: usize>(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<[u8; N]>> {
    let v: Option<Vec<u8>> = row.get(idx)?;
    v.map(|v| v.try_into().map_err(|_| conv_err(idx, "wrong blob length")))
        .transpose()
}

/// A 16-byte id column.
pub(super) fn id<T: From<[u8; 16]>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    arr::<16>(row, idx).map(T::from)
}

fn opt_id<T: From<[u8; 16]>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<T>> {
    Ok(opt_arr::<16>(row, idx)?.map(T::from))
}

/// A 65-byte signature column (NULL or another length is a conversion error).
pub(super) fn sig(row: &Row<'_>, idx: usize) -> rusqlite::Result<Signature> {
    arr::<65>(row, idx).map(Signature)
}

fn opt_sig(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Signature>> {
    Ok(opt_arr::<65>(row, idx)?.map(Signature))
}

pub(super) fn u256(row: &Row<'_>, idx: usize) -> rusqlite::Result<U256> {
    Ok(U256::from_be_bytes(arr::<32>(row, idx)?))
}

fn addr(row: &Row<'_>, idx: usize) -> rusqlite::Result<Address> {
    Ok(Address::from(arr::<20>(row, idx)?))
}

/// A non-negative INTEGER column.
pub(super) fn u64_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| conv_err(idx, "negative integer"))
}

pub(super) fn opt_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    let v: Option<i64> = row.get(idx)?;
    v.map(|v| u64::try_from(v).map_err(|_| conv_err(idx, "negative integer")))
        .transpose()
}

/// An amount as its column value.
pub(super) fn b(v: &U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

/// An integer as its column value; fails beyond SQLite's range.
pub(super) fn i(v: u64) -> StoreResult<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("integer {v} exceeds the SQLite range")))
}

/// An optional integer as its column value.
pub(super) fn opt_i(v: Option<u64>) -> StoreResult<Option<i64>> {
    v.map(i).transpose()
}

/// `INSERT INTO {table} ({cols}) VALUES (?1, …, ?n)` with one placeholder per column.
pub(super) fn insert_sql(verb: &str, table: &str, cols: &str) -> String {
    let n = cols.split(',').count();
    let placeholders: Vec<String> = (1..=n).map(|k| format!("?{k}")).collect();
    format!(
        "{verb} INTO {table} ({cols}) VALUES ({})",
        placeholders.join(",")
    )
}

// ------------------------------------------------------------------ market maker

/// `mm_channel`'s columns, in [`channel_from_row`]'s order.
pub(super) const CHANNEL_COLS: &str = "channel_oid, channel_type, market_oid, member_oid, timestamp, open_at, marketmaker, \
     actor, delegate, recipient, amount, timeout, state, seq, remaining, inflight, close_seq, close_balance, \
     close_is_final, close_del_sig, close_mm_sig, closing_at, closed_tx";

pub(super) fn channel_from_row(row: &Row<'_>) -> rusqlite::Result<Channel> {
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
            delegate_signature: sig(row, 19)?,
            marketmaker_signature: opt_sig(row, 20)?,
            closing_at: opt_u64(row, 21)?.unwrap_or(0),
            closed_tx: opt_arr::<32>(row, 22)?,
        }),
    };
    Ok(Channel {
        channel_oid: id(row, 0)?,
        channel_type,
        market_oid: id(row, 2)?,
        member_oid: opt_id(row, 3)?,
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

/// `mm_offer`'s columns, in [`offer_from_row`]'s order.
pub(super) const OFFER_COLS: &str = "offer_id, key_id, timestamp, seller, seller_session_id, seller_authid, api_id, uri, \
     valid_from, signature, price, categories, expires, copies, remaining";

pub(super) fn offer_from_row(row: &Row<'_>) -> rusqlite::Result<Offer> {
    let categories: Option<String> = row.get(11)?;
    let categories = categories
        .map(|s| {
            serde_json::from_str(&s)
                .map_err(|_| conv_err(11, "categories are not a JSON object of strings"))
        })
        .transpose()?;
    Ok(Offer {
        offer_id: id(row, 0)?,
        key_id: id(row, 1)?,
        timestamp: u64_col(row, 2)?,
        seller: addr(row, 3)?,
        seller_session_id: u64_col(row, 4)?,
        seller_authid: row.get(5)?,
        api_id: id(row, 6)?,
        uri: row.get(7)?,
        valid_from: u64_col(row, 8)?,
        signature: sig(row, 9)?,
        price: u256(row, 10)?,
        categories,
        expires: opt_u64(row, 12)?,
        copies: opt_u64(row, 13)?,
        remaining: opt_u64(row, 14)?,
    })
}

/// `mm_sale`'s columns, in [`sale_from_row`]'s order.
pub(super) const SALE_COLS: &str = "tx_id, created, status, key_id, offer_id, buyer_delegate, buyer_pubkey, amount_offered, \
     amount_paid, payment_channel, payment_seq, payment_remaining, buyer_signature, paying_channel, paying_seq, \
     paying_remaining, maker_sell_sig, seller_signature, maker_receipt_sig, failure, sealed_key, recovered";

pub(super) fn sale_from_row(row: &Row<'_>) -> rusqlite::Result<Sale> {
    Ok(Sale {
        tx_id: id(row, 0)?,
        created: u64_col(row, 1)?,
        status: SaleStatus::from_u64(u64_col(row, 2)?),
        key_id: id(row, 3)?,
        offer_id: id(row, 4)?,
        buyer_delegate: addr(row, 5)?,
        buyer_pubkey: arr(row, 6)?,
        amount_offered: u256(row, 7)?,
        amount_paid: u256(row, 8)?,
        payment_channel: id(row, 9)?,
        payment_seq: u64_col(row, 10)?,
        payment_remaining: u256(row, 11)?,
        buyer_signature: sig(row, 12)?,
        paying_channel: id(row, 13)?,
        paying_seq: u64_col(row, 14)?,
        paying_remaining: u256(row, 15)?,
        maker_sell_signature: sig(row, 16)?,
        seller_signature: opt_sig(row, 17)?,
        maker_receipt_signature: opt_sig(row, 18)?,
        failure: row.get(19)?,
        sealed_key: row.get(20)?,
        recovered: row.get(21)?,
    })
}

// ------------------------------------------------------------------ seller and buyer

/// The columns of `seller_channel` and `buyer_channel`, in [`local_channel_from_row`]'s order.
pub(super) const LOCAL_CHANNEL_COLS: &str = "channel_oid, market_oid, seq, balance";

pub(super) fn local_channel_from_row(r: &Row<'_>) -> rusqlite::Result<LocalChannel> {
    Ok(LocalChannel {
        channel_oid: id(r, 0)?,
        market_oid: id(r, 1)?,
        seq: u64_col(r, 2)?,
        balance: u256(r, 3)?,
    })
}

/// `seller_key`'s columns, in [`seller_key_from_row`]'s order.
pub(super) const SELLER_KEY_COLS: &str = "key_id, api_id, created, wrapped_key, offered";

pub(super) fn seller_key_from_row(r: &Row<'_>) -> rusqlite::Result<SellerKey> {
    Ok(SellerKey {
        key_id: id(r, 0)?,
        api_id: id(r, 1)?,
        created: u64_col(r, 2)?,
        wrapped_key: r.get(3)?,
        offered: r.get(4)?,
    })
}

/// `seller_sale`'s columns as a sale is recorded (live), in [`seller_sale_from_row`]'s order.
pub(super) const SELLER_SALE_COLS: &str = "channel_oid, seq, created, key_id, buyer_pubkey, amount, balance, \
     maker_signature, seller_signature";

/// `seller_sale`'s columns as a sale is read back: [`SELLER_SALE_COLS`] and the `voided` flag.
pub(super) const SELLER_SALE_ROW_COLS: &str = "channel_oid, seq, created, key_id, buyer_pubkey, amount, balance, \
     maker_signature, seller_signature, voided";

pub(super) fn seller_sale_from_row(r: &Row<'_>) -> rusqlite::Result<SellerSale> {
    Ok(SellerSale {
        channel_oid: id(r, 0)?,
        seq: u64_col(r, 1)?,
        created: u64_col(r, 2)?,
        key_id: id(r, 3)?,
        buyer_pubkey: arr(r, 4)?,
        amount: u256(r, 5)?,
        balance: u256(r, 6)?,
        maker_signature: sig(r, 7)?,
        seller_signature: sig(r, 8)?,
        voided: r.get(9)?,
    })
}

/// `buyer_key`'s columns, in [`purchase_from_row`]'s order.
pub(super) const PURCHASE_COLS: &str = "key_id, created, wrapped_key, channel_oid, seq, amount, balance, buyer_signature, maker_signature, \
     verified";

pub(super) fn purchase_from_row(r: &Row<'_>) -> rusqlite::Result<Purchase> {
    Ok(Purchase {
        key_id: id(r, 0)?,
        created: u64_col(r, 1)?,
        wrapped_key: r.get(2)?,
        channel_oid: id(r, 3)?,
        seq: u64_col(r, 4)?,
        amount: u256(r, 5)?,
        balance: u256(r, 6)?,
        buyer_signature: sig(r, 7)?,
        maker_signature: sig(r, 8)?,
        verified: r.get(9)?,
    })
}

/// `buyer_intent`'s columns, in [`intent_from_row`]'s order.
pub(super) const INTENT_COLS: &str = "channel_oid, key_id, seq, amount, balance, buyer_signature, buyer_pubkey, created, \
     ciphertext";

pub(super) fn intent_from_row(r: &Row<'_>) -> rusqlite::Result<PurchaseIntent> {
    Ok(PurchaseIntent {
        channel_oid: id(r, 0)?,
        key_id: id(r, 1)?,
        seq: u64_col(r, 2)?,
        amount: u256(r, 3)?,
        balance: u256(r, 4)?,
        buyer_signature: sig(r, 5)?,
        buyer_pubkey: arr(r, 6)?,
        created: u64_col(r, 7)?,
        ciphertext: r.get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_sql_has_one_placeholder_per_column() {
        assert_eq!(
            insert_sql("INSERT", "t", "a, b, c"),
            "INSERT INTO t (a, b, c) VALUES (?1,?2,?3)"
        );
        let channel = insert_sql("INSERT", "mm_channel", CHANNEL_COLS);
        assert!(channel.ends_with("?22,?23)"), "{channel}");
    }

    #[test]
    fn seller_sales_are_read_with_the_recorded_columns_then_the_flag() {
        assert_eq!(SELLER_SALE_ROW_COLS, format!("{SELLER_SALE_COLS}, voided"));
    }
}

//! Role records → admin API bodies, and WAMP values ↔ JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use alloy_primitives::{Address, U256};
use wamp_proto::Value;
use xbr_market::store::{StoreResult, blocking};
use xbr_market::types::{Channel, ChannelId, ChannelState, ChannelType, KeyId, LocalChannel};

use crate::ports::views::{ChannelView, TransactionPage, TransactionQuery, TransactionView};
use crate::ports::{OwnAddress, RoleError};

/// Default page size of `/v1/transactions`.
pub const DEFAULT_PAGE: u32 = 100;

/// A WAMP value as JSON: byte strings become `0x`-hex strings, big integers decimal strings.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::BigUInt(be) => alloy_primitives::U256::try_from_be_slice(be).map_or_else(
            || serde_json::Value::String(format!("0x{}", hex::encode(be))),
            |n| serde_json::Value::String(n.to_string()),
        ),
        Value::BigNegInt(_) => v
            .to_decimal()
            .map_or(serde_json::Value::Null, serde_json::Value::String),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Str(s) => s.clone().into(),
        Value::Bytes(b) => format!("0x{}", hex::encode(b)).into(),
        Value::List(l) => l.iter().map(value_to_json).collect(),
        Value::Dict(d) => d
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// Unix milliseconds of a time (0 before the epoch).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Checksummed address.
pub fn addr(a: &Address) -> String {
    a.to_checksum(None)
}

/// The channel type's API name.
pub fn channel_type(t: ChannelType) -> &'static str {
    match t {
        ChannelType::Payment => "payment",
        ChannelType::Paying => "paying",
    }
}

/// The channel state's API name.
pub fn channel_state(s: ChannelState) -> &'static str {
    match s {
        ChannelState::None => "none",
        ChannelState::Open => "open",
        ChannelState::Closing => "closing",
        ChannelState::Closed => "closed",
        ChannelState::Failed => "failed",
    }
}

/// A maker-side channel.
pub fn maker_channel(c: &Channel) -> ChannelView {
    ChannelView {
        channel_oid: c.channel_oid,
        channel_type: channel_type(c.channel_type).into(),
        state: channel_state(c.state).into(),
        actor: addr(&c.actor),
        delegate: addr(&c.delegate),
        recipient: addr(&c.recipient),
        amount: c.amount.to_string(),
        remaining: c.remaining.to_string(),
        inflight: c.inflight.to_string(),
        seq: c.seq,
    }
}

/// A seller's or buyer's channel: off-chain seq/remaining from its own store, the rest from the
/// chain when it answered (else `unknown`/empty).
pub fn local_channel(
    c: &LocalChannel,
    ty: ChannelType,
    on_chain: Option<&xbr_chain::ChannelInfo>,
) -> ChannelView {
    let state = match on_chain.map(|i| i.state) {
        Some(xbr_chain::ChannelState::Open) => "open",
        Some(xbr_chain::ChannelState::Closing) => "closing",
        Some(xbr_chain::ChannelState::Closed) => "closed",
        Some(_) => "failed",
        None => "unknown",
    };
    ChannelView {
        channel_oid: c.channel_oid,
        channel_type: channel_type(ty).into(),
        state: state.into(),
        actor: on_chain.map(|i| addr(&i.actor)).unwrap_or_default(),
        delegate: on_chain.map(|i| addr(&i.delegate)).unwrap_or_default(),
        recipient: on_chain.map(|i| addr(&i.recipient)).unwrap_or_default(),
        amount: on_chain.map(|i| i.amount.to_string()).unwrap_or_default(),
        remaining: c.balance.to_string(),
        inflight: "0".into(),
        seq: c.seq,
    }
}

/// `(after, limit)` of a query.
pub fn page_bounds(q: &TransactionQuery) -> (u64, usize) {
    (
        q.after.unwrap_or(0),
        q.limit.unwrap_or(DEFAULT_PAGE) as usize,
    )
}

/// A page with its continuation cursor (present when the page is full).
pub fn page(items: Vec<TransactionView>, limit: usize) -> TransactionPage {
    let next = (items.len() == limit)
        .then(|| items.last().map(|t| t.id))
        .flatten();
    TransactionPage { items, next }
}

/// Nanoseconds → milliseconds.
pub fn ns_to_ms(ns: u64) -> u64 {
    ns / 1_000_000
}

/// One sale or purchase as the store records it, in the terms every role shares.
pub struct Trade<'a> {
    /// `sale` or `purchase`.
    pub kind: &'static str,
    /// The key.
    pub key_id: &'a KeyId,
    /// Price paid.
    pub amount: U256,
    /// The channel it was paid over.
    pub channel_oid: &'a ChannelId,
    /// Channel seq after it.
    pub seq: u64,
    /// Channel balance after it.
    pub balance: U256,
    /// Recorded at (Unix ns).
    pub created_ns: u64,
}

/// A trade as a transaction row.
pub fn transaction(
    id: u64,
    t: Trade<'_>,
    counterparty: Option<String>,
    status: Option<&str>,
) -> TransactionView {
    TransactionView {
        id,
        kind: t.kind.into(),
        key_id: *t.key_id,
        amount: t.amount.to_string(),
        channel_oid: *t.channel_oid,
        channel_seq: t.seq,
        balance: t.balance.to_string(),
        counterparty,
        status: status.map(str::to_owned),
        recovered: None,
        voided: None,
        time_ms: ns_to_ms(t.created_ns),
    }
}

/// Reads `(after, limit)` records with their ids from a store.
pub type PageFetch<S, T> = fn(&S, u64, usize) -> StoreResult<Vec<(u64, T)>>;

/// One page of a role's trades: `fetch(store, after, limit)` read off the async workers, each
/// record made a row by `row`.
pub async fn transactions<S, T>(
    store: &Arc<S>,
    q: &TransactionQuery,
    fetch: PageFetch<S, T>,
    row: impl Fn(u64, T) -> TransactionView,
) -> Result<TransactionPage, RoleError>
where
    S: ?Sized + Send + Sync + 'static,
    T: Send + 'static,
{
    let (after, limit) = page_bounds(q);
    let records = blocking(store, move |s| fetch(s, after, limit)).await?;
    let items = records.into_iter().map(|(id, r)| row(id, r)).collect();
    Ok(page(items, limit))
}

/// A seller's or buyer's addresses: the delegate, and the member it acts for when configured.
pub fn delegate_and_member(delegate: Address, member: Option<Address>) -> Vec<OwnAddress> {
    let mut v = vec![OwnAddress {
        label: "delegate",
        address: delegate,
    }];
    v.extend(member.map(|address| OwnAddress {
        label: "member",
        address,
    }));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json() {
        let mut d = wamp_proto::Dict::new();
        d.insert("n".into(), Value::from(3u64));
        d.insert("b".into(), Value::Bytes(vec![1, 2]));
        d.insert(
            "big".into(),
            Value::BigUInt(vec![1, 0, 0, 0, 0, 0, 0, 0, 0]),
        );
        d.insert("l".into(), Value::List(vec![Value::Null, Value::from("x")]));
        d.insert("neg".into(), Value::from(-(1i128 << 64) - 1));
        assert_eq!(
            value_to_json(&Value::Dict(d)),
            serde_json::json!({"n": 3, "b": "0x0102", "big": "18446744073709551616", "l": [null, "x"], "neg": "-18446744073709551617"})
        );
    }

    #[test]
    fn full_pages_have_a_cursor() {
        let t = |id| TransactionView {
            id,
            kind: "sale".into(),
            key_id: Default::default(),
            amount: "0".into(),
            channel_oid: Default::default(),
            channel_seq: 0,
            balance: "0".into(),
            counterparty: None,
            status: None,
            recovered: None,
            voided: None,
            time_ms: 0,
        };
        assert_eq!(page(vec![t(1), t(2)], 2).next, Some(2));
        assert_eq!(page(vec![t(1)], 2).next, None);
    }
}

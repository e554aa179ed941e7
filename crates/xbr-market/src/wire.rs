//! Conversion between WAMP payloads ([`Value`] positional args and keyword dicts) and the typed
//! requests and results of the market procedures, in the exact order and types of the
//! reference (spec §2.4, §2.5, §3.3, §3A.2).
//!
//! Readers are tolerant where the reference is: amounts are accepted as 32-byte big-endian
//! strings, as integers of any size (u64, u128, tag-2 bignums) and as the integer `0` / empty
//! bytes. Everything else that does not fit is rejected with `wamp.error.invalid_argument`,
//! naming the argument; nothing panics.

use std::collections::BTreeMap;

use wamp_proto::{Dict, Value};
use xbr_core::address::{format_address, parse_address};

use crate::error::{MarketError, MarketResult};
use crate::types::{Address, Channel, ChannelType, Offer, Oid, U256};

// ------------------------------------------------------------------ value builders

/// A byte-string value.
pub fn v_bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

/// A `uint256-bytes` value (32 bytes big-endian).
pub fn v_u256_bytes(v: &U256) -> Value {
    Value::Bytes(v.to_be_bytes::<32>().to_vec())
}

/// An integer value of any size (CBOR bignum / bare JSON integer above u64).
pub fn v_u256_int(v: &U256) -> Value {
    Value::from_be_bytes_uint(&v.to_be_bytes::<32>())
}

/// The cfxdb convention for balances: 32 bytes, or the integer 0 when zero.
pub fn v_u256_or_zero(v: &U256) -> Value {
    if v.is_zero() {
        Value::from(0u64)
    } else {
        v_u256_bytes(v)
    }
}

fn v_opt_bytes(b: Option<&[u8]>) -> Value {
    b.map(v_bytes).unwrap_or(Value::Null)
}

fn v_opt_u64(v: Option<u64>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

fn v_categories(c: Option<&BTreeMap<String, String>>) -> Value {
    match c {
        None => Value::Null,
        Some(m) => Value::Dict(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        ),
    }
}

// ------------------------------------------------------------------ value readers

fn bad(what: &str, name: &str, expected: &str) -> MarketError {
    MarketError::invalid_argument(format!("{what}: argument '{name}' must be {expected}"))
}

/// Reads one value as `N` raw bytes.
pub fn read_bytes_n<const N: usize>(v: &Value, what: &str, name: &str) -> MarketResult<[u8; N]> {
    v.as_bytes()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| bad(what, name, &format!("b{N}")))
}

/// Reads a 65-byte signature.
pub fn read_sig(v: &Value, what: &str, name: &str) -> MarketResult<Vec<u8>> {
    Ok(read_bytes_n::<65>(v, what, name)?.to_vec())
}

/// Reads a 20-byte address (raw bytes, or a `0x…` string where the reference sends one).
pub fn read_address(v: &Value, what: &str, name: &str) -> MarketResult<Address> {
    match v {
        Value::Str(s) => parse_address(s).map_err(|_| bad(what, name, "an address")),
        _ => Ok(Address::from(read_bytes_n::<20>(v, what, name)?)),
    }
}

/// Reads an amount: 32-byte big-endian, empty bytes (0), or a non-negative integer of any size
/// that fits in 256 bits.
pub fn read_u256(v: &Value, what: &str, name: &str) -> MarketResult<U256> {
    match v {
        Value::Bytes(b) if b.is_empty() => Ok(U256::ZERO),
        Value::Bytes(b) if b.len() == 32 => Ok(U256::from_be_slice(b)),
        Value::Null => Ok(U256::ZERO),
        other => other
            .to_be_bytes_uint_fixed::<32>()
            .map(U256::from_be_bytes)
            .ok_or_else(|| bad(what, name, "a uint256 (32 bytes or a non-negative integer)")),
    }
}

/// Reads a non-negative integer that fits in u64.
pub fn read_u64(v: &Value, what: &str, name: &str) -> MarketResult<u64> {
    v.as_u64()
        .ok_or_else(|| bad(what, name, "a non-negative integer"))
}

/// Reads a seq: a non-negative integer that fits in the uint32 of `EIP712ChannelClose`.
pub fn read_seq(v: &Value, what: &str, name: &str) -> MarketResult<u64> {
    let s = read_u64(v, what, name)?;
    if s > u64::from(u32::MAX) {
        return Err(bad(what, name, "a uint32 sequence number"));
    }
    Ok(s)
}

fn read_bool(v: &Value, what: &str, name: &str) -> MarketResult<bool> {
    v.as_bool().ok_or_else(|| bad(what, name, "a bool"))
}

fn read_str(v: &Value, what: &str, name: &str) -> MarketResult<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(what, name, "a string"))
}

fn read_categories(v: &Value, what: &str) -> MarketResult<Option<BTreeMap<String, String>>> {
    match v {
        Value::Null => Ok(None),
        Value::Dict(d) => d
            .iter()
            .map(|(k, v)| Ok((k.clone(), read_str(v, what, "categories")?)))
            .collect::<MarketResult<_>>()
            .map(Some),
        _ => Err(bad(what, "categories", "a dict of strings or null")),
    }
}

fn opt<T>(v: Option<&Value>, f: impl FnOnce(&Value) -> MarketResult<T>) -> MarketResult<Option<T>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => f(v).map(Some),
    }
}

/// Positional arguments of one call, read by index with the argument's name for errors.
pub struct Args<'a> {
    what: &'a str,
    args: &'a [Value],
}

impl<'a> Args<'a> {
    /// Checks the count (`min..=max`) and wraps the list.
    pub fn new(what: &'a str, args: &'a [Value], min: usize, max: usize) -> MarketResult<Self> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(MarketError::invalid_argument(format!(
                "{what}: expected {want} positional arguments, got {}",
                args.len()
            )));
        }
        Ok(Self { what, args })
    }

    /// The value at `i` (Null if absent).
    pub fn at(&self, i: usize) -> &'a Value {
        static NULL: Value = Value::Null;
        self.args.get(i).unwrap_or(&NULL)
    }

    /// `bN` at `i`.
    pub fn bytes<const N: usize>(&self, i: usize, name: &str) -> MarketResult<[u8; N]> {
        read_bytes_n::<N>(self.at(i), self.what, name)
    }
    /// Address at `i`.
    pub fn address(&self, i: usize, name: &str) -> MarketResult<Address> {
        read_address(self.at(i), self.what, name)
    }
    /// Signature at `i`.
    pub fn sig(&self, i: usize, name: &str) -> MarketResult<Vec<u8>> {
        read_sig(self.at(i), self.what, name)
    }
    /// Amount at `i`.
    pub fn u256(&self, i: usize, name: &str) -> MarketResult<U256> {
        read_u256(self.at(i), self.what, name)
    }
    /// Integer at `i`.
    pub fn u64(&self, i: usize, name: &str) -> MarketResult<u64> {
        read_u64(self.at(i), self.what, name)
    }
    /// Seq at `i`.
    pub fn seq(&self, i: usize, name: &str) -> MarketResult<u64> {
        read_seq(self.at(i), self.what, name)
    }
    /// Bool at `i`.
    pub fn bool(&self, i: usize, name: &str) -> MarketResult<bool> {
        read_bool(self.at(i), self.what, name)
    }
    /// String at `i`.
    pub fn str(&self, i: usize, name: &str) -> MarketResult<String> {
        read_str(self.at(i), self.what, name)
    }
}

/// Keyword lookup in a dict result or kwargs.
pub struct Fields<'a> {
    what: &'static str,
    dict: &'a Dict,
}

impl<'a> Fields<'a> {
    /// Wraps a dict.
    pub fn new(what: &'static str, dict: &'a Dict) -> Self {
        Self { what, dict }
    }

    /// Wraps a value that must be a dict.
    pub fn of(what: &'static str, v: &'a Value) -> MarketResult<Self> {
        v.as_dict()
            .map(|dict| Self { what, dict })
            .ok_or_else(|| MarketError::invalid_argument(format!("{what}: expected a dict")))
    }

    /// The value of `key` (Null if absent).
    pub fn at(&self, key: &str) -> &'a Value {
        static NULL: Value = Value::Null;
        self.dict.get(key).unwrap_or(&NULL)
    }
    /// The value of `key`, or `None` if absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.dict.get(key).filter(|v| !v.is_null())
    }
    /// `bN`.
    pub fn bytes<const N: usize>(&self, key: &str) -> MarketResult<[u8; N]> {
        read_bytes_n::<N>(self.at(key), self.what, key)
    }
    /// Any byte string.
    pub fn raw_bytes(&self, key: &str) -> MarketResult<Vec<u8>> {
        self.at(key)
            .as_bytes()
            .map(<[u8]>::to_vec)
            .ok_or_else(|| bad(self.what, key, "bytes"))
    }
    /// Address.
    pub fn address(&self, key: &str) -> MarketResult<Address> {
        read_address(self.at(key), self.what, key)
    }
    /// Amount.
    pub fn u256(&self, key: &str) -> MarketResult<U256> {
        read_u256(self.at(key), self.what, key)
    }
    /// Integer.
    pub fn u64(&self, key: &str) -> MarketResult<u64> {
        read_u64(self.at(key), self.what, key)
    }
    /// Bool.
    pub fn bool(&self, key: &str) -> MarketResult<bool> {
        read_bool(self.at(key), self.what, key)
    }
    /// String.
    pub fn str(&self, key: &str) -> MarketResult<String> {
        read_str(self.at(key), self.what, key)
    }
}

/// A positional-args + kwargs pair, as sent in a CALL or returned in a RESULT.
pub type Payload = (Vec<Value>, Dict);

/// A single-value result payload.
pub fn result1(v: Value) -> Payload {
    (vec![v], Dict::new())
}

/// The first positional result (Null if none).
pub fn first(p: &Payload) -> &Value {
    static NULL: Value = Value::Null;
    p.0.first().unwrap_or(&NULL)
}

// ------------------------------------------------------------------ buy_key

/// `xbr.marketmaker.buy_key` arguments (spec §3.3 step 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyKeyRequest {
    /// Buyer delegate address.
    pub delegate: Address,
    /// Buyer's X25519 public key the key is sealed to.
    pub buyer_pubkey: [u8; 32],
    /// Key to buy.
    pub key_id: Oid,
    /// Payment channel.
    pub channel_oid: Oid,
    /// Payment channel seq after this purchase.
    pub channel_seq: u64,
    /// Amount offered.
    pub amount: U256,
    /// Payment channel remaining after this purchase.
    pub balance: U256,
    /// Buyer's ChannelClose signature (XBRSIG1).
    pub signature: Vec<u8>,
}

impl BuyKeyRequest {
    /// Positional args in reference order.
    pub fn to_args(&self) -> Vec<Value> {
        vec![
            v_bytes(self.delegate.as_slice()),
            v_bytes(&self.buyer_pubkey),
            v_bytes(&self.key_id),
            v_bytes(&self.channel_oid),
            Value::from(self.channel_seq),
            v_u256_bytes(&self.amount),
            v_u256_bytes(&self.balance),
            v_bytes(&self.signature),
        ]
    }

    /// Parses positional args.
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("buy_key", args, 8, 8)?;
        Ok(Self {
            delegate: a.address(0, "delegate_adr")?,
            buyer_pubkey: a.bytes(1, "buyer_pubkey")?,
            key_id: a.bytes(2, "key_id")?,
            channel_oid: a.bytes(3, "channel_oid")?,
            channel_seq: a.seq(4, "channel_seq")?,
            amount: a.u256(5, "amount")?,
            balance: a.u256(6, "balance")?,
            signature: a.sig(7, "signature")?,
        })
    }
}

/// The receipt `buy_key` returns (spec §3A.2 "Buy receipt").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyReceipt {
    /// Key bought.
    pub key_id: Oid,
    /// Buyer delegate.
    pub delegate: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// The key sealed to `buyer_pubkey` (80 bytes).
    pub sealed_key: Vec<u8>,
    /// Offer id.
    pub offer_id: Option<Oid>,
    /// Whether the key was free.
    pub free_rated: bool,
    /// Amount offered.
    pub amount: U256,
    /// Amount charged.
    pub amount_paid: U256,
    /// Payment channel seq after the purchase.
    pub channel_seq: u64,
    /// Payment channel.
    pub payment_channel: Oid,
    /// Payment channel remaining after the purchase.
    pub remaining: U256,
    /// Payment channel inflight after the purchase.
    pub inflight: U256,
    /// Maker's ChannelClose signature over the payment state (XBRSIG7).
    pub signature: Vec<u8>,
}

impl BuyReceipt {
    /// The receipt dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("key_id".into(), v_bytes(&self.key_id));
        d.insert("delegate".into(), v_bytes(self.delegate.as_slice()));
        d.insert("buyer_pubkey".into(), v_bytes(&self.buyer_pubkey));
        d.insert("sealed_key".into(), v_bytes(&self.sealed_key));
        d.insert(
            "offer_id".into(),
            v_opt_bytes(self.offer_id.as_ref().map(|o| o.as_slice())),
        );
        d.insert("free_rated".into(), Value::Bool(self.free_rated));
        d.insert("amount".into(), v_u256_bytes(&self.amount));
        d.insert("amount_paid".into(), v_u256_bytes(&self.amount_paid));
        d.insert("channel_seq".into(), Value::from(self.channel_seq));
        d.insert("payment_channel".into(), v_bytes(&self.payment_channel));
        d.insert("remaining".into(), v_u256_bytes(&self.remaining));
        d.insert("inflight".into(), v_u256_bytes(&self.inflight));
        d.insert("signature".into(), v_bytes(&self.signature));
        Value::Dict(d)
    }

    /// Parses the receipt dict.
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("buy_key receipt", v)?;
        Ok(Self {
            key_id: f.bytes("key_id")?,
            delegate: f.address("delegate")?,
            buyer_pubkey: f.bytes("buyer_pubkey")?,
            sealed_key: f.raw_bytes("sealed_key")?,
            offer_id: opt(f.get("offer_id"), |v| {
                read_bytes_n::<16>(v, "buy_key receipt", "offer_id")
            })?,
            free_rated: f
                .get("free_rated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            amount: f.u256("amount")?,
            amount_paid: f.u256("amount_paid")?,
            channel_seq: f.u64("channel_seq")?,
            payment_channel: f.bytes("payment_channel")?,
            remaining: f.u256("remaining")?,
            inflight: f.u256("inflight")?,
            signature: f.bytes::<65>("signature")?.to_vec(),
        })
    }
}

// ------------------------------------------------------------------ sell

/// `xbr.provider.<id>.sell` arguments (spec §2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellRequest {
    /// Market maker address.
    pub market_maker_adr: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// Key to sell.
    pub key_id: Oid,
    /// Paying channel.
    pub channel_oid: Oid,
    /// Paying channel seq after this sale.
    pub channel_seq: u64,
    /// Amount paid (offer price).
    pub amount: U256,
    /// Paying channel remaining after this sale.
    pub balance: U256,
    /// Maker's ChannelClose signature (XBRSIG3).
    pub signature: Vec<u8>,
}

impl SellRequest {
    /// Positional args in reference order.
    pub fn to_args(&self) -> Vec<Value> {
        vec![
            v_bytes(self.market_maker_adr.as_slice()),
            v_bytes(&self.buyer_pubkey),
            v_bytes(&self.key_id),
            v_bytes(&self.channel_oid),
            Value::from(self.channel_seq),
            v_u256_bytes(&self.amount),
            v_u256_bytes(&self.balance),
            v_bytes(&self.signature),
        ]
    }

    /// Parses positional args.
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("sell", args, 8, 8)?;
        Ok(Self {
            market_maker_adr: a.address(0, "market_maker_adr")?,
            buyer_pubkey: a.bytes(1, "buyer_pubkey")?,
            key_id: a.bytes(2, "key_id")?,
            channel_oid: a.bytes(3, "channel_oid")?,
            channel_seq: a.seq(4, "channel_seq")?,
            amount: a.u256(5, "amount")?,
            balance: a.u256(6, "balance")?,
            signature: a.sig(7, "signature")?,
        })
    }
}

/// The seller's `sell` result (spec §2.4): `amount`/`balance` are integers on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellReceipt {
    /// Key sold.
    pub key_id: Oid,
    /// Seller delegate address.
    pub delegate: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// The sealed key (80 bytes).
    pub sealed_key: Vec<u8>,
    /// Paying channel seq after the sale.
    pub channel_seq: u64,
    /// Amount earned.
    pub amount: U256,
    /// Paying channel remaining after the sale.
    pub balance: U256,
    /// Seller's ChannelClose signature (XBRSIG5).
    pub signature: Vec<u8>,
}

impl SellReceipt {
    /// The result dict, in reference key order.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("key_id".into(), v_bytes(&self.key_id));
        d.insert("delegate".into(), v_bytes(self.delegate.as_slice()));
        d.insert("buyer_pubkey".into(), v_bytes(&self.buyer_pubkey));
        d.insert("sealed_key".into(), v_bytes(&self.sealed_key));
        d.insert("channel_seq".into(), Value::from(self.channel_seq));
        d.insert("amount".into(), v_u256_int(&self.amount));
        d.insert("balance".into(), v_u256_int(&self.balance));
        d.insert("signature".into(), v_bytes(&self.signature));
        Value::Dict(d)
    }

    /// Parses the result dict (amounts as integers or 32 bytes).
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("sell receipt", v)?;
        Ok(Self {
            key_id: f.bytes("key_id")?,
            delegate: f.address("delegate")?,
            buyer_pubkey: f.bytes("buyer_pubkey")?,
            sealed_key: f.raw_bytes("sealed_key")?,
            channel_seq: f.u64("channel_seq")?,
            amount: f.u256("amount")?,
            balance: f.u256("balance")?,
            signature: f.bytes::<65>("signature")?.to_vec(),
        })
    }
}

// ------------------------------------------------------------------ offers and quotes

/// `xbr.marketmaker.place_offer` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceOfferRequest {
    /// Key offered.
    pub key_id: Oid,
    /// API it belongs to.
    pub api_id: Oid,
    /// URI (prefix) of the data.
    pub uri: String,
    /// Valid from (ns).
    pub valid_from: u64,
    /// Seller delegate.
    pub delegate: Address,
    /// Delegate signature (65 bytes; the reference sends random bytes).
    pub signature: Vec<u8>,
    /// Price (None = not set, treated as free).
    pub price: Option<U256>,
    /// Categories.
    pub categories: Option<BTreeMap<String, String>>,
    /// Expiry (ns).
    pub expires: Option<u64>,
    /// Copies.
    pub copies: Option<u64>,
    /// The seller's provider id (its procedures' URI component).
    pub provider_id: Option<String>,
}

impl PlaceOfferRequest {
    /// Positional args and kwargs in reference form.
    pub fn to_call(&self) -> Payload {
        let args = vec![
            v_bytes(&self.key_id),
            v_bytes(&self.api_id),
            Value::from(self.uri.as_str()),
            Value::from(self.valid_from),
            v_bytes(self.delegate.as_slice()),
            v_bytes(&self.signature),
        ];
        let mut kw = Dict::new();
        kw.insert("privkey".into(), Value::Null);
        kw.insert(
            "price".into(),
            self.price.as_ref().map(v_u256_bytes).unwrap_or(Value::Null),
        );
        kw.insert("categories".into(), v_categories(self.categories.as_ref()));
        kw.insert("expires".into(), v_opt_u64(self.expires));
        kw.insert("copies".into(), v_opt_u64(self.copies));
        kw.insert(
            "provider_id".into(),
            self.provider_id
                .as_deref()
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
        (args, kw)
    }

    /// Parses args and kwargs.
    pub fn from_call(args: &[Value], kwargs: &Dict) -> MarketResult<Self> {
        const W: &str = "place_offer";
        let a = Args::new(W, args, 6, 6)?;
        let kw = Fields::new(W, kwargs);
        if let Some(k) = kwargs.keys().find(|k| {
            !matches!(
                k.as_str(),
                "privkey" | "price" | "categories" | "expires" | "copies" | "provider_id"
            )
        }) {
            return Err(MarketError::invalid_argument(format!(
                "{W}: unexpected keyword argument '{k}'"
            )));
        }
        Ok(Self {
            key_id: a.bytes(0, "key_id")?,
            api_id: a.bytes(1, "api_id")?,
            uri: a.str(2, "uri")?,
            valid_from: a.u64(3, "valid_from")?,
            delegate: a.address(4, "delegate_adr")?,
            signature: a.sig(5, "delegate_signature")?,
            price: opt(kw.get("price"), |v| read_u256(v, W, "price"))?,
            categories: read_categories(kw.at("categories"), W)?,
            expires: opt(kw.get("expires"), |v| read_u64(v, W, "expires"))?,
            copies: opt(kw.get("copies"), |v| read_u64(v, W, "copies"))?,
            provider_id: opt(kw.get("provider_id"), |v| read_str(v, W, "provider_id"))?,
        })
    }
}

/// The offer dict (cfxdb `offer.marshal`).
pub fn offer_to_value(o: &Offer) -> Value {
    let mut d = Dict::new();
    d.insert("timestamp".into(), Value::from(o.timestamp));
    d.insert("offer".into(), v_bytes(&o.offer_id));
    d.insert("seller".into(), v_bytes(o.seller.as_slice()));
    d.insert("seller_session_id".into(), Value::from(o.seller_session_id));
    d.insert(
        "seller_authid".into(),
        Value::from(o.seller_authid.as_str()),
    );
    d.insert("key".into(), v_bytes(&o.key_id));
    d.insert("api".into(), v_bytes(&o.api_id));
    d.insert("uri".into(), Value::from(o.uri.as_str()));
    d.insert("valid_from".into(), Value::from(o.valid_from));
    d.insert("signature".into(), v_bytes(&o.signature));
    d.insert("price".into(), v_u256_or_zero(&o.price));
    d.insert("categories".into(), v_categories(o.categories.as_ref()));
    d.insert("expires".into(), v_opt_u64(o.expires));
    d.insert("copies".into(), v_opt_u64(o.copies));
    d.insert("remaining".into(), v_opt_u64(o.remaining));
    Value::Dict(d)
}

/// Parses an offer dict.
pub fn offer_from_value(v: &Value) -> MarketResult<Offer> {
    const W: &str = "offer";
    let f = Fields::of(W, v)?;
    Ok(Offer {
        offer_id: f.bytes("offer")?,
        timestamp: f.u64("timestamp")?,
        seller: f.address("seller")?,
        seller_session_id: f
            .get("seller_session_id")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        seller_authid: f.str("seller_authid")?,
        key_id: f.bytes("key")?,
        api_id: f.bytes("api")?,
        uri: f.str("uri")?,
        valid_from: f.u64("valid_from")?,
        signature: f.raw_bytes("signature")?,
        price: f.u256("price")?,
        categories: read_categories(f.at("categories"), W)?,
        expires: opt(f.get("expires"), |v| read_u64(v, W, "expires"))?,
        copies: opt(f.get("copies"), |v| read_u64(v, W, "copies"))?,
        remaining: opt(f.get("remaining"), |v| read_u64(v, W, "remaining"))?,
    })
}

/// `get_quote` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// When quoted (ns).
    pub timestamp: u64,
    /// Key quoted.
    pub key_id: Oid,
    /// Price.
    pub price: U256,
    /// Offer expiry (0 = none).
    pub expires: u64,
}

impl Quote {
    /// The quote dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("timestamp".into(), Value::from(self.timestamp));
        d.insert("key".into(), v_bytes(&self.key_id));
        d.insert("price".into(), v_u256_bytes(&self.price));
        d.insert("expires".into(), Value::from(self.expires));
        Value::Dict(d)
    }

    /// Parses the quote dict.
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("quote", v)?;
        Ok(Self {
            timestamp: f.get("timestamp").and_then(Value::as_u64).unwrap_or(0),
            key_id: f.bytes("key")?,
            price: f.u256("price")?,
            expires: f.get("expires").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// `query_offers` arguments: `api_id, from_ts` positional (either may be null), the rest kwargs
/// (`until_ts, uri, categories, seller_id, limit`).
pub fn offer_query_from_call(
    args: &[Value],
    kwargs: &Dict,
) -> MarketResult<crate::types::OfferQuery> {
    const W: &str = "query_offers";
    let a = Args::new(W, args, 0, 2)?;
    let kw = Fields::new(W, kwargs);
    Ok(crate::types::OfferQuery {
        api_id: opt(Some(a.at(0)), |v| read_bytes_n::<16>(v, W, "api_id"))?,
        from_ts: opt(Some(a.at(1)), |v| read_u64(v, W, "from_ts"))?,
        until_ts: opt(kw.get("until_ts"), |v| read_u64(v, W, "until_ts"))?,
        uri: opt(kw.get("uri"), |v| read_str(v, W, "uri"))?,
        categories: read_categories(kw.at("categories"), W)?,
        seller: opt(kw.get("seller_id"), |v| read_address(v, W, "seller_id"))?,
        limit: opt(kw.get("limit"), |v| read_u64(v, W, "limit"))?
            .map(|l| usize::try_from(l).unwrap_or(usize::MAX)),
    })
}

// ------------------------------------------------------------------ channels and balances

/// The channel dict (cfxdb `channel.marshal`).
pub fn channel_to_value(c: &Channel) -> Value {
    let close = c.close.as_ref();
    let mut d = Dict::new();
    d.insert("market_oid".into(), v_bytes(&c.market_oid));
    d.insert(
        "member_oid".into(),
        v_opt_bytes(c.member_oid.as_ref().map(|m| m.as_slice())),
    );
    d.insert("channel_oid".into(), v_bytes(&c.channel_oid));
    d.insert("timestamp".into(), Value::from(c.timestamp));
    d.insert("open_at".into(), v_u256_bytes(&c.open_at));
    d.insert("seq".into(), Value::from(c.seq));
    d.insert(
        "channel_type".into(),
        Value::from(u64::from(c.channel_type.as_u8())),
    );
    d.insert("marketmaker".into(), v_bytes(c.marketmaker.as_slice()));
    d.insert("actor".into(), v_bytes(c.actor.as_slice()));
    d.insert("delegate".into(), v_bytes(c.delegate.as_slice()));
    d.insert("recipient".into(), v_bytes(c.recipient.as_slice()));
    d.insert("amount".into(), v_u256_or_zero(&c.amount));
    d.insert("timeout".into(), Value::from(c.timeout));
    d.insert("state".into(), Value::from(c.state as u64));
    d.insert(
        "closing_at".into(),
        close
            .map(|x| Value::from(x.closing_at))
            .unwrap_or(Value::Null),
    );
    d.insert("closed_at".into(), Value::Null);
    d.insert(
        "close_mm_sig".into(),
        v_opt_bytes(close.and_then(|x| x.marketmaker_signature.as_deref())),
    );
    d.insert(
        "close_del_sig".into(),
        v_opt_bytes(close.map(|x| x.delegate_signature.as_slice())),
    );
    d.insert("close_channel_seq".into(), v_opt_u64(close.map(|x| x.seq)));
    d.insert(
        "close_balance".into(),
        v_u256_or_zero(&close.map(|x| x.balance).unwrap_or_default()),
    );
    d.insert(
        "close_is_final".into(),
        close
            .map(|x| Value::Bool(x.is_final))
            .unwrap_or(Value::Null),
    );
    d.insert(
        "closed_tx".into(),
        v_opt_bytes(
            close
                .and_then(|x| x.closed_tx.as_ref())
                .map(|t| t.as_slice()),
        ),
    );
    Value::Dict(d)
}

/// The parts of a channel dict the clients use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Channel id.
    pub channel_oid: Oid,
    /// Market id.
    pub market_oid: Oid,
    /// Channel type, if given.
    pub channel_type: Option<ChannelType>,
    /// Delegate, if given.
    pub delegate: Option<Address>,
}

impl ChannelInfo {
    /// Parses a channel dict; `None` for a null result.
    pub fn from_value(v: &Value) -> MarketResult<Option<Self>> {
        if v.is_null() {
            return Ok(None);
        }
        let f = Fields::of("channel", v)?;
        Ok(Some(Self {
            channel_oid: f.bytes("channel_oid")?,
            market_oid: f.bytes("market_oid")?,
            channel_type: f
                .get("channel_type")
                .and_then(Value::as_u64)
                .and_then(ChannelType::from_u64),
            delegate: opt(f.get("delegate"), |v| {
                read_address(v, "channel", "delegate")
            })?,
        }))
    }
}

/// `get_*_channel_balance` result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    /// Off-chain remaining.
    pub remaining: U256,
    /// In flight.
    pub inflight: U256,
    /// Off-chain seq.
    pub seq: u64,
}

impl Balance {
    /// The balance dict (`remaining`/`inflight` 32 bytes, or 0 when zero, like cfxdb).
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("remaining".into(), v_u256_or_zero(&self.remaining));
        d.insert("inflight".into(), v_u256_or_zero(&self.inflight));
        d.insert("seq".into(), Value::from(self.seq));
        Value::Dict(d)
    }

    /// Parses the balance dict (accepts 32 bytes or integers).
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("balance", v)?;
        Ok(Self {
            remaining: f.u256("remaining")?,
            inflight: f.u256("inflight")?,
            seq: f.u64("seq")?,
        })
    }
}

// ------------------------------------------------------------------ config

/// The subset of `get_config` the roles need, plus what the maker publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerConfigInfo {
    /// Current time (ns).
    pub now: u64,
    /// `w3.net.version`.
    pub chain: u64,
    /// EIP-712 chain id of every channel signature.
    pub verifying_chain_id: u64,
    /// EIP-712 verifying contract of every channel signature.
    pub verifying_contract: Address,
    /// Contract addresses (`xbrtoken`, `xbrnetwork`, `xbrcatalog`, `xbrmarket`, `xbrchannel`).
    pub contracts: BTreeMap<String, Address>,
    /// Market owner.
    pub owner: Address,
    /// Market id.
    pub market: Oid,
    /// Market maker address.
    pub marketmaker: Address,
    /// EULA url and hash.
    pub eula_url: String,
    /// EULA hash.
    pub eula_hash: String,
}

fn uuid_string(b: &Oid) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn parse_uuid(s: &str) -> Option<Oid> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl MakerConfigInfo {
    /// The `get_config` dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("now".into(), Value::from(self.now));
        d.insert("chain".into(), Value::from(self.chain));
        d.insert(
            "verifying_chain_id".into(),
            Value::from(self.verifying_chain_id),
        );
        d.insert(
            "verifying_contract_adr".into(),
            Value::from(format_address(&self.verifying_contract)),
        );
        let contracts: Dict = self
            .contracts
            .iter()
            .map(|(k, a)| (k.clone(), Value::from(format_address(a))))
            .collect();
        d.insert("contracts".into(), Value::Dict(contracts));
        let mut eula = Dict::new();
        eula.insert("url".into(), Value::from(self.eula_url.as_str()));
        eula.insert("hash".into(), Value::from(self.eula_hash.as_str()));
        eula.insert("text".into(), Value::Null);
        d.insert("eula".into(), Value::Dict(eula));
        d.insert("coin".into(), Value::Null);
        d.insert("owner".into(), Value::from(format_address(&self.owner)));
        d.insert("market".into(), Value::from(uuid_string(&self.market)));
        d.insert(
            "marketmaker".into(),
            Value::from(format_address(&self.marketmaker)),
        );
        Value::Dict(d)
    }

    /// Parses the `get_config` dict (clients use only the chain id and verifying contract; the
    /// rest is read where present).
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        const W: &str = "get_config";
        let f = Fields::of(W, v)?;
        let addr_or_zero =
            |k: &str| opt(f.get(k), |v| read_address(v, W, k)).map(Option::unwrap_or_default);
        let contracts = match f.get("contracts") {
            Some(Value::Dict(d)) => d
                .iter()
                .filter_map(|(k, v)| read_address(v, W, k).ok().map(|a| (k.clone(), a)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let eula = f.get("eula").and_then(Value::as_dict);
        Ok(Self {
            now: f.get("now").and_then(Value::as_u64).unwrap_or(0),
            chain: f.get("chain").and_then(Value::as_u64).unwrap_or(0),
            verifying_chain_id: f.u64("verifying_chain_id")?,
            verifying_contract: f.address("verifying_contract_adr")?,
            contracts,
            owner: addr_or_zero("owner")?,
            market: f
                .get("market")
                .and_then(Value::as_str)
                .and_then(parse_uuid)
                .unwrap_or_default(),
            marketmaker: addr_or_zero("marketmaker")?,
            eula_url: eula
                .and_then(|e| e.get("url"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            eula_hash: eula
                .and_then(|e| e.get("hash"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        })
    }
}

// ------------------------------------------------------------------ channel open / close

/// `xbr.marketmaker.open_channel` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenChannelRequest {
    /// Member opening the channel.
    pub member: Address,
    /// Market id.
    pub market_oid: Oid,
    /// New channel id.
    pub channel_oid: Oid,
    /// EIP-712 chain id.
    pub verifying_chain_id: u64,
    /// Block number used as `openedAt`.
    pub current_block_number: u64,
    /// EIP-712 verifying contract.
    pub verifying_contract: Address,
    /// Payment or paying.
    pub channel_type: ChannelType,
    /// Delegate.
    pub delegate: Address,
    /// Market maker.
    pub marketmaker: Address,
    /// Recipient.
    pub recipient: Address,
    /// Amount.
    pub amount: U256,
    /// Member's ChannelOpen signature.
    pub signature: Vec<u8>,
}

impl OpenChannelRequest {
    /// Positional args.
    pub fn to_args(&self) -> Vec<Value> {
        vec![
            v_bytes(self.member.as_slice()),
            v_bytes(&self.market_oid),
            v_bytes(&self.channel_oid),
            Value::from(self.verifying_chain_id),
            Value::from(self.current_block_number),
            v_bytes(self.verifying_contract.as_slice()),
            Value::from(u64::from(self.channel_type.as_u8())),
            v_bytes(self.delegate.as_slice()),
            v_bytes(self.marketmaker.as_slice()),
            v_bytes(self.recipient.as_slice()),
            v_u256_bytes(&self.amount),
            v_bytes(&self.signature),
            Value::Null,
        ]
    }

    /// Parses positional args (the 13th, `attributes`, is optional and ignored).
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("open_channel", args, 12, 13)?;
        let ty = a.u64(6, "channel_type")?;
        Ok(Self {
            member: a.address(0, "member_adr")?,
            market_oid: a.bytes(1, "market_oid")?,
            channel_oid: a.bytes(2, "channel_oid")?,
            verifying_chain_id: a.u64(3, "verifying_chain_id")?,
            current_block_number: a.u64(4, "current_block_number")?,
            verifying_contract: a.address(5, "verifying_contract_adr")?,
            channel_type: ChannelType::from_u64(ty).ok_or_else(|| {
                MarketError::invalid_argument("open_channel: channel_type must be 1 or 2")
            })?,
            delegate: a.address(7, "delegate")?,
            marketmaker: a.address(8, "marketmaker")?,
            recipient: a.address(9, "recipient")?,
            amount: a.u256(10, "amount")?,
            signature: a.sig(11, "signature")?,
        })
    }
}

/// `xbr.marketmaker.close_channel` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseChannelRequest {
    /// Channel to close.
    pub channel_oid: Oid,
    /// EIP-712 chain id.
    pub verifying_chain_id: u64,
    /// `closeAt` of the signatures.
    pub current_block_number: u64,
    /// EIP-712 verifying contract.
    pub verifying_contract: Address,
    /// Closing balance.
    pub closing_balance: U256,
    /// Closing seq.
    pub closing_seq: u64,
    /// Final close.
    pub closing_is_final: bool,
    /// Delegate's ChannelClose signature.
    pub delegate_signature: Vec<u8>,
}

impl CloseChannelRequest {
    /// Positional args.
    pub fn to_args(&self) -> Vec<Value> {
        vec![
            v_bytes(&self.channel_oid),
            Value::from(self.verifying_chain_id),
            Value::from(self.current_block_number),
            v_bytes(self.verifying_contract.as_slice()),
            v_u256_bytes(&self.closing_balance),
            Value::from(self.closing_seq),
            Value::Bool(self.closing_is_final),
            v_bytes(&self.delegate_signature),
        ]
    }

    /// Parses positional args.
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("close_channel", args, 8, 8)?;
        Ok(Self {
            channel_oid: a.bytes(0, "channel_oid")?,
            verifying_chain_id: a.u64(1, "verifying_chain_id")?,
            current_block_number: a.u64(2, "current_block_number")?,
            verifying_contract: a.address(3, "verifying_contract_adr")?,
            closing_balance: a.u256(4, "closing_balance")?,
            closing_seq: a.seq(5, "closing_seq")?,
            closing_is_final: a.bool(6, "closing_is_final")?,
            delegate_signature: a.sig(7, "delegate_signature")?,
        })
    }
}

/// `xbr.marketmaker.close_channel` result (also the `on_*_channel_closing` event payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseChannelResult {
    /// On-chain transaction hash (zero if not submitted).
    pub transaction: [u8; 32],
    /// Market id.
    pub market_oid: Oid,
    /// Channel id.
    pub channel_oid: Oid,
    /// New channel state.
    pub state: u64,
    /// Closing balance.
    pub balance: U256,
    /// Closing seq.
    pub seq: u64,
    /// Final close.
    pub is_final: bool,
}

impl CloseChannelResult {
    /// The result dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("transaction".into(), v_bytes(&self.transaction));
        d.insert("market_oid".into(), v_bytes(&self.market_oid));
        d.insert("channel_oid".into(), v_bytes(&self.channel_oid));
        d.insert("state".into(), Value::from(self.state));
        d.insert("balance".into(), v_u256_bytes(&self.balance));
        d.insert("seq".into(), Value::from(self.seq));
        d.insert("is_final".into(), Value::Bool(self.is_final));
        Value::Dict(d)
    }

    /// Parses the result dict.
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("close_channel result", v)?;
        Ok(Self {
            transaction: f.bytes("transaction")?,
            market_oid: f.bytes("market_oid")?,
            channel_oid: f.bytes("channel_oid")?,
            state: f.u64("state")?,
            balance: f.u256("balance")?,
            seq: f.u64("seq")?,
            is_final: f.bool("is_final")?,
        })
    }
}

/// `xbr.provider.<id>.close_channel` arguments (spec §2.5), plus an optional 7th positional
/// argument of ours: `close_at`, the block number the maker signed the close with (the reference
/// signs `closeAt = 1`, which the contract accepts only up to block 1441). Absent, it is 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderCloseRequest {
    /// Market maker address.
    pub market_maker_adr: Address,
    /// Paying channel.
    pub channel_oid: Oid,
    /// Current seq.
    pub channel_seq: u64,
    /// Current balance.
    pub channel_balance: U256,
    /// Final close.
    pub channel_is_final: bool,
    /// Maker's ChannelClose signature.
    pub marketmaker_signature: Vec<u8>,
    /// `closeAt` of the signed close (block number).
    pub close_at: u64,
}

impl ProviderCloseRequest {
    /// Positional args (the 7th, `close_at`, only when it is not the reference's 1).
    pub fn to_args(&self) -> Vec<Value> {
        let mut args = vec![
            v_bytes(self.market_maker_adr.as_slice()),
            v_bytes(&self.channel_oid),
            Value::from(self.channel_seq),
            v_u256_bytes(&self.channel_balance),
            Value::Bool(self.channel_is_final),
            v_bytes(&self.marketmaker_signature),
        ];
        if self.close_at != crate::sig::OFF_CHAIN_CLOSE_AT {
            args.push(Value::from(self.close_at));
        }
        args
    }

    /// Parses positional args.
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("close_channel", args, 6, 7)?;
        let close_at = if args.len() == 7 {
            a.seq(6, "close_at")?
        } else {
            crate::sig::OFF_CHAIN_CLOSE_AT
        };
        Ok(Self {
            market_maker_adr: a.address(0, "market_maker_adr")?,
            channel_oid: a.bytes(1, "channel_oid")?,
            channel_seq: a.seq(2, "channel_seq")?,
            channel_balance: a.u256(3, "channel_balance")?,
            channel_is_final: a.bool(4, "channel_is_final")?,
            marketmaker_signature: a.sig(5, "marketmaker_signature")?,
            close_at,
        })
    }
}

/// The seller's `close_channel` receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderCloseReceipt {
    /// Seller delegate.
    pub delegate: Address,
    /// Seq.
    pub seq: u64,
    /// Balance.
    pub balance: U256,
    /// Final close.
    pub is_final: bool,
    /// Seller's ChannelClose signature.
    pub signature: Vec<u8>,
}

impl ProviderCloseReceipt {
    /// The receipt dict.
    pub fn to_value(&self) -> Value {
        let mut d = Dict::new();
        d.insert("delegate".into(), v_bytes(self.delegate.as_slice()));
        d.insert("seq".into(), Value::from(self.seq));
        d.insert("balance".into(), v_u256_bytes(&self.balance));
        d.insert("is_final".into(), Value::Bool(self.is_final));
        d.insert("signature".into(), v_bytes(&self.signature));
        Value::Dict(d)
    }

    /// Parses the receipt dict.
    pub fn from_value(v: &Value) -> MarketResult<Self> {
        let f = Fields::of("close_channel receipt", v)?;
        Ok(Self {
            delegate: f.address("delegate")?,
            seq: f.u64("seq")?,
            balance: f.u256("balance")?,
            is_final: f.bool("is_final")?,
            signature: f.bytes::<65>("signature")?.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_close_carries_close_at_only_when_not_the_reference_one() {
        let mut req = ProviderCloseRequest {
            market_maker_adr: Address::repeat_byte(6),
            channel_oid: [0xc1; 16],
            channel_seq: 7,
            channel_balance: U256::from(5u64),
            channel_is_final: true,
            marketmaker_signature: vec![0x1b; 65],
            close_at: crate::sig::OFF_CHAIN_CLOSE_AT,
        };
        // The reference's six arguments, read back with closeAt = 1.
        assert_eq!(req.to_args().len(), 6);
        assert_eq!(
            ProviderCloseRequest::from_args(&req.to_args()).unwrap(),
            req
        );
        req.close_at = 2048;
        assert_eq!(req.to_args().len(), 7);
        assert_eq!(
            ProviderCloseRequest::from_args(&req.to_args()).unwrap(),
            req
        );
        let mut bad = req.to_args();
        bad[6] = Value::from("soon");
        let e = ProviderCloseRequest::from_args(&bad).unwrap_err();
        assert_eq!(e.uri, crate::error::uri::INVALID_ARGUMENT);
        bad.push(Value::Null);
        assert!(ProviderCloseRequest::from_args(&bad).is_err());
    }

    #[test]
    fn amounts_accept_bytes_ints_and_bignums() {
        let big = U256::from(35u64) * U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(read_u256(&v_u256_bytes(&big), "t", "a").unwrap(), big);
        assert_eq!(read_u256(&v_u256_int(&big), "t", "a").unwrap(), big);
        assert!(matches!(v_u256_int(&big), Value::BigUInt(_)));
        assert_eq!(read_u256(&Value::from(0u64), "t", "a").unwrap(), U256::ZERO);
        assert_eq!(
            read_u256(&Value::Bytes(vec![]), "t", "a").unwrap(),
            U256::ZERO
        );
        let e = read_u256(&Value::Int(-1), "t", "amount").unwrap_err();
        assert_eq!(e.uri, "wamp.error.invalid_argument");
        assert!(e.message.contains("amount"));
        assert!(read_u256(&Value::Bytes(vec![1; 31]), "t", "a").is_err());
        assert!(read_u256(&Value::BigUInt(vec![1; 33]), "t", "a").is_err());
        assert!(read_u256(&Value::from("12"), "t", "a").is_err());
    }

    #[test]
    fn buy_key_request_round_trips_and_rejects_bad_input() {
        let r = BuyKeyRequest {
            delegate: Address::repeat_byte(5),
            buyer_pubkey: [1; 32],
            key_id: [2; 16],
            channel_oid: [3; 16],
            channel_seq: 2,
            amount: U256::from(7u64),
            balance: U256::from(8u64),
            signature: vec![9; 65],
        };
        assert_eq!(BuyKeyRequest::from_args(&r.to_args()).unwrap(), r);
        let mut args = r.to_args();
        args[2] = Value::Bytes(vec![2; 15]);
        assert!(
            BuyKeyRequest::from_args(&args)
                .unwrap_err()
                .message
                .contains("key_id")
        );
        assert!(BuyKeyRequest::from_args(&r.to_args()[..7]).is_err());
        let mut args = r.to_args();
        args[4] = Value::from(u64::from(u32::MAX) + 1);
        assert!(BuyKeyRequest::from_args(&args).is_err());
    }

    #[test]
    fn sell_receipt_sends_amounts_as_integers() {
        let r = SellReceipt {
            key_id: [1; 16],
            delegate: Address::repeat_byte(4),
            buyer_pubkey: [2; 32],
            sealed_key: vec![3; 80],
            channel_seq: 2,
            amount: U256::from(u128::MAX) + U256::from(1u64),
            balance: U256::from(5u64),
            signature: vec![6; 65],
        };
        let v = r.to_value();
        let d = v.as_dict().unwrap();
        assert!(matches!(d["amount"], Value::BigUInt(_)));
        assert_eq!(d["balance"], Value::from(5u64));
        assert_eq!(SellReceipt::from_value(&v).unwrap(), r);
    }

    #[test]
    fn place_offer_round_trips_and_rejects_unknown_kwargs() {
        let r = PlaceOfferRequest {
            key_id: [1; 16],
            api_id: [2; 16],
            uri: "io.crossbar.example".into(),
            valid_from: 5,
            delegate: Address::repeat_byte(4),
            signature: vec![0; 65],
            price: Some(U256::from(3u64)),
            categories: Some([("a".to_string(), "b".to_string())].into()),
            expires: None,
            copies: None,
            provider_id: Some("0xabc".into()),
        };
        let (a, mut kw) = r.to_call();
        assert_eq!(PlaceOfferRequest::from_call(&a, &kw).unwrap(), r);
        kw.insert("bogus".into(), Value::Null);
        assert!(PlaceOfferRequest::from_call(&a, &kw).is_err());
    }

    #[test]
    fn config_round_trips() {
        let c = MakerConfigInfo {
            now: 1,
            chain: 5777,
            verifying_chain_id: 5777,
            verifying_contract: Address::repeat_byte(0xc8),
            contracts: [("xbrtoken".to_string(), Address::repeat_byte(1))].into(),
            owner: Address::repeat_byte(2),
            market: [0xa1; 16],
            marketmaker: Address::repeat_byte(6),
            eula_url: "u".into(),
            eula_hash: "h".into(),
        };
        assert_eq!(MakerConfigInfo::from_value(&c.to_value()).unwrap(), c);
    }
}

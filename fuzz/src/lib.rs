//! Shared pieces of the fuzz targets: one tokio runtime per process, WAMP values built from the
//! fuzz input (biased towards the ids, addresses and field names the market fixture knows, so
//! inputs get past the first type check), and the check that a refusal carries a proper URI.

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use wamp_proto::{Dict, Value};
use xbr_market::MarketError;
use xbr_market::maker::testing::{
    BUYER_KEY, KEY_ID, MAKER_KEY, MARKET, OFFER_ID, OTHER_KEY, PAYING, PAYMENT, SELLER_KEY, domain,
    key,
};
use xbr_market::types::Address;

/// The current-thread runtime every input runs on (built once per process). Its clock is
/// paused and jumps ahead whenever every task waits for a timer, so a wait the code under test
/// makes on purpose (the maker's `close_channel` waits up to 20 s for the chain) costs nothing.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("tokio runtime")
    })
}

/// Panics unless `e` is reported under a well-formed error URI, as a WAMP ERROR needs (the
/// spec's loose URI rule: at least two dot-separated components, none empty, none holding
/// whitespace or `#`; e.g. `xbr.marketmaker.error.invalid-auth-request`).
pub fn assert_refusal_uri(e: &MarketError) {
    let ok = e.uri.split('.').count() >= 2
        && e.uri
            .split('.')
            .all(|c| !c.is_empty() && !c.contains(|ch: char| ch.is_whitespace() || ch == '#'));
    assert!(ok, "refusal without a proper URI: {e:?}");
}

/// Field names of the market's messages (dict keys and kwargs worth trying).
const FIELD_NAMES: &[&str] = &[
    "actor",
    "amount",
    "api_id",
    "balance",
    "buyer_pubkey",
    "categories",
    "chain",
    "channel_oid",
    "channel_seq",
    "channel_type",
    "close_at",
    "contracts",
    "copies",
    "delegate",
    "expires",
    "filter_open",
    "from_ts",
    "inflight",
    "is_final",
    "key_id",
    "limit",
    "market",
    "market_oid",
    "marketmaker",
    "now",
    "offer_id",
    "open_at",
    "price",
    "provider_id",
    "recipient",
    "remaining",
    "sealed_key",
    "seller",
    "seq",
    "signature",
    "state",
    "timeout",
    "timestamp",
    "until_ts",
    "uri",
    "valid_from",
];

/// Builds WAMP values from fuzz input.
pub struct ValueGen<'a, 'b> {
    /// The input still to consume.
    pub u: &'b mut Unstructured<'a>,
    /// Byte strings the fixture knows (ids, addresses, public keys).
    known: Vec<Vec<u8>>,
}

/// The byte strings of the maker fixture: ids, contract and member addresses (computed once).
pub fn known_bytes() -> &'static [Vec<u8>] {
    static KNOWN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    KNOWN.get_or_init(fixture_bytes)
}

fn fixture_bytes() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        MARKET.0.to_vec(),
        PAYMENT.0.to_vec(),
        PAYING.0.to_vec(),
        KEY_ID.0.to_vec(),
        OFFER_ID.0.to_vec(),
        vec![0x62; 16],
        domain().verifying_contract.to_vec(),
    ];
    for k in [MAKER_KEY, SELLER_KEY, BUYER_KEY, OTHER_KEY] {
        v.push(key(k).address().to_vec());
    }
    v
}

impl<'a, 'b> ValueGen<'a, 'b> {
    /// A generator over `u`, with `extra` byte strings to pick from besides the fixture's.
    pub fn new(u: &'b mut Unstructured<'a>, extra: Vec<Vec<u8>>) -> Self {
        let mut known = known_bytes().to_vec();
        known.extend(extra);
        Self { u, known }
    }

    /// Positional args: up to 10 values.
    pub fn args(&mut self) -> Result<Vec<Value>> {
        let n = self.u.int_in_range(0..=10)?;
        (0..n).map(|_| self.value(0)).collect()
    }

    /// Keyword args: up to 4 entries.
    pub fn kwargs(&mut self) -> Result<Dict> {
        self.dict(0, 4)
    }

    fn dict(&mut self, depth: u32, max: usize) -> Result<Dict> {
        let n = self.u.int_in_range(0..=max)?;
        let mut d = Dict::new();
        for _ in 0..n {
            let k = if self.u.ratio(7, 8)? {
                (*self.u.choose(FIELD_NAMES)?).to_string()
            } else {
                self.u.arbitrary::<String>()?
            };
            let v = self.value(depth + 1)?;
            d.insert(k, v);
        }
        Ok(d)
    }

    /// A byte string: a known one, one of a field's length, or any.
    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        Ok(match self.u.int_in_range(0..=3)? {
            0 => self.u.choose(&self.known)?.clone(),
            1 => {
                let len = *self.u.choose(&[16usize, 20, 32, 65])?;
                self.u.bytes(len)?.to_vec()
            }
            2 => {
                // A known string with one byte changed.
                let mut b = self.u.choose(&self.known)?.clone();
                let i = self.u.choose_index(b.len())?;
                b[i] ^= self.u.arbitrary::<u8>()? | 1;
                b
            }
            _ => self.u.arbitrary::<Vec<u8>>()?,
        })
    }

    /// One value; lists and dicts nest at most 3 deep.
    pub fn value(&mut self, depth: u32) -> Result<Value> {
        let kinds = if depth >= 3 { 10 } else { 12 };
        Ok(match self.u.choose_index(kinds)? {
            0 => Value::Null,
            1 => Value::Bool(self.u.arbitrary()?),
            2 => Value::Int(self.u.arbitrary()?),
            3 => Value::Int(self.u.int_in_range(-2..=16)?),
            4 => Value::from(self.u.arbitrary::<u64>()?),
            5 => Value::from_be_bytes_uint(&self.u.arbitrary::<Vec<u8>>()?),
            6 => Value::BigNegInt(self.u.arbitrary()?),
            7 => Value::Float(self.u.arbitrary()?),
            8 => Value::Str(self.string()?),
            9 => Value::Bytes(self.bytes()?),
            10 => {
                let n = self.u.int_in_range(0..=4)?;
                Value::List(
                    (0..n)
                        .map(|_| self.value(depth + 1))
                        .collect::<Result<_>>()?,
                )
            }
            _ => Value::Dict(self.dict(depth, 6)?),
        })
    }

    /// A string: a known byte string as `0x` hex, a field name, or any.
    fn string(&mut self) -> Result<String> {
        Ok(match self.u.int_in_range(0..=2)? {
            0 => {
                let b = self.bytes()?;
                format!(
                    "0x{}",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                )
            }
            1 => (*self.u.choose(FIELD_NAMES)?).to_string(),
            _ => self.u.arbitrary()?,
        })
    }
}

/// A value among `good` (picked more often) or `any` built from the input.
pub fn pick<T: Copy>(
    g: &mut ValueGen,
    good: &[T],
    any: impl FnOnce(&mut ValueGen) -> Result<T>,
) -> Result<T> {
    match g.u.choose_index(good.len() + 1)? {
        i if i < good.len() => Ok(good[i]),
        _ => any(g),
    }
}

/// An address from the input.
pub fn address(g: &mut ValueGen) -> Result<Address> {
    Ok(Address::from(g.u.arbitrary::<[u8; 20]>()?))
}

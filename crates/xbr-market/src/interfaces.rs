//! The reference's interfaces (`xbr/_interfaces.py`), with the signatures the roles really have.
//! In the reference these ABCs are documentation only and their signatures differ from the
//! concrete classes (spec §7); here they are implemented by the roles.

use std::future::Future;

use wamp_proto::Value;

use crate::error::MarketResult;
use crate::types::{ApiId, KeyId, U256};
use crate::wire::{BuyKeyRequest, BuyReceipt, Quote, SellReceipt, SellRequest};

/// The market maker (`IMarketMaker`): the data-market procedures of `xbr.marketmaker.*`.
pub trait IMarketMaker {
    /// `get_quote(key_id)`.
    fn quote(&self, key_id: KeyId) -> impl Future<Output = MarketResult<Quote>> + Send;
    /// `buy_key(delegate_adr, buyer_pubkey, key_id, channel_oid, channel_seq, amount, balance, signature)`.
    fn buy(&self, req: BuyKeyRequest) -> impl Future<Output = MarketResult<BuyReceipt>> + Send;
    /// `revoke_offer(key_id)`.
    fn revoke(
        &self,
        key_id: KeyId,
    ) -> impl Future<Output = MarketResult<crate::types::Offer>> + Send;
}

/// A data provider (`IProvider`): `xbr.provider.<id>.sell(market_maker_adr, buyer_pubkey,
/// key_id, channel_oid, channel_seq, amount, balance, signature)`.
pub trait IProvider {
    /// Sells a key.
    fn sell(&self, req: SellRequest) -> impl Future<Output = MarketResult<SellReceipt>> + Send;
}

/// A seller delegate (`ISeller`): `start()` → remaining paying balance; `wrap(api_id, uri,
/// payload)` → `(key_id, "cbor", ciphertext)`.
pub trait ISeller {
    /// Starts selling.
    fn start(&self) -> impl Future<Output = MarketResult<U256>> + Send;
    /// Encrypts a payload.
    fn wrap(
        &self,
        api_id: &ApiId,
        uri: &str,
        payload: &Value,
    ) -> impl Future<Output = MarketResult<(KeyId, &'static str, Vec<u8>)>> + Send;
}

/// A buyer delegate (`IBuyer`): `start()` → remaining payment balance; `unwrap(key_id,
/// enc_ser, ciphertext)` → payload (`enc_ser` must be `"cbor"`, the only one implemented by the
/// reference).
pub trait IBuyer {
    /// Starts buying.
    fn start(&self) -> impl Future<Output = MarketResult<U256>> + Send;
    /// Decrypts a payload, buying its key if needed.
    fn unwrap(
        &self,
        key_id: &KeyId,
        enc_ser: &str,
        ciphertext: &[u8],
    ) -> impl Future<Output = MarketResult<Value>> + Send;
}

/// A data consumer (`IConsumer`): a marker.
pub trait IConsumer {}

impl IMarketMaker for crate::maker::MarketMaker {
    fn quote(&self, key_id: KeyId) -> impl Future<Output = MarketResult<Quote>> + Send {
        self.get_quote(key_id)
    }
    fn buy(&self, req: BuyKeyRequest) -> impl Future<Output = MarketResult<BuyReceipt>> + Send {
        self.buy_key(req)
    }
    fn revoke(
        &self,
        key_id: KeyId,
    ) -> impl Future<Output = MarketResult<crate::types::Offer>> + Send {
        self.revoke_offer(key_id)
    }
}

impl IProvider for crate::seller::Seller {
    fn sell(&self, req: SellRequest) -> impl Future<Output = MarketResult<SellReceipt>> + Send {
        crate::seller::Seller::sell(self, req)
    }
}

impl ISeller for crate::seller::Seller {
    fn start(&self) -> impl Future<Output = MarketResult<U256>> + Send {
        crate::seller::Seller::start(self)
    }
    fn wrap(
        &self,
        api_id: &ApiId,
        uri: &str,
        payload: &Value,
    ) -> impl Future<Output = MarketResult<(KeyId, &'static str, Vec<u8>)>> + Send {
        crate::seller::Seller::wrap(self, api_id, uri, payload)
    }
}

impl IBuyer for crate::buyer::Buyer {
    fn start(&self) -> impl Future<Output = MarketResult<U256>> + Send {
        crate::buyer::Buyer::start(self)
    }
    fn unwrap(
        &self,
        key_id: &KeyId,
        enc_ser: &str,
        ciphertext: &[u8],
    ) -> impl Future<Output = MarketResult<Value>> + Send {
        crate::buyer::Buyer::unwrap(self, key_id, enc_ser, ciphertext)
    }
}

impl IConsumer for crate::buyer::Buyer {}

//! Quote and buy: `xbr.marketmaker.get_quote` and `xbr.marketmaker.buy_key` (spec §3.3, §3A.2).

use wamp_proto::Value;

use super::{
    Addr, Amount, Bytes, FlagOrFalse, Id, Int, IntOrZero, OptAddr, OptId, RawBytes, Seq, Sig,
};
use crate::error::MarketResult;
use crate::types::{Address, ApiId, ChannelId, KeyId, OfferId, Signature, U256};

/// `xbr.marketmaker.buy_key` arguments (spec §3.3 step 7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyKeyRequest {
    /// Buyer delegate address.
    pub delegate: Address,
    /// Buyer's X25519 public key the key is sealed to.
    pub buyer_pubkey: [u8; 32],
    /// Key to buy.
    pub key_id: KeyId,
    /// Payment channel.
    pub channel_oid: ChannelId,
    /// Payment channel seq after this purchase.
    pub channel_seq: u64,
    /// Amount offered.
    pub amount: U256,
    /// Payment channel remaining after this purchase.
    pub balance: U256,
    /// Buyer's ChannelClose signature (XBRSIG1).
    pub signature: Signature,
}

/// The receipt `buy_key` returns (spec §3A.2 "Buy receipt").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyReceipt {
    /// Key bought.
    pub key_id: KeyId,
    /// Buyer delegate.
    pub delegate: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// The key sealed to `buyer_pubkey` (80 bytes).
    pub sealed_key: Vec<u8>,
    /// Offer id.
    pub offer_id: Option<OfferId>,
    /// Whether the key was free.
    pub free_rated: bool,
    /// Amount offered.
    pub amount: U256,
    /// Amount charged.
    pub amount_paid: U256,
    /// Payment channel seq after the purchase.
    pub channel_seq: u64,
    /// Payment channel.
    pub payment_channel: ChannelId,
    /// Payment channel remaining after the purchase.
    pub remaining: U256,
    /// Payment channel inflight after the purchase.
    pub inflight: U256,
    /// Maker's ChannelClose signature over the payment state (XBRSIG7).
    pub signature: Signature,
}

/// `get_quote` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    /// When quoted (ns).
    pub timestamp: u64,
    /// Key quoted.
    pub key_id: KeyId,
    /// Price.
    pub price: U256,
    /// Offer expiry (0 = none).
    pub expires: u64,
    /// The offer's seller delegate: xbrd's maker adds it (the reference's quote has no such
    /// key), so a buyer can check whom it would pay before any money moves.
    pub seller: Option<Address>,
    /// The offer's API, added like `seller`.
    pub api_id: Option<ApiId>,
}

super::positional_message!(BuyKeyRequest, "buy_key", {
    delegate: Addr = "delegate_adr",
    buyer_pubkey: Bytes = "buyer_pubkey",
    key_id: Id = "key_id",
    channel_oid: Id = "channel_oid",
    channel_seq: Seq = "channel_seq",
    amount: Amount = "amount",
    balance: Amount = "balance",
    signature: Sig = "signature",
});

super::dict_message!(BuyReceipt, "buy_key receipt", {
    key_id: Id = "key_id",
    delegate: Addr = "delegate",
    buyer_pubkey: Bytes = "buyer_pubkey",
    sealed_key: RawBytes = "sealed_key",
    offer_id: OptId = "offer_id",
    free_rated: FlagOrFalse = "free_rated",
    amount: Amount = "amount",
    amount_paid: Amount = "amount_paid",
    channel_seq: Int = "channel_seq",
    payment_channel: Id = "payment_channel",
    remaining: Amount = "remaining",
    inflight: Amount = "inflight",
    signature: Sig = "signature",
});

super::dict_message!(Quote, "quote", {
    timestamp: IntOrZero = "timestamp",
    key_id: Id = "key",
    price: Amount = "price",
    expires: IntOrZero = "expires",
    seller: OptAddr = "seller",
    api_id: OptId = "api",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_names_its_seller_and_api_and_a_reference_quote_parses_without() {
        let q = Quote {
            timestamp: 1,
            key_id: KeyId([2; 16]),
            price: U256::from(35u64),
            expires: 0,
            seller: Some(Address::repeat_byte(4)),
            api_id: Some(ApiId::from([6; 16])),
        };
        assert_eq!(Quote::from_value(&q.to_value()).unwrap(), q);
        // The reference maker's quote: timestamp, key, price, expires only.
        let mut d = wamp_proto::Dict::new();
        d.insert("timestamp".into(), Value::from(1u64));
        d.insert("key".into(), Value::Bytes(vec![2; 16]));
        d.insert("price".into(), Value::Bytes(vec![0; 32]));
        d.insert("expires".into(), Value::from(0u64));
        let r = Quote::from_value(&Value::Dict(d)).unwrap();
        assert_eq!((r.seller, r.api_id), (None, None));
    }

    #[test]
    fn buy_key_request_round_trips_and_rejects_bad_input() {
        let r = BuyKeyRequest {
            delegate: Address::repeat_byte(5),
            buyer_pubkey: [1; 32],
            key_id: KeyId([2; 16]),
            channel_oid: ChannelId([3; 16]),
            channel_seq: 2,
            amount: U256::from(7u64),
            balance: U256::from(8u64),
            signature: Signature([9; 65]),
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
}

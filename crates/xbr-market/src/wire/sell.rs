//! Sell: the seller's `xbr.provider.<id>.sell`, called by the maker during `buy_key` (spec §2.4).

use wamp_proto::Value;

use super::{Addr, Amount, AmountInt, Bytes, Id, Int, RawBytes, Seq, Sig};
use crate::error::MarketResult;
use crate::types::{Address, ChannelId, KeyId, Signature, U256};

/// `xbr.provider.<id>.sell` arguments (spec §2.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellRequest {
    /// Market maker address.
    pub market_maker_adr: Address,
    /// Buyer's X25519 public key.
    pub buyer_pubkey: [u8; 32],
    /// Key to sell.
    pub key_id: KeyId,
    /// Paying channel.
    pub channel_oid: ChannelId,
    /// Paying channel seq after this sale.
    pub channel_seq: u64,
    /// Amount paid (offer price).
    pub amount: U256,
    /// Paying channel remaining after this sale.
    pub balance: U256,
    /// Maker's ChannelClose signature (XBRSIG3).
    pub signature: Signature,
}

/// The seller's `sell` result (spec §2.4): `amount`/`balance` are integers on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SellReceipt {
    /// Key sold.
    pub key_id: KeyId,
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
    pub signature: Signature,
}

super::positional_message!(SellRequest, "sell", {
    market_maker_adr: Addr = "market_maker_adr",
    buyer_pubkey: Bytes = "buyer_pubkey",
    key_id: Id = "key_id",
    channel_oid: Id = "channel_oid",
    channel_seq: Seq = "channel_seq",
    amount: Amount = "amount",
    balance: Amount = "balance",
    signature: Sig = "signature",
});

// `amount`/`balance` are integers on the wire (read also as 32 bytes).
super::dict_message!(SellReceipt, "sell receipt", {
    key_id: Id = "key_id",
    delegate: Addr = "delegate",
    buyer_pubkey: Bytes = "buyer_pubkey",
    sealed_key: RawBytes = "sealed_key",
    channel_seq: Int = "channel_seq",
    amount: AmountInt = "amount",
    balance: AmountInt = "balance",
    signature: Sig = "signature",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sell_receipt_sends_amounts_as_integers() {
        let r = SellReceipt {
            key_id: KeyId([1; 16]),
            delegate: Address::repeat_byte(4),
            buyer_pubkey: [2; 32],
            sealed_key: vec![3; 80],
            channel_seq: 2,
            amount: U256::from(u128::MAX) + U256::from(1u64),
            balance: U256::from(5u64),
            signature: Signature([6; 65]),
        };
        let v = r.to_value();
        let d = v.as_dict().unwrap();
        assert!(matches!(d["amount"], Value::BigUInt(_)));
        assert_eq!(d["balance"], Value::from(5u64));
        assert_eq!(SellReceipt::from_value(&v).unwrap(), r);
    }
}

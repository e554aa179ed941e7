//! Close: the maker's `xbr.marketmaker.close_channel` (a delegate closes its channel) and the
//! seller's `xbr.provider.<id>.close_channel` (the maker asks the seller to counter-sign the
//! close of its exhausted paying channel), spec §2.5, §3A.

use wamp_proto::Value;

use super::{Addr, Amount, Args, Bytes, Flag, Id, Int, Seq, Sig, v_bytes, v_u256_bytes};
use crate::error::MarketResult;
use crate::sig::OFF_CHAIN_CLOSE_AT;
use crate::types::{Address, ChannelId, MarketId, Signature, U256};

/// `xbr.marketmaker.close_channel` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseChannelRequest {
    /// Channel to close.
    pub channel_oid: ChannelId,
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
    pub delegate_signature: Signature,
}

/// `xbr.marketmaker.close_channel` result (also the `on_*_channel_closing` event payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseChannelResult {
    /// On-chain transaction hash (zero if not submitted).
    pub transaction: [u8; 32],
    /// Market id.
    pub market_oid: MarketId,
    /// Channel id.
    pub channel_oid: ChannelId,
    /// New channel state.
    pub state: u64,
    /// Closing balance.
    pub balance: U256,
    /// Closing seq.
    pub seq: u64,
    /// Final close.
    pub is_final: bool,
}

/// `xbr.provider.<id>.close_channel` arguments (spec §2.5), plus an optional 7th positional
/// argument of ours: `close_at`, the block number the maker signed the close with (the reference
/// signs `closeAt = 1`, which the contract accepts only up to block 1441). Absent, it is 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderCloseRequest {
    /// Market maker address.
    pub market_maker_adr: Address,
    /// Paying channel.
    pub channel_oid: ChannelId,
    /// Current seq.
    pub channel_seq: u64,
    /// Current balance.
    pub channel_balance: U256,
    /// Final close.
    pub channel_is_final: bool,
    /// Maker's ChannelClose signature.
    pub marketmaker_signature: Signature,
    /// `closeAt` of the signed close (block number).
    pub close_at: u64,
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
    pub signature: Signature,
}

super::positional_message!(CloseChannelRequest, "close_channel", {
    channel_oid: Id = "channel_oid",
    verifying_chain_id: Int = "verifying_chain_id",
    current_block_number: Int = "current_block_number",
    verifying_contract: Addr = "verifying_contract_adr",
    closing_balance: Amount = "closing_balance",
    closing_seq: Seq = "closing_seq",
    closing_is_final: Flag = "closing_is_final",
    delegate_signature: Sig = "delegate_signature",
});

super::dict_message!(CloseChannelResult, "close_channel result", {
    transaction: Bytes = "transaction",
    market_oid: Id = "market_oid",
    channel_oid: Id = "channel_oid",
    state: Int = "state",
    balance: Amount = "balance",
    seq: Int = "seq",
    is_final: Flag = "is_final",
});

impl ProviderCloseRequest {
    /// Positional args (the 7th, `close_at`, only when it is not the reference's 1).
    pub fn to_args(&self) -> Vec<Value> {
        let mut args = vec![
            v_bytes(self.market_maker_adr.as_slice()),
            v_bytes(self.channel_oid),
            Value::from(self.channel_seq),
            v_u256_bytes(&self.channel_balance),
            Value::Bool(self.channel_is_final),
            v_bytes(self.marketmaker_signature),
        ];
        if self.close_at != OFF_CHAIN_CLOSE_AT {
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
            OFF_CHAIN_CLOSE_AT
        };
        Ok(Self {
            market_maker_adr: a.address(0, "market_maker_adr")?,
            channel_oid: a.id(1, "channel_oid")?,
            channel_seq: a.seq(2, "channel_seq")?,
            channel_balance: a.u256(3, "channel_balance")?,
            channel_is_final: a.bool(4, "channel_is_final")?,
            marketmaker_signature: a.sig(5, "marketmaker_signature")?,
            close_at,
        })
    }
}

super::args_payload!(ProviderCloseRequest);

super::dict_message!(ProviderCloseReceipt, "close_channel receipt", {
    delegate: Addr = "delegate",
    seq: Int = "seq",
    balance: Amount = "balance",
    is_final: Flag = "is_final",
    signature: Sig = "signature",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_close_carries_close_at_only_when_not_the_reference_one() {
        let mut req = ProviderCloseRequest {
            market_maker_adr: Address::repeat_byte(6),
            channel_oid: ChannelId([0xc1; 16]),
            channel_seq: 7,
            channel_balance: U256::from(5u64),
            channel_is_final: true,
            marketmaker_signature: Signature([0x1b; 65]),
            close_at: OFF_CHAIN_CLOSE_AT,
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
}

//! The EIP-712 ChannelClose balance proofs of the buy flow (XBRSIG 1–8), signed and verified
//! under the market's verifying chain and contract.

use xbr_core::eip712::{EIP712ChannelClose, recover_typed, sign_typed};
use xbr_core::eth::EthPrivateKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::types::{Address, ChannelId, MarketId, Signature, U256};

/// `closeAt` of every off-chain ChannelClose signature (hard-coded by the reference).
pub const OFF_CHAIN_CLOSE_AT: u64 = 1;

/// The EIP-712 chain id and verifying contract (`get_config`'s `verifying_chain_id` and
/// `verifying_contract_adr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Domain {
    /// `XBRNetwork.verifyingChain()`.
    pub chain_id: u64,
    /// `XBRNetwork.verifyingContract()`.
    pub verifying_contract: Address,
}

/// One channel state to be signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelState {
    /// `closeAt` (1 off chain).
    pub close_at: u64,
    /// Market id.
    pub market_oid: MarketId,
    /// Channel id.
    pub channel_oid: ChannelId,
    /// Seq.
    pub seq: u64,
    /// Remaining balance.
    pub balance: U256,
    /// Final close.
    pub is_final: bool,
}

impl Domain {
    fn message(&self, s: &ChannelState) -> MarketResult<EIP712ChannelClose> {
        let seq = u32::try_from(s.seq).map_err(|_| {
            MarketError::new(uri::INVALID_TRANSACTION, "channel seq exceeds uint32")
        })?;
        Ok(EIP712ChannelClose::new(
            self.chain_id,
            self.verifying_contract,
            s.close_at,
            s.market_oid,
            s.channel_oid,
            seq,
            s.balance,
            s.is_final,
        ))
    }

    /// Signs a channel state.
    pub fn sign(&self, key: &EthPrivateKey, s: &ChannelState) -> MarketResult<Signature> {
        Ok(sign_typed(key, &self.message(s)?))
    }

    /// Checks that `signature` over the state recovers to `expected`; otherwise
    /// `xbr.error.invalid_signature` naming `who`.
    pub fn verify(
        &self,
        s: &ChannelState,
        signature: &[u8],
        expected: &Address,
        who: &str,
    ) -> MarketResult<()> {
        let signer = recover_typed(&self.message(s)?, signature).map_err(|e| {
            MarketError::new(uri::INVALID_SIGNATURE, format!("{who} signature: {e}"))
        })?;
        if &signer != expected {
            return Err(MarketError::new(
                uri::INVALID_SIGNATURE,
                format!("{who} signature recovers to {signer}, expected {expected}"),
            ));
        }
        Ok(())
    }
}

/// An off-chain (closeAt = 1, not final) state.
pub fn off_chain(
    market_oid: MarketId,
    channel_oid: ChannelId,
    seq: u64,
    balance: U256,
) -> ChannelState {
    ChannelState {
        close_at: OFF_CHAIN_CLOSE_AT,
        market_oid,
        channel_oid,
        seq,
        balance,
        is_final: false,
    }
}

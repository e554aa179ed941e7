//! Channels: `xbr.marketmaker.open_channel`, the channel dict of the `get_*_channel` procedures
//! and the balance dict of `get_*_channel_balance`.

use wamp_proto::{Dict, Value};
use xbr_core::eip712::EIP712ChannelOpen;

use super::{
    AmountOrZero, Args, Fields, Int, opt, read_address, v_bytes, v_opt_bytes, v_opt_u64,
    v_u256_bytes, v_u256_or_zero,
};
use crate::error::{MarketError, MarketResult};
use crate::types::{Address, Channel, ChannelId, ChannelType, MarketId, Signature, U256};

/// The channel dict (cfxdb `channel.marshal`).
pub fn channel_to_value(c: &Channel) -> Value {
    let close = c.close.as_ref();
    let mut d = Dict::new();
    d.insert("market_oid".into(), v_bytes(c.market_oid));
    d.insert(
        "member_oid".into(),
        v_opt_bytes(c.member_oid.as_ref().map(AsRef::<[u8]>::as_ref)),
    );
    d.insert("channel_oid".into(), v_bytes(c.channel_oid));
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
        v_opt_bytes(close.map(|x| x.delegate_signature.as_ref())),
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
    pub channel_oid: ChannelId,
    /// Market id.
    pub market_oid: MarketId,
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
            channel_oid: f.id("channel_oid")?,
            market_oid: f.id("market_oid")?,
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

super::dict_message!(Balance, "balance", {
    remaining: AmountOrZero = "remaining",
    inflight: AmountOrZero = "inflight",
    seq: Int = "seq",
});

/// `xbr.marketmaker.open_channel` arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenChannelRequest {
    /// Member opening the channel.
    pub member: Address,
    /// Market id.
    pub market_oid: MarketId,
    /// New channel id.
    pub channel_oid: ChannelId,
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
    pub signature: Signature,
}

impl OpenChannelRequest {
    /// The EIP-712 `ChannelOpen` the member signs (everything but the signature).
    pub fn open_message(&self) -> EIP712ChannelOpen {
        EIP712ChannelOpen::new(
            self.verifying_chain_id,
            self.verifying_contract,
            self.channel_type.as_u8(),
            self.current_block_number,
            self.market_oid,
            self.channel_oid,
            self.member,
            self.delegate,
            self.marketmaker,
            self.recipient,
            self.amount,
        )
    }

    /// Positional args.
    pub fn to_args(&self) -> Vec<Value> {
        vec![
            v_bytes(self.member.as_slice()),
            v_bytes(self.market_oid),
            v_bytes(self.channel_oid),
            Value::from(self.verifying_chain_id),
            Value::from(self.current_block_number),
            v_bytes(self.verifying_contract.as_slice()),
            Value::from(u64::from(self.channel_type.as_u8())),
            v_bytes(self.delegate.as_slice()),
            v_bytes(self.marketmaker.as_slice()),
            v_bytes(self.recipient.as_slice()),
            v_u256_bytes(&self.amount),
            v_bytes(self.signature),
            Value::Null,
        ]
    }

    /// Parses positional args (the 13th, `attributes`, is optional and ignored).
    pub fn from_args(args: &[Value]) -> MarketResult<Self> {
        let a = Args::new("open_channel", args, 12, 13)?;
        let ty = a.u64(6, "channel_type")?;
        Ok(Self {
            member: a.address(0, "member_adr")?,
            market_oid: a.id(1, "market_oid")?,
            channel_oid: a.id(2, "channel_oid")?,
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

super::args_payload!(OpenChannelRequest);

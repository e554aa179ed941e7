//! [`SimpleBlockchain`]: what the reference's `SimpleBlockchain` promises (balances, member,
//! market, domain and channel status, the EIP-712 verifying values), working against today's
//! contracts, plus the transactions a market operator and its members send.

use alloy_primitives::{Address, B128, B256, Bytes, U256};
use alloy_provider::DynProvider;
use alloy_rpc_types_eth::TransactionReceipt;
use xbr_core::eth::EthPrivateKey;
use xbr_core::{ChannelId, MarketId, Signature};

use crate::addresses::ContractAddresses;
use crate::bindings::{XBRChannel, XBRDomain, XBRMarket, XBRNetwork, XBRToken};
use crate::error::{ChainError, Result};
use crate::gateway::{ConnectOptions, Gateway};
use crate::logs::market_topic;
use crate::types::{
    ActorType, Balances, ChainInfo, ChannelClosing, ChannelInfo, ChannelOpened, ChannelState,
    ChannelType, DomainState, DomainStatus, MarketStatus, MemberLevel, MemberStatus,
};

/// Parameters of `XBRMarket.createMarket` (the coin is always the network's XBR token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateMarket {
    /// The new market's id (must not exist yet).
    pub market_id: MarketId,
    /// Terms multihash (may be empty).
    pub terms: String,
    /// Metadata multihash (may be empty).
    pub meta: String,
    /// The market maker's address (may work for one market only).
    pub maker: Address,
    /// Security a provider deposits when joining.
    pub provider_security: U256,
    /// Security a consumer deposits when joining.
    pub consumer_security: U256,
    /// Market fee as a fraction of the token's total supply.
    pub market_fee: U256,
}

/// Arguments of `XBRChannel.openChannel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChannel {
    /// Payment or paying.
    pub ctype: ChannelType,
    /// Block number at which `signature` was made (≤ the current block, ≥ current − 1440).
    pub opened_at: u64,
    /// The market.
    pub market_id: MarketId,
    /// The new channel's id.
    pub channel_id: ChannelId,
    /// The buyer (payment) or seller (paying) member; the signer of `signature`.
    pub actor: Address,
    /// The actor's off-chain delegate.
    pub delegate: Address,
    /// The market's maker.
    pub marketmaker: Address,
    /// Payment channel: the market owner; paying channel: the actor.
    pub recipient: Address,
    /// Tokens to lock (taken from the actor for payment, from the maker for paying channels).
    pub amount: U256,
    /// The actor's 65-byte EIP-712 `EIP712ChannelOpen` signature.
    pub signature: Signature,
}

/// Arguments of `XBRChannel.closeChannel`: the last off-chain state of a channel, signed
/// (EIP-712 `EIP712ChannelClose`) by the channel's delegate and the market maker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseChannel {
    /// The channel.
    pub channel_id: ChannelId,
    /// Block number at which the signatures were made.
    pub close_at: u64,
    /// The off-chain transaction sequence number being closed at.
    pub closing_seq: u32,
    /// The remaining balance of the channel (tokens).
    pub balance: U256,
    /// Whether this is the final state (no more transactions in the channel).
    pub is_final: bool,
    /// The delegate's signature.
    pub delegate_signature: Signature,
    /// The market maker's signature.
    pub marketmaker_signature: Signature,
}

/// The XBR contracts on one chain, read and written through a [`Gateway`].
#[derive(Debug, Clone)]
pub struct SimpleBlockchain {
    gateway: Gateway,
    addresses: ContractAddresses,
}

impl SimpleBlockchain {
    /// Connects to `gateway_url` with default timeouts; see [`Gateway::connect_with`].
    pub async fn connect(
        gateway_url: &str,
        addresses: ContractAddresses,
    ) -> Result<(Self, ChainInfo)> {
        Self::connect_with(gateway_url, addresses, ConnectOptions::default()).await
    }

    /// Connects to `gateway_url` and returns the chain id and block number seen.
    pub async fn connect_with(
        gateway_url: &str,
        addresses: ContractAddresses,
        options: ConnectOptions,
    ) -> Result<(Self, ChainInfo)> {
        let (gateway, info) = Gateway::connect_with(gateway_url, options).await?;
        Ok((Self::new(gateway, addresses), info))
    }

    /// Uses an existing connection.
    pub fn new(gateway: Gateway, addresses: ContractAddresses) -> Self {
        Self { gateway, addresses }
    }

    /// The connection.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The contract addresses in use.
    pub fn addresses(&self) -> &ContractAddresses {
        &self.addresses
    }

    fn provider(&self) -> &DynProvider {
        self.gateway.provider()
    }

    fn token(&self) -> XBRToken::XBRTokenInstance<DynProvider> {
        XBRToken::new(self.addresses.token, self.provider().clone())
    }

    fn network(&self) -> XBRNetwork::XBRNetworkInstance<DynProvider> {
        XBRNetwork::new(self.addresses.network, self.provider().clone())
    }

    fn market(&self) -> XBRMarket::XBRMarketInstance<DynProvider> {
        XBRMarket::new(self.addresses.market, self.provider().clone())
    }

    fn domain(&self) -> XBRDomain::XBRDomainInstance<DynProvider> {
        XBRDomain::new(self.addresses.domain, self.provider().clone())
    }

    pub(crate) fn channels(&self) -> XBRChannel::XBRChannelInstance<DynProvider> {
        XBRChannel::new(self.addresses.channel, self.provider().clone())
    }

    // ---- reads -------------------------------------------------------------------------

    /// ETH (wei) and XBR (base units) held by `address`.
    pub async fn balances(&self, address: Address) -> Result<Balances> {
        let eth = self.gateway.eth_balance(address).await?;
        let xbr = self.xbr_balance(address).await?;
        Ok(Balances { eth, xbr })
    }

    /// `XBRToken.balanceOf(address)`.
    pub async fn xbr_balance(&self, address: Address) -> Result<U256> {
        let c = self.addresses.token;
        self.token()
            .balanceOf(address)
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRToken.balanceOf", c, e))
    }

    /// `XBRToken.allowance(owner, spender)`.
    pub async fn xbr_allowance(&self, owner: Address, spender: Address) -> Result<U256> {
        let c = self.addresses.token;
        self.token()
            .allowance(owner, spender)
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRToken.allowance", c, e))
    }

    /// `XBRToken.totalSupply()`.
    pub async fn xbr_total_supply(&self) -> Result<U256> {
        let c = self.addresses.token;
        self.token()
            .totalSupply()
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRToken.totalSupply", c, e))
    }

    /// The member entry of `address` in `XBRNetwork.members`, or `None` if not registered.
    pub async fn member_status(&self, address: Address) -> Result<Option<MemberStatus>> {
        let c = self.addresses.network;
        let m = self
            .network()
            .members(address)
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRNetwork.members", c, e))?;
        let level = MemberLevel::from(m.level);
        if level == MemberLevel::Null {
            return Ok(None);
        }
        Ok(Some(MemberStatus {
            registered: m.registered,
            eula: m.eula,
            profile: m.profile,
            level,
        }))
    }

    /// `XBRNetwork.eula()`: the EULA multihash members must agree to when registering.
    pub async fn eula(&self) -> Result<String> {
        let c = self.addresses.network;
        self.network()
            .eula()
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRNetwork.eula", c, e))
    }

    /// `XBRNetwork.verifyingChain()`: the EIP-712 `chainId` of every channel signature.
    pub async fn verifying_chain(&self) -> Result<U256> {
        let c = self.addresses.network;
        self.network().verifyingChain().call().await.map_err(|e| {
            self.gateway
                .contract_error("XBRNetwork.verifyingChain", c, e)
        })
    }

    /// [`SimpleBlockchain::verifying_chain`] as a `u64` (what EIP-712 message builders take).
    pub async fn verifying_chain_id(&self) -> Result<u64> {
        let id = self.verifying_chain().await?;
        u64::try_from(id).map_err(|_| ChainError::BadReturnData {
            call: "XBRNetwork.verifyingChain".into(),
            contract: self.addresses.network,
            reason: format!("chain id {id} does not fit in 64 bits"),
        })
    }

    /// `XBRNetwork.verifyingContract()`: the EIP-712 `verifyingContract` of every channel signature.
    pub async fn verifying_contract(&self) -> Result<Address> {
        let c = self.addresses.network;
        self.network()
            .verifyingContract()
            .call()
            .await
            .map_err(|e| {
                self.gateway
                    .contract_error("XBRNetwork.verifyingContract", c, e)
            })
    }

    /// The market `market_id` from `XBRMarket.markets`, or `None` if it does not exist.
    pub async fn market_status(&self, market_id: MarketId) -> Result<Option<MarketStatus>> {
        let c = self.addresses.market;
        let m = self
            .market()
            .markets(market_id.into())
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRMarket.markets", c, e))?;
        if m.owner.is_zero() {
            return Ok(None);
        }
        Ok(Some(MarketStatus {
            market_id,
            created: m.created,
            seq: m.seq,
            owner: m.owner,
            coin: m.coin,
            terms: m.terms,
            meta: m.meta,
            maker: m.maker,
            provider_security: m.providerSecurity,
            consumer_security: m.consumerSecurity,
            market_fee: m.marketFee,
        }))
    }

    /// `XBRMarket.getMarketOwner(market_id)`, `None` for an unknown market.
    pub async fn market_owner(&self, market_id: MarketId) -> Result<Option<Address>> {
        let c = self.addresses.market;
        let owner = self
            .market()
            .getMarketOwner(market_id.into())
            .call()
            .await
            .map_err(|e| {
                self.gateway
                    .contract_error("XBRMarket.getMarketOwner", c, e)
            })?;
        Ok((!owner.is_zero()).then_some(owner))
    }

    /// `XBRMarket.marketsByMaker(maker)`: the market this maker works for, if any.
    pub async fn markets_by_maker(&self, maker: Address) -> Result<Option<MarketId>> {
        let c = self.addresses.market;
        let id = self
            .market()
            .marketsByMaker(maker)
            .call()
            .await
            .map_err(|e| {
                self.gateway
                    .contract_error("XBRMarket.marketsByMaker", c, e)
            })?;
        Ok((!id.is_zero()).then_some(id.into()))
    }

    /// `XBRMarket.isActor(market_id, actor, actor_type)`.
    pub async fn is_actor(
        &self,
        market_id: MarketId,
        actor: Address,
        actor_type: ActorType,
    ) -> Result<bool> {
        let c = self.addresses.market;
        self.market()
            .isActor(market_id.into(), actor, actor_type.as_u8())
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRMarket.isActor", c, e))
    }

    /// The domain `domain_id` from `XBRDomain.domains`, or `None` if it does not exist.
    pub async fn domain_status(&self, domain_id: B128) -> Result<Option<DomainStatus>> {
        let c = self.addresses.domain;
        let d = self
            .domain()
            .domains(domain_id)
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRDomain.domains", c, e))?;
        let status = match d.status {
            0 => return Ok(None),
            1 => DomainState::Active,
            2 => DomainState::Closed,
            other => DomainState::Unknown(other),
        };
        Ok(Some(DomainStatus {
            status,
            created: d.created,
            seq: d.seq,
            owner: d.owner,
            key: d.key.0,
            license: d.license,
            terms: d.terms,
            meta: d.meta,
        }))
    }

    /// The channel `channel_id` from `XBRChannel.channels` and `channelClosingStates`, or `None`.
    pub async fn channel(&self, channel_id: ChannelId) -> Result<Option<ChannelInfo>> {
        let c = self.addresses.channel;
        let ch = self
            .channels()
            .channels(channel_id.into())
            .call()
            .await
            .map_err(|e| self.gateway.contract_error("XBRChannel.channels", c, e))?;
        if ch.actor.is_zero() {
            return Ok(None);
        }
        let cs = self
            .channels()
            .channelClosingStates(channel_id.into())
            .call()
            .await
            .map_err(|e| {
                self.gateway
                    .contract_error("XBRChannel.channelClosingStates", c, e)
            })?;
        // openChannel verified this signature with ecrecover, so it is 65 bytes unless the
        // address holds another contract.
        let signature =
            Signature::from_slice(&ch.signature).map_err(|e| ChainError::BadReturnData {
                call: "XBRChannel.channels".into(),
                contract: c,
                reason: format!("channel signature: {e}"),
            })?;
        Ok(Some(ChannelInfo {
            channel_id,
            ctype: ChannelType::from(ch.ctype),
            state: ChannelState::from(cs.state),
            created: ch.created,
            seq: ch.seq,
            market_id: ch.marketId.into(),
            actor: ch.actor,
            delegate: ch.delegate,
            marketmaker: ch.marketmaker,
            recipient: ch.recipient,
            amount: ch.amount,
            signature,
            closing: ChannelClosing {
                closing_at: cs.closingAt,
                closing_seq: cs.closingSeq,
                closing_balance: cs.closingBalance,
                closed_at: cs.closedAt,
                closed_seq: cs.closedSeq,
                closed_balance: cs.closedBalance,
            },
        }))
    }

    /// The channels opened in `market_id` between `from_block` and `to_block` (inclusive), from
    /// the `XBRChannel.Opened` logs, in chain order.
    pub async fn opened_channels(
        &self,
        market_id: MarketId,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<ChannelOpened>> {
        let logs = self
            .channels()
            .Opened_filter()
            .topic1(market_topic(market_id))
            .from_block(from_block)
            .to_block(to_block)
            .query()
            .await
            .map_err(|e| {
                self.gateway
                    .contract_error("XBRChannel.Opened logs", self.addresses.channel, e)
            })?;
        Ok(logs
            .into_iter()
            .map(|(event, log)| channel_opened(event, log.block_number))
            .collect())
    }

    /// The channels a transaction opened, from the `XBRChannel.Opened` logs in its receipt.
    pub fn opened_in(&self, receipt: &TransactionReceipt) -> Vec<ChannelOpened> {
        receipt
            .logs()
            .iter()
            .filter(|log| log.address() == self.addresses.channel)
            .filter_map(|log| log.log_decode::<XBRChannel::Opened>().ok())
            .map(|log| channel_opened(log.inner.data, receipt.block_number))
            .collect()
    }

    // ---- transactions (sent by the given key through the gateway's send path) -------------

    /// `XBRToken.transfer(to, amount)` from `from`.
    pub async fn transfer_xbr(
        &self,
        from: &EthPrivateKey,
        to: Address,
        amount: U256,
    ) -> Result<TransactionReceipt> {
        let call = "XBRToken.transfer";
        let token = self.token();
        let builder = token.transfer(to, amount);
        self.gateway
            .send_call(call, self.addresses.token, from, builder)
            .await
    }

    /// `XBRToken.approve(spender, amount)` from `owner`.
    pub async fn approve_xbr(
        &self,
        owner: &EthPrivateKey,
        spender: Address,
        amount: U256,
    ) -> Result<TransactionReceipt> {
        let call = "XBRToken.approve";
        let token = self.token();
        let builder = token.approve(spender, amount);
        self.gateway
            .send_call(call, self.addresses.token, owner, builder)
            .await
    }

    /// `XBRNetwork.registerMember(XBRNetwork.eula(), profile)` from `member`.
    pub async fn register_member(
        &self,
        member: &EthPrivateKey,
        profile: &str,
    ) -> Result<TransactionReceipt> {
        let call = "XBRNetwork.registerMember";
        let eula = self.eula().await?;
        let network = self.network();
        let builder = network.registerMember(eula, profile.to_owned());
        self.gateway
            .send_call(call, self.addresses.network, member, builder)
            .await
    }

    /// `XBRMarket.createMarket(...)` from `owner` (a registered member), coin = XBR token.
    pub async fn create_market(
        &self,
        owner: &EthPrivateKey,
        market: &CreateMarket,
    ) -> Result<TransactionReceipt> {
        let call = "XBRMarket.createMarket";
        let contract = self.market();
        let builder = contract.createMarket(
            market.market_id.into(),
            self.addresses.token,
            market.terms.clone(),
            market.meta.clone(),
            market.maker,
            market.provider_security,
            market.consumer_security,
            market.market_fee,
        );
        self.gateway
            .send_call(call, self.addresses.market, owner, builder)
            .await
    }

    /// `XBRMarket.joinMarket(market_id, actor_type, meta)` from `member`. A non-zero security
    /// must have been approved to `XBRMarket` first (see [`SimpleBlockchain::approve_xbr`]).
    pub async fn join_market(
        &self,
        member: &EthPrivateKey,
        market_id: MarketId,
        actor_type: ActorType,
        meta: &str,
    ) -> Result<TransactionReceipt> {
        let call = "XBRMarket.joinMarket";
        let contract = self.market();
        let builder = contract.joinMarket(market_id.into(), actor_type.as_u8(), meta.to_owned());
        self.gateway
            .send_call(call, self.addresses.market, member, builder)
            .await
    }

    /// `XBRChannel.openChannel(...)` sent by `sender`: the buyer or the market maker for a
    /// payment channel, the market maker or owner for a paying channel. The funding party must
    /// have approved `XBRChannel` for `amount`.
    pub async fn open_channel(
        &self,
        sender: &EthPrivateKey,
        open: &OpenChannel,
    ) -> Result<TransactionReceipt> {
        let call = "XBRChannel.openChannel";
        let contract = self.channels();
        let builder = contract.openChannel(
            open.ctype.as_u8(),
            U256::from(open.opened_at),
            open.market_id.into(),
            open.channel_id.into(),
            open.actor,
            open.delegate,
            open.marketmaker,
            open.recipient,
            open.amount,
            Bytes::copy_from_slice(open.signature.as_bytes()),
        );
        self.gateway
            .send_call(call, self.addresses.channel, sender, builder)
            .await
    }

    /// `XBRChannel.closeChannel(...)` sent by `sender` with the delegate's and the market
    /// maker's EIP-712 `EIP712ChannelClose` signatures over the same data; waits for the receipt.
    pub async fn close_channel(
        &self,
        sender: &EthPrivateKey,
        close: &CloseChannel,
    ) -> Result<TransactionReceipt> {
        let contract = self.channels();
        let builder = close_call(&contract, close);
        self.gateway
            .send_call(CLOSE_CHANNEL, self.addresses.channel, sender, builder)
            .await
    }

    /// [`SimpleBlockchain::close_channel`] without waiting for the receipt: the transaction
    /// hash once the node accepted it (follow it with [`Gateway::transaction_status`]).
    pub async fn submit_close_channel(
        &self,
        sender: &EthPrivateKey,
        close: &CloseChannel,
    ) -> Result<B256> {
        let contract = self.channels();
        let builder = close_call(&contract, close);
        self.gateway
            .submit_call(CLOSE_CHANNEL, self.addresses.channel, sender, builder)
            .await
    }
}

/// The `closeChannel` call of `close`.
pub(crate) fn close_call<'a>(
    contract: &'a XBRChannel::XBRChannelInstance<DynProvider>,
    close: &CloseChannel,
) -> alloy_contract::SolCallBuilder<&'a DynProvider, XBRChannel::closeChannelCall> {
    contract.closeChannel(
        close.channel_id.into(),
        U256::from(close.close_at),
        close.closing_seq,
        close.balance,
        close.is_final,
        Bytes::copy_from_slice(close.delegate_signature.as_bytes()),
        Bytes::copy_from_slice(close.marketmaker_signature.as_bytes()),
    )
}

/// The contract function [`SimpleBlockchain::close_channel`] calls (names it in errors).
pub(crate) const CLOSE_CHANNEL: &str = "XBRChannel.closeChannel";

/// An `Opened` event as [`ChannelOpened`].
pub(crate) fn channel_opened(
    event: XBRChannel::Opened,
    block_number: Option<u64>,
) -> ChannelOpened {
    ChannelOpened {
        channel_id: event.channelId.into(),
        market_id: event.marketId.into(),
        ctype: ChannelType::from(event.ctype),
        actor: event.actor,
        delegate: event.delegate,
        marketmaker: event.marketmaker,
        recipient: event.recipient,
        amount: event.amount,
        block_number,
    }
}

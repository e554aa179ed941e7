//! The market maker (spec §3A): offers, quotes, the four-signature `buy_key`, channels mirrored
//! from the chain, channel open/close. Each `xbr.marketmaker.<name>` procedure is a typed
//! method; [`MarketMaker::dispatch`] maps WAMP payloads onto them.
//!
//! Fixes over the reference (spec §10): `buy_key` checks that the delegate owns the payment
//! channel and that `channel_seq`/`balance` continue the stored state; a failed sale rolls back
//! seq and balances of both channels in one transaction; free keys can be quoted and bought;
//! revocation is persisted; `query_offers` is implemented; a seller without a paying channel gets
//! `xbr.error.insufficient_paying_balance`, not a crash; close always counter-signs; an exhausted
//! paying channel is closed with the seller's counter-signature and settled on chain; closes are
//! signed at the current block (the reference's `closeAt = 1` expires at block 1441).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tracing::{Instrument, debug, info_span, warn};
use wamp_proto::{Dict, Value};
use xbr_core::eip712::{EIP712ChannelOpen, recover_typed};
use xbr_core::eth::EthPrivateKey;

use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{BoxFuture, Caller, MAKER_PREFIX, Publisher, now_ns};
use crate::sig::{self, ChannelState as SignedState, Domain};
use crate::store::{MakerStore, blocking};
use crate::types::{
    Address, Channel, ChannelClose, ChannelState, ChannelType, Hex, Offer, OfferQuery, Oid, Sale,
    SaleStatus, U256,
};
use crate::wire::{
    self, Args, Balance, BuyKeyRequest, BuyReceipt, CloseChannelRequest, CloseChannelResult,
    MakerConfigInfo, OpenChannelRequest, Payload, PlaceOfferRequest, ProviderCloseReceipt,
    ProviderCloseRequest, Quote, SellReceipt, SellRequest, result1, v_bytes,
};

/// Static configuration of a market maker.
pub struct MakerConfig {
    /// The maker's Ethereum key (signs receipts and paying-channel states).
    pub key: EthPrivateKey,
    /// The market this maker runs (`XBRMarket.marketsByMaker`).
    pub market_oid: Oid,
    /// The market owner (`XBRMarket.getMarketOwner`).
    pub market_owner: Address,
    /// `XBRNetwork.verifyingChain()` / `verifyingContract()`.
    pub domain: Domain,
    /// `net_version` of the chain.
    pub chain: u64,
    /// Contract addresses by reference name (`xbrtoken`, `xbrnetwork`, …).
    pub contracts: BTreeMap<String, Address>,
    /// EULA url.
    pub eula_url: String,
    /// EULA hash (`XBRNetwork.eula()`).
    pub eula_hash: String,
}

/// A channel as read from the chain (`XBRChannel.Opened`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainChannel {
    /// Channel id.
    pub channel_oid: Oid,
    /// Payment or paying.
    pub channel_type: ChannelType,
    /// Market.
    pub market_oid: Oid,
    /// Block it was opened at.
    pub open_at: u64,
    /// Actor.
    pub actor: Address,
    /// Delegate.
    pub delegate: Address,
    /// Market maker.
    pub marketmaker: Address,
    /// Recipient.
    pub recipient: Address,
    /// Amount.
    pub amount: U256,
    /// Timeout.
    pub timeout: u64,
}

/// What [`MarketMaker::scan_channels`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelScan {
    /// Channels mirrored for the first time.
    pub new: usize,
    /// The block to scan from next time.
    pub next_block: u64,
}

/// A close to submit on chain (`XBRChannel.closeChannel`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainClose {
    /// Channel id.
    pub channel_oid: Oid,
    /// `closeAt` the signatures were made with.
    pub close_at: u64,
    /// Seq.
    pub seq: u64,
    /// Balance.
    pub balance: U256,
    /// Final.
    pub is_final: bool,
    /// Delegate signature.
    pub delegate_signature: Vec<u8>,
    /// Maker signature.
    pub marketmaker_signature: Vec<u8>,
}

/// What the maker needs from the chain (implemented over xbr-chain by the daemon and tests).
pub trait MakerChain: Send + Sync + 'static {
    /// Current block number.
    fn block_number(&self) -> BoxFuture<'_, MarketResult<u64>>;
    /// A channel as recorded on chain (`None` if it does not exist).
    fn channel(&self, channel_oid: Oid) -> BoxFuture<'_, MarketResult<Option<ChainChannel>>>;
    /// Submits `openChannel` (approving the amount first for a paying channel); the opened
    /// channel and the transaction hash.
    fn open_channel(
        &self,
        req: OpenChannelRequest,
    ) -> BoxFuture<'_, MarketResult<([u8; 32], ChainChannel)>>;
    /// Submits `closeChannel`; the transaction hash.
    fn close_channel(&self, close: ChainClose) -> BoxFuture<'_, MarketResult<[u8; 32]>>;
    /// The channels opened in `market_oid` from block `from_block` up to the chain head
    /// (`XBRChannel.Opened` logs), and the block to scan from next time.
    fn opened_channels(
        &self,
        market_oid: Oid,
        from_block: u64,
    ) -> BoxFuture<'_, MarketResult<(Vec<ChainChannel>, u64)>>;
}

/// The market maker role.
pub struct MarketMaker {
    cfg: MakerConfig,
    address: Address,
    store: Arc<dyn MakerStore>,
    providers: Arc<dyn Caller>,
    events: Arc<dyn Publisher>,
    chain: Option<Arc<dyn MakerChain>>,
    locks: Mutex<HashMap<Oid, Arc<tokio::sync::Mutex<()>>>>,
}

/// The procedures the maker registers (each under `xbr.marketmaker.`).
pub const MAKER_PROCEDURES: &[&str] = &[
    "status",
    "get_config",
    "get_status",
    "get_gas_price",
    "place_offer",
    "get_offer",
    "revoke_offer",
    "query_offers",
    "get_quote",
    "buy_key",
    "open_channel",
    "close_channel",
    "get_payment_channel",
    "get_paying_channel",
    "get_payment_channel_balance",
    "get_paying_channel_balance",
    "get_active_payment_channel",
    "get_active_paying_channel",
    "get_channels_by_delegate",
    "get_channels_by_actor",
];

fn channel_kind(ty: ChannelType) -> &'static str {
    match ty {
        ChannelType::Payment => "payment",
        ChannelType::Paying => "paying",
    }
}

/// `_URI_PAT_STRICT_LAST_EMPTY`: components of `[0-9a-z_]`, an exact URI or a prefix ending in `.`.
fn valid_offer_uri(uri: &str) -> bool {
    let body = uri.strip_suffix('.').unwrap_or(uri);
    !body.is_empty()
        && body.split('.').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase() || b == b'_')
        })
}

impl MarketMaker {
    /// A maker over a store; `providers` calls sellers' `xbr.provider.*` procedures, `events`
    /// publishes the maker's events, `chain` (optional) opens/closes channels on chain.
    pub fn new(
        cfg: MakerConfig,
        store: Arc<dyn MakerStore>,
        providers: Arc<dyn Caller>,
        events: Arc<dyn Publisher>,
        chain: Option<Arc<dyn MakerChain>>,
    ) -> Self {
        let address = cfg.key.address();
        Self {
            cfg,
            address,
            store,
            providers,
            events,
            chain,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// The maker's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The signing domain.
    pub fn domain(&self) -> Domain {
        self.cfg.domain
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MakerStore> {
        &self.store
    }

    fn lock_for(&self, oid: &Oid) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(g.entry(*oid).or_default())
    }

    async fn publish(&self, topic: &str, args: Vec<Value>) {
        if let Err(e) = self.events.publish(topic, args, Dict::new()).await {
            warn!(topic, error = %e, "event not published");
        }
    }

    /// Records a channel first seen on chain (seq 1, remaining = amount). `true` if new.
    pub async fn mirror_channel(&self, c: &ChainChannel) -> MarketResult<bool> {
        let ch = Channel {
            channel_oid: c.channel_oid,
            channel_type: c.channel_type,
            market_oid: c.market_oid,
            member_oid: None,
            timestamp: now_ns(),
            open_at: U256::from(c.open_at),
            marketmaker: c.marketmaker,
            actor: c.actor,
            delegate: c.delegate,
            recipient: c.recipient,
            amount: c.amount,
            timeout: c.timeout,
            state: ChannelState::Open,
            seq: 1,
            remaining: c.amount,
            inflight: U256::ZERO,
            close: None,
        };
        Ok(blocking(&self.store, move |s| s.insert_channel(&ch)).await?)
    }

    /// Reads the given channels from the chain and mirrors those of this market and maker that
    /// are new (seq 1, remaining = amount); how many were new. Unknown ids are skipped.
    pub async fn sync_channels(&self, channel_oids: &[Oid]) -> MarketResult<usize> {
        let chain = self
            .chain
            .as_ref()
            .ok_or_else(|| MarketError::new(uri::CHAIN_ERROR, "no chain configured"))?;
        let mut new = 0;
        for oid in channel_oids {
            if let Some(c) = chain.channel(*oid).await?
                && c.market_oid == self.cfg.market_oid
                && c.marketmaker == self.address
                && self.mirror_channel(&c).await?
            {
                new += 1;
            }
        }
        Ok(new)
    }

    /// Scans the chain's `Opened` logs of this market from `from_block` and mirrors the channels
    /// brokered by this maker that are new (seq 1, remaining = amount), including those opened
    /// without it (e.g. by a member directly on chain). Returns how many were new and the block
    /// to scan from next; call it at start with 0 and then periodically.
    pub async fn scan_channels(&self, from_block: u64) -> MarketResult<ChannelScan> {
        let chain = self
            .chain
            .as_ref()
            .ok_or_else(|| MarketError::new(uri::CHAIN_ERROR, "no chain configured"))?;
        let (opened, next_block) = chain
            .opened_channels(self.cfg.market_oid, from_block)
            .await?;
        let mut new = 0;
        for c in opened
            .iter()
            .filter(|c| c.market_oid == self.cfg.market_oid && c.marketmaker == self.address)
        {
            if self.mirror_channel(c).await? {
                new += 1;
            }
        }
        Ok(ChannelScan { new, next_block })
    }

    // ------------------------------------------------------------------ status / config

    /// `get_config`.
    pub fn get_config(&self) -> MakerConfigInfo {
        MakerConfigInfo {
            now: now_ns(),
            chain: self.cfg.chain,
            verifying_chain_id: self.cfg.domain.chain_id,
            verifying_contract: self.cfg.domain.verifying_contract,
            contracts: self.cfg.contracts.clone(),
            owner: self.cfg.market_owner,
            market: self.cfg.market_oid,
            marketmaker: self.address,
            eula_url: self.cfg.eula_url.clone(),
            eula_hash: self.cfg.eula_hash.clone(),
        }
    }

    async fn block_number(&self) -> u64 {
        match &self.chain {
            Some(c) => c.block_number().await.unwrap_or(0),
            None => 0,
        }
    }

    /// `status`.
    pub async fn status(&self) -> Value {
        let mut d = Dict::new();
        d.insert("status".into(), Value::from("RUNNING"));
        d.insert(
            "current_block_no".into(),
            Value::from(self.block_number().await),
        );
        d.insert("accounts".into(), Value::Dict(Dict::new()));
        Value::Dict(d)
    }

    /// `get_status`.
    pub async fn get_status(&self) -> Value {
        let mut block = Dict::new();
        block.insert("number".into(), Value::from(self.block_number().await));
        block.insert("hash".into(), Value::Bytes(vec![0; 32]));
        block.insert("gas_limit".into(), Value::from(0u64));
        let mut d = Dict::new();
        d.insert("now".into(), Value::from(now_ns()));
        d.insert("chain".into(), Value::from(self.cfg.chain));
        d.insert("block".into(), Value::Dict(block));
        d.insert("status".into(), Value::from(1u64));
        Value::Dict(d)
    }

    // ------------------------------------------------------------------ offers

    /// `place_offer`. Placing the same key again for the same seller and API returns the stored
    /// offer (so a seller retrying after a lost reply is idempotent).
    pub async fn place_offer(
        &self,
        req: PlaceOfferRequest,
        seller_session_id: u64,
    ) -> MarketResult<Offer> {
        if !valid_offer_uri(&req.uri) {
            return Err(MarketError::invalid_argument(format!(
                "place_offer: invalid uri '{}'",
                req.uri
            )));
        }
        let now = now_ns();
        if let Some(expires) = req.expires {
            const MIN: u64 = 5 * 60 * 1_000_000_000;
            const DAY: u64 = 24 * 3600 * 1_000_000_000;
            if expires <= req.valid_from || expires > now + DAY || expires - req.valid_from < MIN {
                return Err(MarketError::invalid_argument(
                    "place_offer: invalid expires",
                ));
            }
        }
        let offer = Offer {
            offer_id: rand::random(),
            timestamp: now,
            seller: req.delegate,
            seller_session_id,
            seller_authid: req.provider_id.clone().unwrap_or_default(),
            key_id: req.key_id,
            api_id: req.api_id,
            uri: req.uri.clone(),
            valid_from: req.valid_from,
            signature: req.signature.clone(),
            price: req.price.unwrap_or_default(),
            categories: req.categories.clone(),
            expires: req.expires,
            copies: req.copies,
            remaining: req.copies,
        };
        let o = offer.clone();
        match blocking(&self.store, move |s| s.insert_offer(&o)).await {
            Ok(()) => {}
            Err(crate::store::StoreError::Duplicate(_)) => {
                let key = req.key_id;
                let existing = blocking(&self.store, move |s| s.offer_by_key(&key)).await?;
                return match existing {
                    Some(e)
                        if e.seller == req.delegate
                            && e.api_id == req.api_id
                            && e.price == offer.price =>
                    {
                        Ok(e)
                    }
                    _ => Err(MarketError::new(
                        uri::DUPLICATE_OFFER,
                        "key already offered",
                    )),
                };
            }
            Err(e) => return Err(e.into()),
        }
        debug!(key_id = %Hex(&offer.key_id), "offer placed");
        self.publish(
            "xbr.marketmaker.on_offer_placed",
            vec![wire::offer_to_value(&offer)],
        )
        .await;
        Ok(offer)
    }

    /// `get_offer`.
    pub async fn get_offer(&self, offer_id: Oid) -> MarketResult<Offer> {
        blocking(&self.store, move |s| s.offer(&offer_id))
            .await?
            .ok_or_else(|| MarketError::no_such_object("no such offer"))
    }

    /// `revoke_offer`: sets `expires = now`, persisted.
    pub async fn revoke_offer(&self, key_id: Oid) -> MarketResult<Offer> {
        let now = now_ns();
        let offer = blocking(&self.store, move |s| s.set_offer_expires(&key_id, now)).await?;
        self.publish(
            "xbr.marketmaker.on_offer_revoked",
            vec![wire::offer_to_value(&offer)],
        )
        .await;
        Ok(offer)
    }

    /// `query_offers`.
    pub async fn query_offers(&self, q: OfferQuery) -> MarketResult<Vec<Offer>> {
        Ok(blocking(&self.store, move |s| s.query_offers(&q)).await?)
    }

    async fn live_offer(&self, key_id: Oid) -> MarketResult<Offer> {
        let offer = blocking(&self.store, move |s| s.offer_by_key(&key_id))
            .await?
            .ok_or_else(|| {
                MarketError::no_such_object(format!("no offer for key {}", Hex(&key_id)))
            })?;
        if offer.expires.is_some_and(|e| e != 0 && e <= now_ns()) {
            return Err(MarketError::new(uri::OFFER_EXPIRED, "offer expired"));
        }
        Ok(offer)
    }

    /// `get_quote` (price 0 is a valid quote).
    pub async fn get_quote(&self, key_id: Oid) -> MarketResult<Quote> {
        let offer = self.live_offer(key_id).await?;
        Ok(Quote {
            timestamp: now_ns(),
            key_id,
            price: offer.price,
            expires: offer.expires.unwrap_or(0),
        })
    }

    // ------------------------------------------------------------------ buy

    /// `buy_key` (spec §3A.3 plus the checks the reference left as FIXME).
    pub async fn buy_key(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        let span = info_span!("buy_key", key_id = %Hex(&req.key_id), channel = %Hex(&req.channel_oid), seq = req.channel_seq);
        self.buy_key_inner(req).instrument(span).await
    }

    async fn buy_key_inner(&self, req: BuyKeyRequest) -> MarketResult<BuyReceipt> {
        let domain = self.cfg.domain;
        let market = self.cfg.market_oid;
        // XBRSIG 2: the buyer's signature over the payment state it proposes.
        domain.verify(
            &sig::off_chain(market, req.channel_oid, req.channel_seq, req.balance),
            &req.signature,
            &req.delegate,
            "buyer delegate",
        )?;

        // One purchase at a time per payment channel.
        let payment_lock = self.lock_for(&req.channel_oid);
        let _payment_guard = payment_lock.lock().await;

        let oid = req.channel_oid;
        let payment = blocking(&self.store, move |s| s.channel(&oid))
            .await?
            .filter(|c| c.channel_type == ChannelType::Payment && c.state == ChannelState::Open)
            .ok_or_else(|| MarketError::no_such_object("no such open payment channel"))?;
        if payment.delegate != req.delegate {
            return Err(MarketError::new(
                uri::UNEXPECTED_DELEGATE_ADR,
                format!(
                    "payment channel belongs to delegate {}, not {}",
                    payment.delegate, req.delegate
                ),
            ));
        }
        let offer = self.live_offer(req.key_id).await?;
        let price = offer.price;
        if req.amount < price {
            return Err(MarketError::new(
                uri::INSUFFICIENT_AMOUNT,
                "amount below the offer price",
            ));
        }
        if price > payment.remaining {
            return Err(MarketError::new(
                uri::INSUFFICIENT_PAYMENT_BALANCE,
                "payment channel cannot pay the price",
            ));
        }
        if req.channel_seq != payment.seq + 1 {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                format!(
                    "payment channel seq is {}, expected {} in the request",
                    payment.seq,
                    payment.seq + 1
                ),
            ));
        }
        let payment_after = payment.remaining - price;
        if req.balance != payment_after {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "balance is not the payment channel's remaining minus the price",
            ));
        }

        // The seller's paying channel (one that can earn the price, else any open one, which
        // is then closed below); one sale at a time on it.
        let seller = offer.seller;
        let open_paying: Vec<Channel> = blocking(&self.store, move |s| {
            s.channels_by_delegate(&seller, ChannelType::Paying)
        })
        .await?
        .into_iter()
        .filter(|c| c.state == ChannelState::Open)
        .collect();
        let paying_oid = open_paying
            .iter()
            .find(|c| c.remaining >= price)
            .or(open_paying.first())
            .map(|c| c.channel_oid)
            .ok_or_else(|| {
                MarketError::new(
                    uri::INSUFFICIENT_PAYING_BALANCE,
                    "seller has no active paying channel",
                )
            })?;
        let paying_lock = self.lock_for(&paying_oid);
        let _paying_guard = paying_lock.lock().await;
        let paying = blocking(&self.store, move |s| s.channel(&paying_oid))
            .await?
            .filter(|c| c.state == ChannelState::Open)
            .ok_or_else(|| {
                MarketError::new(uri::INSUFFICIENT_PAYING_BALANCE, "paying channel closed")
            })?;
        if paying.remaining < price {
            self.publish(
                "xbr.marketmaker.on_paying_channel_empty",
                vec![v_bytes(&paying_oid)],
            )
            .await;
            if let Err(e) = self
                .close_paying_channel(&paying, &offer.seller_authid)
                .await
            {
                warn!(channel = %Hex(&paying_oid), error = %e, "paying channel auto-close failed");
            }
            return Err(MarketError::new(
                uri::INSUFFICIENT_PAYING_BALANCE,
                "paying channel cannot earn the price",
            ));
        }
        let paying_seq = paying.seq + 1;
        let paying_after = paying.remaining - price;
        // XBRSIG 3.
        let sell_state = sig::off_chain(market, paying_oid, paying_seq, paying_after);
        let maker_sell_signature = domain.sign(&self.cfg.key, &sell_state)?;

        let sale = Sale {
            tx_id: rand::random(),
            created: now_ns(),
            status: SaleStatus::Inflight,
            key_id: req.key_id,
            offer_id: offer.offer_id,
            buyer_delegate: req.delegate,
            buyer_pubkey: req.buyer_pubkey,
            amount_offered: req.amount,
            amount_paid: price,
            payment_channel: req.channel_oid,
            payment_seq: req.channel_seq,
            payment_remaining: payment_after,
            buyer_signature: req.signature.clone(),
            paying_channel: paying_oid,
            paying_seq,
            paying_remaining: paying_after,
            maker_sell_signature: maker_sell_signature.clone(),
            seller_signature: None,
            maker_receipt_signature: None,
            failure: None,
        };
        let tx_id = sale.tx_id;
        let s2 = sale.clone();
        blocking(&self.store, move |s| s.begin_sale(&s2)).await?;

        let sell = SellRequest {
            market_maker_adr: self.address,
            buyer_pubkey: req.buyer_pubkey,
            key_id: req.key_id,
            channel_oid: paying_oid,
            channel_seq: paying_seq,
            amount: price,
            balance: paying_after,
            signature: maker_sell_signature,
        };
        let procedure = format!("xbr.provider.{}.sell", offer.seller_authid);
        let outcome = async {
            let r = self
                .providers
                .call(&procedure, sell.to_args(), Dict::new())
                .await?;
            let receipt = SellReceipt::from_value(wire::first(&r))?;
            // XBRSIG 6: the seller's signature over the same paying state.
            domain.verify(
                &sell_state,
                &receipt.signature,
                &paying.delegate,
                "seller delegate",
            )?;
            if receipt.key_id != req.key_id
                || receipt.sealed_key.len() != xbr_core::sealedbox::SEALED_KEY_LEN
            {
                return Err(MarketError::new(
                    uri::TRANSACTION_FAILED,
                    "seller receipt does not match the sale",
                ));
            }
            Ok(receipt)
        }
        .await;
        let receipt = match outcome {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "sale failed, rolling back");
                let reason = e.to_string();
                if let Err(re) =
                    blocking(&self.store, move |s| s.rollback_sale(&tx_id, &reason)).await
                {
                    warn!(error = %re, "rollback failed");
                }
                return Err(e);
            }
        };

        // XBRSIG 7: the receipt over the new payment state.
        let receipt_sig = domain.sign(
            &self.cfg.key,
            &sig::off_chain(market, req.channel_oid, req.channel_seq, payment_after),
        )?;
        let (seller_sig, rs) = (receipt.signature.clone(), receipt_sig.clone());
        let (payment_now, paying_now) = blocking(&self.store, move |s| {
            s.complete_sale(&tx_id, &seller_sig, &rs)
        })
        .await?;
        if (payment_now.remaining + payment_now.inflight).is_zero() {
            self.publish(
                "xbr.marketmaker.on_payment_channel_empty",
                vec![v_bytes(&payment_now.channel_oid)],
            )
            .await;
        }
        if (paying_now.remaining + paying_now.inflight).is_zero() {
            self.publish(
                "xbr.marketmaker.on_paying_channel_empty",
                vec![v_bytes(&paying_now.channel_oid)],
            )
            .await;
        }
        Ok(BuyReceipt {
            key_id: req.key_id,
            delegate: req.delegate,
            buyer_pubkey: req.buyer_pubkey,
            sealed_key: receipt.sealed_key,
            offer_id: Some(offer.offer_id),
            free_rated: price.is_zero(),
            amount: req.amount,
            amount_paid: price,
            channel_seq: payment_now.seq,
            payment_channel: req.channel_oid,
            remaining: payment_now.remaining,
            inflight: payment_now.inflight,
            signature: receipt_sig,
        })
    }

    // ------------------------------------------------------------------ channels

    /// `open_channel`: verifies the member's ChannelOpen, submits `openChannel` and records the
    /// channel (seq 1).
    pub async fn open_channel(&self, req: OpenChannelRequest) -> MarketResult<Value> {
        let chain = self
            .chain
            .as_ref()
            .ok_or_else(|| MarketError::new(uri::CHAIN_ERROR, "no chain configured"))?;
        let msg = EIP712ChannelOpen::new(
            req.verifying_chain_id,
            req.verifying_contract,
            req.channel_type.as_u8(),
            req.current_block_number,
            req.market_oid,
            req.channel_oid,
            req.member,
            req.delegate,
            req.marketmaker,
            req.recipient,
            req.amount,
        );
        let signer = recover_typed(&msg, &req.signature).map_err(|e| {
            MarketError::new(
                uri::INVALID_SIGNATURE,
                format!("channel open signature: {e}"),
            )
        })?;
        if signer != req.member {
            return Err(MarketError::new(
                uri::INVALID_SIGNATURE,
                "channel open not signed by the member",
            ));
        }
        if req.market_oid != self.cfg.market_oid || req.marketmaker != self.address {
            return Err(MarketError::invalid_argument(
                "open_channel: not this market or market maker",
            ));
        }
        if req.verifying_chain_id != self.cfg.domain.chain_id
            || req.verifying_contract != self.cfg.domain.verifying_contract
        {
            return Err(MarketError::invalid_argument(
                "open_channel: wrong verifying chain or contract",
            ));
        }
        let (tx, opened) = chain.open_channel(req.clone()).await?;
        self.mirror_channel(&opened).await?;
        let mut d = Dict::new();
        d.insert("transaction".into(), v_bytes(&tx));
        d.insert("channel_oid".into(), v_bytes(&req.channel_oid));
        d.insert("market_oid".into(), v_bytes(&req.market_oid));
        Ok(Value::Dict(d))
    }

    /// `close_channel`: verifies the delegate's close over the channel's current state,
    /// counter-signs, marks it closing and submits `closeChannel` (if a chain is configured).
    pub async fn close_channel(
        &self,
        req: CloseChannelRequest,
    ) -> MarketResult<CloseChannelResult> {
        let oid = req.channel_oid;
        let lock = self.lock_for(&oid);
        let _guard = lock.lock().await;
        let ch = blocking(&self.store, move |s| s.channel(&oid))
            .await?
            .ok_or_else(|| MarketError::new(uri::INVALID_CHANNEL, "no such channel"))?;
        let state = SignedState {
            close_at: req.current_block_number,
            market_oid: self.cfg.market_oid,
            channel_oid: oid,
            seq: req.closing_seq,
            balance: req.closing_balance,
            is_final: req.closing_is_final,
        };
        let domain = Domain {
            chain_id: req.verifying_chain_id,
            verifying_contract: req.verifying_contract,
        };
        if domain != self.cfg.domain {
            return Err(MarketError::new(
                uri::INVALID_SIGNATURE,
                "close signed for another chain or contract",
            ));
        }
        domain.verify(
            &state,
            &req.delegate_signature,
            &ch.delegate,
            "channel delegate",
        )?;
        if ch.state != ChannelState::Open {
            return Err(MarketError::new(
                uri::CHANNEL_NOT_OPEN,
                "channel is not open",
            ));
        }
        if req.closing_seq != ch.seq {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                "close seq is not the channel's current seq",
            ));
        }
        if req.closing_balance != ch.remaining || !ch.inflight.is_zero() {
            return Err(MarketError::new(
                uri::UNEXPECTED_CHANNEL_BALANCE,
                "close balance is not the channel's current remaining",
            ));
        }
        let mm_sig = domain.sign(&self.cfg.key, &state)?;
        self.settle_close(&ch, &state, req.delegate_signature, mm_sig)
            .await
    }

    /// Final close of a seller's exhausted paying channel (spec §3A.3 step 3, working): the maker
    /// signs the close of the current state at the current block, the seller counter-signs
    /// through `xbr.provider.<authid>.close_channel`, and the close is settled like any other.
    /// Called with the paying channel's lock held.
    async fn close_paying_channel(
        &self,
        paying: &Channel,
        seller_authid: &str,
    ) -> MarketResult<CloseChannelResult> {
        let close_at = match self.block_number().await {
            0 => sig::OFF_CHAIN_CLOSE_AT,
            block => block,
        };
        let state = SignedState {
            close_at,
            market_oid: self.cfg.market_oid,
            channel_oid: paying.channel_oid,
            seq: paying.seq,
            balance: paying.remaining,
            is_final: true,
        };
        let mm_sig = self.cfg.domain.sign(&self.cfg.key, &state)?;
        let req = ProviderCloseRequest {
            market_maker_adr: self.address,
            channel_oid: paying.channel_oid,
            channel_seq: paying.seq,
            channel_balance: paying.remaining,
            channel_is_final: true,
            marketmaker_signature: mm_sig.clone(),
            close_at,
        };
        let procedure = format!("xbr.provider.{seller_authid}.close_channel");
        let r = self
            .providers
            .call(&procedure, req.to_args(), Dict::new())
            .await?;
        let receipt = ProviderCloseReceipt::from_value(wire::first(&r))?;
        self.cfg.domain.verify(
            &state,
            &receipt.signature,
            &paying.delegate,
            "seller delegate",
        )?;
        self.settle_close(paying, &state, receipt.signature, mm_sig)
            .await
    }

    /// Records a close signed by the channel's delegate and the maker: marks the channel
    /// closing, submits `closeChannel` (with a chain configured; a final close settles at once),
    /// records the outcome and publishes the closing events. Called with the channel's lock held.
    async fn settle_close(
        &self,
        ch: &Channel,
        state: &SignedState,
        delegate_signature: Vec<u8>,
        mm_sig: Vec<u8>,
    ) -> MarketResult<CloseChannelResult> {
        let oid = ch.channel_oid;
        let mut close = ChannelClose {
            seq: state.seq,
            balance: state.balance,
            is_final: state.is_final,
            delegate_signature: delegate_signature.clone(),
            marketmaker_signature: Some(mm_sig.clone()),
            closing_at: now_ns(),
            closed_tx: None,
        };
        let c2 = close.clone();
        blocking(&self.store, move |s| {
            s.close_channel(&oid, ChannelState::Open, ChannelState::Closing, &c2)
        })
        .await?;
        let mut transaction = [0u8; 32];
        let mut new_state = ChannelState::Closing;
        if let Some(chain) = &self.chain {
            let tx = chain
                .close_channel(ChainClose {
                    channel_oid: oid,
                    close_at: state.close_at,
                    seq: state.seq,
                    balance: state.balance,
                    is_final: state.is_final,
                    delegate_signature,
                    marketmaker_signature: mm_sig,
                })
                .await?;
            transaction = tx;
            close.closed_tx = Some(tx);
            // A final close settles on chain at once.
            if state.is_final {
                new_state = ChannelState::Closed;
            }
            blocking(&self.store, move |s| {
                s.close_channel(&oid, ChannelState::Closing, new_state, &close)
            })
            .await?;
        }
        let result = CloseChannelResult {
            transaction,
            market_oid: self.cfg.market_oid,
            channel_oid: oid,
            state: new_state as u64,
            balance: state.balance,
            seq: state.seq,
            is_final: state.is_final,
        };
        let topic = format!(
            "xbr.marketmaker.on_{}_channel_closing",
            channel_kind(ch.channel_type)
        );
        self.publish(&topic, vec![result.to_value()]).await;
        if ch.channel_type == ChannelType::Paying {
            let delegate = ch.delegate;
            let q = OfferQuery {
                seller: Some(delegate),
                limit: Some(1),
                ..Default::default()
            };
            if let Ok(Some(o)) = blocking(&self.store, move |s| s.query_offers(&q))
                .await
                .map(|v| v.into_iter().next())
            {
                let topic = format!("xbr.provider.{}.on_channel_closed", o.seller_authid);
                let args = vec![
                    v_bytes(&oid),
                    Value::from(state.seq),
                    wire::v_u256_bytes(&state.balance),
                    Value::Bool(state.is_final),
                ];
                self.publish(&topic, args).await;
            }
        }
        Ok(result)
    }

    /// `get_payment_channel` / `get_paying_channel`.
    pub async fn get_channel(&self, ty: ChannelType, oid: Oid) -> MarketResult<Channel> {
        blocking(&self.store, move |s| s.channel(&oid))
            .await?
            .filter(|c| c.channel_type == ty)
            .ok_or_else(|| {
                MarketError::no_such_object(format!("no such {} channel", channel_kind(ty)))
            })
    }

    /// `get_payment_channel_balance` / `get_paying_channel_balance`.
    pub async fn get_balance(&self, ty: ChannelType, oid: Oid) -> MarketResult<Balance> {
        let c = self.get_channel(ty, oid).await?;
        Ok(Balance {
            remaining: c.remaining,
            inflight: c.inflight,
            seq: c.seq,
        })
    }

    /// `get_active_payment_channel` / `get_active_paying_channel`: the first open channel of the
    /// delegate with remaining > 0.
    pub async fn get_active_channel(
        &self,
        ty: ChannelType,
        delegate: Address,
    ) -> MarketResult<Option<Channel>> {
        let v = blocking(&self.store, move |s| s.channels_by_delegate(&delegate, ty)).await?;
        Ok(v.into_iter()
            .find(|c| c.state == ChannelState::Open && !c.remaining.is_zero()))
    }

    /// `get_channels_by_delegate`.
    pub async fn get_channels_by_delegate(
        &self,
        delegate: Address,
        ty: ChannelType,
        filter_open: bool,
    ) -> MarketResult<Vec<Oid>> {
        let v = blocking(&self.store, move |s| s.channels_by_delegate(&delegate, ty)).await?;
        Ok(v.into_iter()
            .filter(|c| !filter_open || c.state == ChannelState::Open)
            .map(|c| c.channel_oid)
            .collect())
    }

    /// `get_channels_by_actor` (paying channels are looked up by recipient).
    pub async fn get_channels_by_actor(
        &self,
        member: Address,
        ty: ChannelType,
        filter_open: bool,
    ) -> MarketResult<Vec<Oid>> {
        let v = blocking(&self.store, move |s| s.channels_by_member(&member, ty)).await?;
        Ok(v.into_iter()
            .filter(|c| !filter_open || c.state == ChannelState::Open)
            .map(|c| c.channel_oid)
            .collect())
    }

    // ------------------------------------------------------------------ WAMP dispatch

    /// Handles `xbr.marketmaker.<name>` with WAMP positional/keyword args. `caller_session` is
    /// the calling session id (recorded with offers).
    pub async fn dispatch(
        &self,
        name: &str,
        args: &[Value],
        kwargs: &Dict,
        caller_session: u64,
    ) -> MarketResult<Payload> {
        let no_args = |n: &'static str| Args::new(n, args, 0, 1).map(|_| ());
        let ty_of = |payment: bool| {
            if payment {
                ChannelType::Payment
            } else {
                ChannelType::Paying
            }
        };
        let filter_open = |kw: &Dict| {
            kw.get("filter_open")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        };
        match name {
            "status" => {
                no_args("status")?;
                Ok(result1(self.status().await))
            }
            "get_config" => {
                no_args("get_config")?;
                Ok(result1(self.get_config().to_value()))
            }
            "get_status" => Ok(result1(self.get_status().await)),
            "get_gas_price" => Ok(result1(Value::from(10_000_000_000u64))),
            "place_offer" => {
                let req = PlaceOfferRequest::from_call(args, kwargs)?;
                Ok(result1(wire::offer_to_value(
                    &self.place_offer(req, caller_session).await?,
                )))
            }
            "get_offer" => {
                let a = Args::new(name, args, 1, 1)?;
                Ok(result1(wire::offer_to_value(
                    &self.get_offer(a.bytes(0, "offer_id")?).await?,
                )))
            }
            "revoke_offer" => {
                let a = Args::new(name, args, 1, 1)?;
                Ok(result1(wire::offer_to_value(
                    &self.revoke_offer(a.bytes(0, "key_id")?).await?,
                )))
            }
            "query_offers" => {
                let q = wire::offer_query_from_call(args, kwargs)?;
                let offers = self.query_offers(q).await?;
                Ok(result1(Value::List(
                    offers.iter().map(wire::offer_to_value).collect(),
                )))
            }
            "get_quote" => {
                let a = Args::new(name, args, 1, 1)?;
                Ok(result1(
                    self.get_quote(a.bytes(0, "key_id")?).await?.to_value(),
                ))
            }
            "buy_key" => Ok(result1(
                self.buy_key(BuyKeyRequest::from_args(args)?)
                    .await?
                    .to_value(),
            )),
            "open_channel" => Ok(result1(
                self.open_channel(OpenChannelRequest::from_args(args)?)
                    .await?,
            )),
            "close_channel" => Ok(result1(
                self.close_channel(CloseChannelRequest::from_args(args)?)
                    .await?
                    .to_value(),
            )),
            "get_payment_channel" | "get_paying_channel" => {
                let a = Args::new(name, args, 1, 1)?;
                let c = self
                    .get_channel(
                        ty_of(name == "get_payment_channel"),
                        a.bytes(0, "channel_oid")?,
                    )
                    .await?;
                Ok(result1(wire::channel_to_value(&c)))
            }
            "get_payment_channel_balance" | "get_paying_channel_balance" => {
                let a = Args::new(name, args, 1, 1)?;
                let b = self
                    .get_balance(
                        ty_of(name == "get_payment_channel_balance"),
                        a.bytes(0, "channel_oid")?,
                    )
                    .await?;
                Ok(result1(b.to_value()))
            }
            "get_active_payment_channel" | "get_active_paying_channel" => {
                let a = Args::new(name, args, 1, 1)?;
                let c = self
                    .get_active_channel(
                        ty_of(name == "get_active_payment_channel"),
                        a.address(0, "delegate_adr")?,
                    )
                    .await?;
                Ok(result1(
                    c.as_ref()
                        .map(wire::channel_to_value)
                        .unwrap_or(Value::Null),
                ))
            }
            "get_channels_by_delegate" | "get_channels_by_actor" => {
                let a = Args::new(name, args, 2, 3)?;
                let who = a.address(0, "address")?;
                let ty = ChannelType::from_u64(a.u64(1, "channel_type")?)
                    .ok_or_else(|| MarketError::invalid_argument("channel_type must be 1 or 2"))?;
                let open = match a.at(2) {
                    Value::Bool(b) => *b,
                    _ => filter_open(kwargs),
                };
                let v = if name == "get_channels_by_delegate" {
                    self.get_channels_by_delegate(who, ty, open).await?
                } else {
                    self.get_channels_by_actor(who, ty, open).await?
                };
                Ok(result1(Value::List(v.iter().map(|o| v_bytes(o)).collect())))
            }
            other => Err(MarketError::new(
                uri::NO_SUCH_PROCEDURE,
                format!("{MAKER_PREFIX}{other}"),
            )),
        }
    }
}

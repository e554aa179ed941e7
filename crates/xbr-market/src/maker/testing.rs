//! A maker on the in-memory store for the unit tests of its steps: real keys and signatures
//! (the spec §4.6 dev keys), a scripted seller and a recording event sink. Also built with the
//! `fuzzing` feature, for the fuzz targets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub mod chain;

use wamp_proto::{Dict, Value};
use xbr_core::eth::EthPrivateKey;

use super::{
    CallerPolicy, ChainChannel, ChainChannelEvent, ChainClose, CloseBroadcast, CloseSigning,
    DEFAULT_MAX_CHANNEL_AMOUNT, MakerChain, MakerConfig, MarketMaker, Replacement,
};
use crate::error::{MarketError, MarketResult, uri};
use crate::peer::{BoxFuture, Caller, ProviderProcedure, Publisher, now_ns};
use crate::sig::{self, Domain};
use crate::store::{MakerStore, MemoryStore};
use crate::types::{
    ActorType, Address, ApiId, ChannelId, ChannelType, CloseTx, KeyId, MarketId, Offer, OfferId,
    Signature, U256,
};
use crate::wire::{
    BuyKeyRequest, CloseChannelRequest, OpenChannelRequest, Payload, ProviderCloseReceipt,
    ProviderCloseRequest, SellReceipt, SellRequest, result1,
};

/// The market maker's key (KEY6).
pub const MAKER_KEY: &str = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52";
/// The seller delegate's key (KEY4).
pub const SELLER_KEY: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";
/// The buyer delegate's key (KEY5).
pub const BUYER_KEY: &str = "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd";
/// Another key (KEY2), signing where it must not.
pub const OTHER_KEY: &str = "6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c";

pub const MARKET: MarketId = MarketId([0xa1; 16]);
pub const PAYMENT: ChannelId = ChannelId([0x7a; 16]);
pub const PAYING: ChannelId = ChannelId([0x0b; 16]);
pub const KEY_ID: KeyId = KeyId([0x01; 16]);
pub const OFFER_ID: OfferId = OfferId([0x0f; 16]);
pub const SELLER_AUTHID: &str = "seller-1";

/// The key of `hex`, parsed once per process (deriving the public key is what makes a fixture
/// slow, and the fuzz targets build one per input).
pub fn key(hex: &str) -> EthPrivateKey {
    static KEYS: Mutex<BTreeMap<String, EthPrivateKey>> = Mutex::new(BTreeMap::new());
    let mut keys = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    keys.entry(hex.to_string())
        .or_insert_with(|| EthPrivateKey::from_hex(hex).unwrap())
        .clone()
}

pub fn domain() -> Domain {
    Domain {
        chain_id: 5777,
        verifying_contract: Address::repeat_byte(0xc8),
    }
}

/// The maker's configuration: [`MAKER_KEY`] running [`MARKET`].
pub fn config() -> MakerConfig {
    MakerConfig {
        key: key(MAKER_KEY),
        market_oid: MARKET,
        market_owner: key(OTHER_KEY).address(),
        domain: domain(),
        chain: 5777,
        contracts: Default::default(),
        eula_url: String::new(),
        eula_hash: String::new(),
        realm: None,
        callers: CallerPolicy::Unchecked,
        max_channel_amount: U256::from(DEFAULT_MAX_CHANNEL_AMOUNT),
    }
}

/// The buyer's final close of the untouched payment channel [`PAYMENT`] of `amount`, at block 7.
pub fn final_close(amount: u64) -> CloseChannelRequest {
    let state = sig::ChannelState {
        close_at: 7,
        market_oid: MARKET,
        channel_oid: PAYMENT,
        seq: 1,
        balance: U256::from(amount),
        is_final: true,
    };
    CloseChannelRequest {
        channel_oid: PAYMENT,
        verifying_chain_id: domain().chain_id,
        current_block_number: 7,
        verifying_contract: domain().verifying_contract,
        closing_balance: U256::from(amount),
        closing_seq: 1,
        closing_is_final: true,
        delegate_signature: domain().sign(&key(BUYER_KEY), &state).unwrap(),
    }
}

/// How the scripted seller answers `sell`.
#[derive(Clone, Debug)]
pub enum SellerScript {
    /// Records the sale like our seller: the same request at a recorded seq gets the same
    /// receipt, a request that does not continue its channel is refused with its position.
    Honest,
    /// Signs with another key (records nothing).
    WrongSigner,
    /// Returns a receipt for another key (records nothing).
    WrongKey,
    /// Fails the call with this error (records nothing).
    Fail(MarketError),
    /// Answers as [`SellerScript::Honest`], then the reply is lost: the call fails with this
    /// error.
    RecordThenFail(MarketError),
}

/// The scripted seller's paying channel: its position and the sales it recorded by seq.
#[derive(Default)]
pub struct SellerBook {
    pub seq: u64,
    pub balance: U256,
    pub sales: BTreeMap<u64, (SellRequest, SellReceipt)>,
}

/// The seller's side of the maker's calls: `sell` as scripted, `close_channel` counter-signed.
pub struct ScriptedSeller {
    pub script: Mutex<SellerScript>,
    pub calls: Mutex<Vec<String>>,
    pub book: Mutex<SellerBook>,
}

impl ScriptedSeller {
    /// A seller whose paying channel stands at seq 1 with `balance`.
    pub fn new(balance: U256) -> Self {
        Self {
            script: Mutex::new(SellerScript::Honest),
            calls: Mutex::default(),
            book: Mutex::new(SellerBook {
                seq: 1,
                balance,
                sales: BTreeMap::new(),
            }),
        }
    }

    /// The seller's (seq, balance) on its paying channel.
    pub fn position(&self) -> (u64, U256) {
        let b = self.book.lock().unwrap();
        (b.seq, b.balance)
    }

    fn answer(&self, procedure: &str, args: &[Value]) -> MarketResult<Payload> {
        self.calls.lock().unwrap().push(procedure.to_string());
        let seller = key(SELLER_KEY);
        let name = procedure.rsplit_once('.').map_or(procedure, |(_, n)| n);
        if name.parse::<ProviderProcedure>()? == ProviderProcedure::CloseChannel {
            let req = ProviderCloseRequest::from_args(args)?;
            let state = sig::ChannelState {
                close_at: req.close_at,
                market_oid: MARKET,
                channel_oid: req.channel_oid,
                seq: req.channel_seq,
                balance: req.channel_balance,
                is_final: req.channel_is_final,
            };
            let receipt = ProviderCloseReceipt {
                delegate: seller.address(),
                seq: req.channel_seq,
                balance: req.channel_balance,
                is_final: req.channel_is_final,
                signature: domain().sign(&seller, &state)?,
            };
            return Ok(result1(receipt.to_value()));
        }
        let req = SellRequest::from_args(args)?;
        let script = self.script.lock().unwrap().clone();
        let signer = match &script {
            SellerScript::Fail(e) => return Err(e.clone()),
            SellerScript::WrongSigner => key(OTHER_KEY),
            _ => seller,
        };
        let state = sig::off_chain(MARKET, req.channel_oid, req.channel_seq, req.balance);
        let receipt = SellReceipt {
            key_id: match script {
                SellerScript::WrongKey => KeyId([0xee; 16]),
                _ => req.key_id,
            },
            delegate: key(SELLER_KEY).address(),
            buyer_pubkey: req.buyer_pubkey,
            sealed_key: vec![0x5e; xbr_core::sealedbox::SEALED_KEY_LEN],
            channel_seq: req.channel_seq,
            amount: req.amount,
            balance: req.balance,
            signature: domain().sign(&signer, &state)?,
        };
        let receipt = match &script {
            SellerScript::Honest | SellerScript::RecordThenFail(_) => self.record(req, receipt)?,
            _ => receipt,
        };
        match script {
            SellerScript::RecordThenFail(e) => Err(e),
            _ => Ok(result1(receipt.to_value())),
        }
    }

    /// Records a sale (or finds it recorded): the receipt to answer with.
    fn record(&self, req: SellRequest, receipt: SellReceipt) -> MarketResult<SellReceipt> {
        let mut book = self.book.lock().unwrap();
        let refuse = |book: &SellerBook| {
            MarketError::new(
                uri::UNEXPECTED_CHANNEL_SEQ,
                "sell does not continue the channel",
            )
            .with_position(book.seq, book.balance)
        };
        if let Some((recorded, receipt)) = book.sales.get(&req.channel_seq) {
            return match *recorded == req {
                true => Ok(receipt.clone()),
                false => Err(refuse(&book)),
            };
        }
        if req.channel_seq != book.seq + 1 || req.balance + req.amount != book.balance {
            return Err(refuse(&book));
        }
        book.seq = req.channel_seq;
        book.balance = req.balance;
        book.sales.insert(req.channel_seq, (req, receipt.clone()));
        Ok(receipt)
    }
}

impl Caller for ScriptedSeller {
    fn call<'a>(
        &'a self,
        procedure: &'a str,
        args: Vec<Value>,
        _kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<Payload>> {
        // A call over the network always suspends the caller once.
        Box::pin(async move {
            tokio::task::yield_now().await;
            self.answer(procedure, &args)
        })
    }
}

/// Replacements of stuck closes far in the future (the default of the test chains).
pub const QUIET_REPLACEMENT: Replacement = Replacement {
    replace_after: std::time::Duration::from_secs(3600),
    max_replacements: 3,
};

/// A chain at block 0 with no channel logs (opening or closing on it fails).
pub struct QuietChain;

impl MakerChain for QuietChain {
    fn block_number(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async { Ok(0) })
    }

    fn channel(&self, _: ChannelId) -> BoxFuture<'_, MarketResult<Option<ChainChannel>>> {
        Box::pin(async { Ok(None) })
    }

    fn open_channel(
        &self,
        _: OpenChannelRequest,
    ) -> BoxFuture<'_, MarketResult<([u8; 32], ChainChannel)>> {
        Box::pin(async { Err(MarketError::runtime("a quiet chain opens nothing")) })
    }

    fn sign_close(&self, _: ChainClose) -> BoxFuture<'_, MarketResult<CloseSigning>> {
        Box::pin(async { Err(MarketError::runtime("a quiet chain closes nothing")) })
    }

    fn sign_close_replacement(&self, _: CloseTx) -> BoxFuture<'_, MarketResult<Option<CloseTx>>> {
        Box::pin(async { Ok(None) })
    }

    fn broadcast_close(&self, _: CloseTx) -> BoxFuture<'_, MarketResult<CloseBroadcast>> {
        Box::pin(async { Err(MarketError::runtime("a quiet chain closes nothing")) })
    }

    fn mined_nonce(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async { Ok(0) })
    }

    fn replacement(&self) -> Replacement {
        QUIET_REPLACEMENT
    }

    fn transaction(&self, _: [u8; 32]) -> BoxFuture<'_, MarketResult<crate::maker::TxStatus>> {
        Box::pin(async { Ok(crate::maker::TxStatus::Unknown) })
    }

    fn channel_events(
        &self,
        _: MarketId,
        _: u64,
        _: u64,
    ) -> BoxFuture<'_, MarketResult<Vec<ChainChannelEvent>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The market's actors: [`OTHER_KEY`] (the actor of the fixture's channels) provides and
    /// consumes, [`SELLER_KEY`] provides, [`BUYER_KEY`] consumes; nobody else is an actor.
    fn market_actor(
        &self,
        market_oid: MarketId,
        member: Address,
    ) -> BoxFuture<'_, MarketResult<Option<ActorType>>> {
        let actor = [
            (OTHER_KEY, ActorType::ProviderConsumer),
            (SELLER_KEY, ActorType::Provider),
            (BUYER_KEY, ActorType::Consumer),
        ]
        .into_iter()
        .find(|(k, _)| market_oid == MARKET && key(k).address() == member)
        .map(|(_, t)| t);
        Box::pin(async move { Ok(actor) })
    }
}

/// Every event published, in order.
#[derive(Default)]
pub struct RecordedEvents(pub Mutex<Vec<(String, Vec<Value>)>>);

impl RecordedEvents {
    /// The topics published so far.
    pub fn topics(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

impl Publisher for RecordedEvents {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        args: Vec<Value>,
        _kwargs: Dict,
    ) -> BoxFuture<'a, MarketResult<()>> {
        self.0.lock().unwrap().push((topic.to_string(), args));
        Box::pin(async { Ok(()) })
    }
}

/// A maker over a memory store with a buyer's payment channel, a seller's paying channel and
/// an offer of [`KEY_ID`] at `price`.
pub struct Fixture {
    pub maker: MarketMaker,
    pub store: Arc<dyn MakerStore>,
    pub seller: Arc<ScriptedSeller>,
    pub events: Arc<RecordedEvents>,
    pub price: U256,
}

pub fn chain_channel(
    oid: ChannelId,
    ty: ChannelType,
    delegate: Address,
    amount: U256,
) -> ChainChannel {
    ChainChannel {
        channel_oid: oid,
        channel_type: ty,
        market_oid: MARKET,
        open_at: 100,
        actor: key(OTHER_KEY).address(),
        delegate,
        marketmaker: key(MAKER_KEY).address(),
        recipient: delegate,
        amount,
        timeout: 0,
    }
}

impl Fixture {
    /// Payment channel of `payment` tokens, paying channel of `paying`, offer at `price`.
    pub async fn new(payment: u64, paying: u64, price: u64) -> Self {
        Self::with_chain(payment, paying, price, None, config()).await
    }

    /// [`Self::new`] with a maker on a chain without any logs.
    pub async fn on_quiet_chain(payment: u64, paying: u64, price: u64) -> Self {
        Self::with_chain(payment, paying, price, Some(Arc::new(QuietChain)), config()).await
    }

    /// [`Self::new`] with a maker checking its callers ([`CallerPolicy::Authenticated`]).
    pub async fn checked(payment: u64, paying: u64, price: u64) -> Self {
        let cfg = MakerConfig {
            callers: CallerPolicy::Authenticated,
            ..config()
        };
        Self::with_chain(payment, paying, price, None, cfg).await
    }

    async fn with_chain(
        payment: u64,
        paying: u64,
        price: u64,
        chain: Option<Arc<dyn MakerChain>>,
        cfg: MakerConfig,
    ) -> Self {
        let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
        let seller = Arc::new(ScriptedSeller::new(U256::from(paying)));
        let events = Arc::new(RecordedEvents::default());
        let maker = MarketMaker::new(cfg, store.clone(), seller.clone(), events.clone(), chain);
        let buyer = key(BUYER_KEY).address();
        let seller_adr = key(SELLER_KEY).address();
        for c in [
            chain_channel(PAYMENT, ChannelType::Payment, buyer, U256::from(payment)),
            chain_channel(PAYING, ChannelType::Paying, seller_adr, U256::from(paying)),
        ] {
            assert!(maker.mirror_channel(&c).await.unwrap());
        }
        let offer = Offer {
            offer_id: OFFER_ID,
            timestamp: now_ns(),
            seller: seller_adr,
            seller_session_id: 1,
            seller_authid: SELLER_AUTHID.into(),
            key_id: KEY_ID,
            api_id: ApiId([0x62; 16]),
            uri: "io.crossbar.example".into(),
            valid_from: now_ns(),
            signature: Signature([0; 65]),
            price: U256::from(price),
            categories: None,
            expires: None,
            copies: None,
            remaining: None,
        };
        store.insert_offer(&offer).unwrap();
        Self {
            maker,
            store,
            seller,
            events,
            price: U256::from(price),
        }
    }

    /// Another handle on the maker, as the runtime holds it.
    pub fn shared_maker(&self) -> Arc<MarketMaker> {
        Arc::new(self.maker.handle())
    }

    /// The buyer's request continuing the stored payment channel at the offer's price, signed
    /// by `signer`.
    pub fn request_signed_by(&self, signer: &str) -> BuyKeyRequest {
        let ch = self.store.channel(&PAYMENT).unwrap().unwrap();
        let (seq, balance) = (ch.seq + 1, ch.remaining - self.price);
        BuyKeyRequest {
            delegate: key(BUYER_KEY).address(),
            buyer_pubkey: [0x1c; 32],
            key_id: KEY_ID,
            channel_oid: PAYMENT,
            channel_seq: seq,
            amount: self.price,
            balance,
            signature: domain()
                .sign(&key(signer), &sig::off_chain(MARKET, PAYMENT, seq, balance))
                .unwrap(),
        }
    }

    /// [`Self::request_signed_by`] the buyer.
    pub fn request(&self) -> BuyKeyRequest {
        self.request_signed_by(BUYER_KEY)
    }

    /// Re-signs `req` after a field was changed.
    pub fn resign(req: &mut BuyKeyRequest) {
        let state = sig::off_chain(MARKET, req.channel_oid, req.channel_seq, req.balance);
        req.signature = domain().sign(&key(BUYER_KEY), &state).unwrap();
    }

    /// The stored (seq, remaining, inflight) of a channel.
    pub fn view(&self, oid: &ChannelId) -> (u64, U256, U256) {
        let c = self.store.channel(oid).unwrap().unwrap();
        (c.seq, c.remaining, c.inflight)
    }
}

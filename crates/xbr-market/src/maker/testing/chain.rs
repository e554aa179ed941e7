//! A fake chain for the maker's unit tests: a head, the channel logs at their blocks (recording
//! every `eth_getLogs` range asked for), and `closeChannel` transactions signed with the maker's
//! nonces, replaced with higher fees (a replacement evicts the version it replaces from the
//! pool), and once broadcast mined at once (a `Closing`/`Closed` log in a new block), held
//! pending, reverted, lost, or overtaken by another transaction with the same nonce; the whole
//! node can be down, or only its lookups by hash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{
    MAKER_KEY, QUIET_REPLACEMENT, RecordedEvents, ScriptedSeller, chain_channel, config, key,
};
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::{
    ChainChannel, ChainChannelEvent, ChainClose, CloseBroadcast, CloseSigning, MakerChain,
    MarketMaker, Replacement, TxStatus,
};
use crate::peer::BoxFuture;
use crate::store::MakerStore;
use crate::types::{Address, ChannelId, ChannelType, CloseTx, MarketId, U256};

/// The fees of a first signature, and the cap replacements stop at (wei).
const FIRST_FEES: (u128, u128) = (100, 10);
const FEE_CAP: u128 = 200;
use crate::wire::OpenChannelRequest;

/// A chain at block `head` with the channel logs `logs` (each at its block).
#[derive(Default)]
pub struct FakeChain {
    head: AtomicU64,
    logs: Mutex<Vec<(u64, ChainChannelEvent)>>,
    ranges: Mutex<Vec<(u64, u64)>>,
    /// Every call fails as if the node were unreachable.
    pub down: AtomicBool,
    /// Lookups of a transaction by hash fail (the rest works).
    pub lookups_fail: AtomicBool,
    /// Submitted closes stay pending until [`FakeChain::mine_pending`].
    pub hold: AtomicBool,
    /// Submissions revert with this reason.
    pub reject: Mutex<Option<String>>,
    /// Every close transaction the chain accepted (each version once), in order.
    pub sent: Mutex<Vec<ChainClose>>,
    /// The hashes of [`FakeChain::sent`], in the same order.
    pub sent_hashes: Mutex<Vec<[u8; 32]>>,
    /// When closes are replaced (default: [`QUIET_REPLACEMENT`]).
    pub replacement: Mutex<Option<Replacement>>,
    /// Every version signed, by hash: the close and its nonce.
    signed: Mutex<HashMap<[u8; 32], (ChainClose, u64)>>,
    /// The maker's next nonce as counted by the signer.
    next_nonce: AtomicU64,
    /// The maker's transactions mined.
    mined_nonce: AtomicU64,
    txs: Mutex<HashMap<[u8; 32], TxStatus>>,
    pending: Mutex<Vec<[u8; 32]>>,
}

fn down<T>() -> MarketResult<T> {
    Err(MarketError::new(uri::CHAIN_ERROR, "cannot reach Ethereum"))
}

impl FakeChain {
    /// A chain at block `head`.
    pub fn at(head: u64) -> Arc<Self> {
        let chain = Arc::new(Self::default());
        chain.head.store(head, Ordering::SeqCst);
        chain
    }

    /// Mines up to `head`.
    pub fn mine_to(&self, head: u64) {
        self.head.store(head, Ordering::SeqCst);
    }

    /// The head.
    pub fn head(&self) -> u64 {
        self.head.load(Ordering::SeqCst)
    }

    /// An `Opened` log of channel `[n; 16]` at `block`, brokered by the maker.
    pub fn open(&self, n: u8, block: u64) {
        let mut c = chain_channel(
            ChannelId([n; 16]),
            ChannelType::Payment,
            key_address(),
            U256::from(10 * u64::from(n)),
        );
        c.open_at = block;
        self.log(block, ChainChannelEvent::Opened(c));
    }

    /// A log at `block`.
    pub fn log(&self, block: u64, event: ChainChannelEvent) {
        self.logs.lock().unwrap().push((block, event));
    }

    /// The ranges asked for since the last call.
    pub fn take_ranges(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.ranges.lock().unwrap())
    }

    /// Sets a switch.
    pub fn set(flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::SeqCst);
    }

    /// Mines every pending close in a new block each.
    pub fn mine_pending(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap());
        for hash in pending {
            if self.txs.lock().unwrap().get(&hash) == Some(&TxStatus::Pending) {
                self.mine_hash(hash);
            }
        }
    }

    /// Mines the version `hash` (as another node that still had it would), in a new block: the
    /// other versions with its nonce are gone.
    pub fn mine_hash(&self, hash: [u8; 32]) {
        let (close, nonce) = self.signed.lock().unwrap()[&hash].clone();
        let block = self.head.fetch_add(1, Ordering::SeqCst) + 1;
        let event = if close.is_final {
            ChainChannelEvent::Closed(close.channel_oid)
        } else {
            ChainChannelEvent::Closing(close.channel_oid)
        };
        self.log(block, event);
        self.nonce_used(nonce);
        let status = TxStatus::Mined {
            block,
            success: true,
        };
        self.txs.lock().unwrap().insert(hash, status);
    }

    /// Another transaction of the maker's key with `nonce` is mined: ours with it are gone.
    pub fn take_nonce(&self, nonce: u64) {
        self.head.fetch_add(1, Ordering::SeqCst);
        self.nonce_used(nonce);
    }

    /// The node forgets the transaction `hash` (dropped from its pool).
    pub fn forget(&self, hash: [u8; 32]) {
        self.txs.lock().unwrap().remove(&hash);
        self.pending.lock().unwrap().retain(|h| *h != hash);
    }

    /// How many close versions were signed.
    pub fn signatures(&self) -> usize {
        self.signed.lock().unwrap().len()
    }

    /// `nonce` is mined: every version with it is dropped from the pool.
    fn nonce_used(&self, nonce: u64) {
        self.mined_nonce.fetch_max(nonce + 1, Ordering::SeqCst);
        self.drop_nonce(nonce);
    }

    /// Drops the pooled versions with `nonce` (a replacement or a mined transaction took it).
    fn drop_nonce(&self, nonce: u64) {
        let same: Vec<[u8; 32]> = {
            let signed = self.signed.lock().unwrap();
            let txs = self.txs.lock().unwrap();
            txs.iter()
                .filter(|(h, s)| **s == TxStatus::Pending && signed[*h].1 == nonce)
                .map(|(h, _)| *h)
                .collect()
        };
        for hash in same {
            self.forget(hash);
        }
    }

    /// Signs a version of `close` with `nonce` and `fees`.
    fn sign(&self, close: ChainClose, nonce: u64, fees: (u128, u128)) -> CloseTx {
        let mut signed = self.signed.lock().unwrap();
        let hash = [u8::try_from(signed.len() + 1).unwrap(); 32];
        signed.insert(hash, (close, nonce));
        CloseTx {
            hash,
            nonce,
            max_fee_per_gas: fees.0,
            max_priority_fee_per_gas: fees.1,
            raw: hash.to_vec(),
        }
    }

    /// Whether the channel's close is on chain already (the contract refuses another).
    fn closed_on_chain(&self, oid: ChannelId) -> bool {
        self.logs.lock().unwrap().iter().any(|(_, e)| {
            matches!(e, ChainChannelEvent::Closed(c) | ChainChannelEvent::Closing(c) if *c == oid)
        })
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }
}

/// The maker's address.
pub fn key_address() -> Address {
    key(MAKER_KEY).address()
}

fn unsupported<T>() -> BoxFuture<'static, MarketResult<T>> {
    Box::pin(async { Err(MarketError::new(uri::CHAIN_ERROR, "not in this fake")) })
}

impl MakerChain for FakeChain {
    fn block_number(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            Ok(self.head())
        })
    }

    fn channel(&self, _: ChannelId) -> BoxFuture<'_, MarketResult<Option<ChainChannel>>> {
        unsupported()
    }

    fn open_channel(
        &self,
        _: OpenChannelRequest,
    ) -> BoxFuture<'_, MarketResult<([u8; 32], ChainChannel)>> {
        unsupported()
    }

    fn sign_close(&self, close: ChainClose) -> BoxFuture<'_, MarketResult<CloseSigning>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            if let Some(reason) = self.reject.lock().unwrap().clone() {
                return Ok(CloseSigning::Rejected(reason));
            }
            if self.closed_on_chain(close.channel_oid) {
                return Ok(CloseSigning::Rejected("CHANNEL_NOT_OPEN".into()));
            }
            let mined = self.mined_nonce.load(Ordering::SeqCst);
            let nonce = self.next_nonce.load(Ordering::SeqCst).max(mined);
            self.next_nonce.store(nonce + 1, Ordering::SeqCst);
            Ok(CloseSigning::Signed(self.sign(close, nonce, FIRST_FEES)))
        })
    }

    fn sign_close_replacement(
        &self,
        previous: CloseTx,
    ) -> BoxFuture<'_, MarketResult<Option<CloseTx>>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            let bump = |fee: u128| fee * 6 / 5;
            let fees = (
                bump(previous.max_fee_per_gas),
                bump(previous.max_priority_fee_per_gas),
            );
            if fees.0 > FEE_CAP {
                return Ok(None);
            }
            let close = self.signed.lock().unwrap()[&previous.hash].0.clone();
            Ok(Some(self.sign(close, previous.nonce, fees)))
        })
    }

    fn broadcast_close(&self, tx: CloseTx) -> BoxFuture<'_, MarketResult<CloseBroadcast>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            if self.txs.lock().unwrap().contains_key(&tx.hash) {
                return Ok(CloseBroadcast::Accepted);
            }
            if tx.nonce < self.mined_nonce.load(Ordering::SeqCst) {
                return Ok(CloseBroadcast::Refused("nonce too low".into()));
            }
            let close = self.signed.lock().unwrap()[&tx.hash].0.clone();
            self.sent.lock().unwrap().push(close);
            self.sent_hashes.lock().unwrap().push(tx.hash);
            // A replacement evicts the version it replaces.
            self.drop_nonce(tx.nonce);
            self.txs.lock().unwrap().insert(tx.hash, TxStatus::Pending);
            self.pending.lock().unwrap().push(tx.hash);
            if !self.hold.load(Ordering::SeqCst) {
                self.mine_pending();
            }
            Ok(CloseBroadcast::Accepted)
        })
    }

    fn mined_nonce(&self) -> BoxFuture<'_, MarketResult<u64>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            Ok(self.mined_nonce.load(Ordering::SeqCst))
        })
    }

    fn replacement(&self) -> Replacement {
        self.replacement
            .lock()
            .unwrap()
            .unwrap_or(QUIET_REPLACEMENT)
    }

    fn transaction(&self, tx_hash: [u8; 32]) -> BoxFuture<'_, MarketResult<TxStatus>> {
        Box::pin(async move {
            if self.is_down() || self.lookups_fail.load(Ordering::SeqCst) {
                return down();
            }
            let txs = self.txs.lock().unwrap();
            Ok(txs.get(&tx_hash).copied().unwrap_or(TxStatus::Unknown))
        })
    }

    fn channel_events(
        &self,
        market_oid: MarketId,
        from_block: u64,
        to_block: u64,
    ) -> BoxFuture<'_, MarketResult<Vec<ChainChannelEvent>>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            self.ranges.lock().unwrap().push((from_block, to_block));
            let mut logs: Vec<_> = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .filter(|(block, _)| (from_block..=to_block).contains(block))
                .filter(|(_, e)| match e {
                    ChainChannelEvent::Opened(c) => c.market_oid == market_oid,
                    _ => true,
                })
                .cloned()
                .collect();
            logs.sort_by_key(|(block, _)| *block);
            Ok(logs.into_iter().map(|(_, e)| e).collect())
        })
    }

    fn market_actor(
        &self,
        _: MarketId,
        _: Address,
    ) -> BoxFuture<'_, MarketResult<Option<crate::types::ActorType>>> {
        unsupported()
    }
}

/// A maker over `store` on `chain`, with an honest scripted seller and a recording event sink.
pub fn chain_maker(chain: &Arc<FakeChain>, store: Arc<dyn MakerStore>) -> MarketMaker {
    let seller = Arc::new(ScriptedSeller::new(U256::ZERO));
    let chain: Arc<dyn MakerChain> = chain.clone();
    MarketMaker::new(
        config(),
        store,
        seller,
        Arc::new(RecordedEvents::default()),
        Some(chain),
    )
}

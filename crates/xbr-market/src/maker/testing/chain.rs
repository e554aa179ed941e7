//! A fake chain for the maker's unit tests: a head, the channel logs at their blocks (recording
//! every `eth_getLogs` range asked for), and `closeChannel` submissions that are mined at once
//! (a `Closing`/`Closed` log in a new block), held pending, reverted, or lost; the whole node
//! can be down, or only its lookups by hash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{MAKER_KEY, RecordedEvents, ScriptedSeller, chain_channel, config, key};
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::{
    ChainChannel, ChainChannelEvent, ChainClose, CloseSubmission, MakerChain, MarketMaker, TxStatus,
};
use crate::peer::BoxFuture;
use crate::store::MakerStore;
use crate::types::{Address, ChannelId, ChannelType, MarketId, U256};
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
    /// Every close the chain accepted, in order.
    pub sent: Mutex<Vec<ChainClose>>,
    txs: Mutex<HashMap<[u8; 32], TxStatus>>,
    pending: Mutex<Vec<([u8; 32], ChainClose)>>,
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
        for (hash, close) in pending {
            self.mine(hash, &close);
        }
    }

    /// The node forgets the transaction `hash` (dropped from its pool).
    pub fn forget(&self, hash: [u8; 32]) {
        self.txs.lock().unwrap().remove(&hash);
        self.pending.lock().unwrap().retain(|(h, _)| *h != hash);
    }

    fn mine(&self, hash: [u8; 32], close: &ChainClose) {
        let block = self.head.fetch_add(1, Ordering::SeqCst) + 1;
        let event = if close.is_final {
            ChainChannelEvent::Closed(close.channel_oid)
        } else {
            ChainChannelEvent::Closing(close.channel_oid)
        };
        self.log(block, event);
        let status = TxStatus::Mined {
            block,
            success: true,
        };
        self.txs.lock().unwrap().insert(hash, status);
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

    fn submit_close(&self, close: ChainClose) -> BoxFuture<'_, MarketResult<CloseSubmission>> {
        Box::pin(async move {
            if self.is_down() {
                return down();
            }
            if let Some(reason) = self.reject.lock().unwrap().clone() {
                return Ok(CloseSubmission::Rejected(reason));
            }
            if self.closed_on_chain(close.channel_oid) {
                return Ok(CloseSubmission::Rejected("CHANNEL_NOT_OPEN".into()));
            }
            let hash = {
                let mut sent = self.sent.lock().unwrap();
                sent.push(close.clone());
                [u8::try_from(sent.len()).unwrap(); 32]
            };
            if self.hold.load(Ordering::SeqCst) {
                self.txs.lock().unwrap().insert(hash, TxStatus::Pending);
                self.pending.lock().unwrap().push((hash, close));
            } else {
                self.mine(hash, &close);
            }
            Ok(CloseSubmission::Sent(hash))
        })
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

//! Shared set-up of the real-peer market tests: ganache with the XBR contracts deployed and a
//! market bootstrapped by xbr-chain, sessions on Crossbar.io, and our market maker on its own
//! session with a SQLite store.
#![allow(dead_code)]

pub mod market_auth;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::U256;
use wamp_client::{Session, TransportConfig};
use wamp_proto::Serializer;
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use xbr_chain::{
    BootstrappedMarket, ContractBytecode, Gateway, MarketDescription, SimpleBlockchain, bootstrap,
    deploy,
};
use xbr_core::eth::EthPrivateKey;
use xbr_market::adapter::session::SessionPeer;
use xbr_market::chain::XbrChain;
use xbr_market::maker::CallerPolicy;
use xbr_market::peer::{Caller, MakerClient, Publisher};
use xbr_market::sig::{self, Domain};
use xbr_market::types::{ChannelId, MarketId};
use xbr_market::wire::CloseChannelRequest;
use xbr_market::{MakerConfig, MakerStore, MarketMaker, SqliteStore};
use xbrd_testkit::{ChainKind, Crossbar, DevChain, GANACHE_KEYS, REALM_MARKET_OPEN};

/// The market the descriptions create.
pub const MARKET: MarketId = MarketId([0xa1; 16]);

/// Ganache's deterministic account `i` (0 deploys, 6 is the market maker).
pub fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(GANACHE_KEYS[i]).unwrap()
}

/// `n` XBR in base units (18 decimals).
pub fn xbr(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

/// An anonymous session on the open market realm (everything allowed: protocol logic only).
pub async fn session(router: &Crossbar, serializer: Serializer) -> Session {
    let transport = TransportConfig::new(router.ws_url.clone()).with_serializer(serializer);
    Session::connect(
        &transport,
        SessionConfig::new(REALM_MARKET_OPEN, ClientAuth::anonymous()),
    )
    .await
    .unwrap()
}

/// Typed calls to the maker over `s`.
pub fn maker_client(s: &Session) -> MakerClient {
    let peer: Arc<dyn Caller> =
        Arc::new(SessionPeer::new(s.clone(), Some(Duration::from_secs(30))));
    MakerClient::new(peer)
}

/// ganache with a fresh deployment (by account 0) and the described market bootstrapped.
pub struct ChainMarket {
    /// The chain process (stopped on drop).
    pub ganache: DevChain,
    /// The contracts.
    pub chain: SimpleBlockchain,
    /// What the bootstrap created.
    pub market: BootstrappedMarket,
}

impl ChainMarket {
    /// Starts ganache, deploys the contracts and bootstraps `description`.
    pub async fn start(description: &MarketDescription) -> Self {
        Self::start_on(ChainKind::Ganache, description).await
    }

    /// [`ChainMarket::start`] on a chain of `kind` (the field keeps its name `ganache`).
    pub async fn start_on(kind: ChainKind, description: &MarketDescription) -> Self {
        let ganache = DevChain::start(kind);
        let (gateway, _) = Gateway::connect(&ganache.url).await.unwrap();
        let code = ContractBytecode::load(&xbrd_testkit::contracts_dir()).unwrap();
        let deployment = deploy(&gateway, &key(0), key(0).address(), &code)
            .await
            .unwrap();
        let chain = SimpleBlockchain::new(gateway, deployment.contracts);
        let market = bootstrap(&chain, &key(0), description).await.unwrap();
        Self {
            ganache,
            chain,
            market,
        }
    }

    /// The EIP-712 domain of the market's signatures.
    pub fn domain(&self) -> Domain {
        Domain {
            chain_id: self.market.verifying_chain_id,
            verifying_contract: self.market.verifying_contract,
        }
    }
}

/// Our market maker (account 6) of `cm`'s market over `store`, submitting to the chain.
pub async fn chain_maker(
    cm: &ChainMarket,
    store: Arc<dyn MakerStore>,
    providers: Arc<dyn Caller>,
    events: Arc<dyn Publisher>,
) -> MarketMaker {
    chain_maker_checking(cm, store, providers, events, CallerPolicy::Unchecked).await
}

/// [`chain_maker`] treating its callers as `callers` says.
pub async fn chain_maker_checking(
    cm: &ChainMarket,
    store: Arc<dyn MakerStore>,
    providers: Arc<dyn Caller>,
    events: Arc<dyn Publisher>,
    callers: CallerPolicy,
) -> MarketMaker {
    chain_maker_on(cm, cm.chain.clone(), store, providers, events, callers).await
}

/// [`chain_maker_checking`] sending its transactions through `chain` (e.g. a gateway with its
/// own transaction policy).
pub async fn chain_maker_on(
    cm: &ChainMarket,
    chain: SimpleBlockchain,
    store: Arc<dyn MakerStore>,
    providers: Arc<dyn Caller>,
    events: Arc<dyn Publisher>,
    callers: CallerPolicy,
) -> MarketMaker {
    let cfg = MakerConfig {
        key: key(6),
        market_oid: MARKET,
        market_owner: cm.market.owner,
        domain: cm.domain(),
        chain: cm.ganache.chain_id,
        contracts: Default::default(),
        eula_url: String::new(),
        eula_hash: cm.chain.eula().await.unwrap(),
        callers,
        max_channel_amount: xbr_market::types::U256::from(
            xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT,
        ),
        realm: None,
    };
    MarketMaker::new(
        cfg,
        store,
        providers,
        events,
        Some(Arc::new(XbrChain::new(chain, key(6)))),
    )
}

/// Our market maker (account 6) on its own CBOR session, with a SQLite store at `db`, submitting
/// to the chain. Neither registered nor synced: the tests do both.
pub struct Maker {
    /// Its session.
    pub session: Session,
    /// Its store.
    pub store: Arc<dyn MakerStore>,
    /// The role.
    pub maker: Arc<MarketMaker>,
}

impl Maker {
    /// Builds the maker of `cm`'s market on an anonymous session of the open realm (it checks
    /// no callers).
    pub async fn start(router: &Crossbar, cm: &ChainMarket, db: &Path) -> Self {
        let session = session(router, Serializer::Cbor).await;
        Self::build(session, cm, db, CallerPolicy::Unchecked).await
    }

    /// Builds the maker of `cm`'s market on `session`, a maker session of the authenticated
    /// market realm: it checks its callers, as xbrd's maker does.
    pub async fn on_session(session: Session, cm: &ChainMarket, db: &Path) -> Self {
        Self::build(session, cm, db, CallerPolicy::Authenticated).await
    }

    async fn build(session: Session, cm: &ChainMarket, db: &Path, callers: CallerPolicy) -> Self {
        let peer = Arc::new(SessionPeer::new(
            session.clone(),
            Some(Duration::from_secs(30)),
        ));
        let store: Arc<dyn MakerStore> = Arc::new(SqliteStore::open(db).unwrap());
        let maker = chain_maker_checking(cm, store.clone(), peer.clone(), peer, callers).await;
        let maker = Arc::new(maker);
        Self {
            session,
            store,
            maker,
        }
    }
}

/// The buyer delegate's (account 5) final close of its untouched channel `oid` of `amount`
/// XBR, signed at the current block.
pub async fn buyer_close(cm: &ChainMarket, oid: ChannelId, amount: u64) -> CloseChannelRequest {
    let close_at = cm.chain.gateway().block_number().await.unwrap();
    let domain = cm.domain();
    let state = sig::ChannelState {
        close_at,
        market_oid: MARKET,
        channel_oid: oid,
        seq: 1,
        balance: xbr(amount),
        is_final: true,
    };
    CloseChannelRequest {
        channel_oid: oid,
        verifying_chain_id: domain.chain_id,
        current_block_number: close_at,
        verifying_contract: domain.verifying_contract,
        closing_balance: xbr(amount),
        closing_seq: 1,
        closing_is_final: true,
        delegate_signature: domain.sign(&key(5), &state).unwrap(),
    }
}

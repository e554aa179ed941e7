//! Market benchmarks over a real Crossbar.io router on loopback (WebSocket + CBOR), maker, seller
//! and buyer as separate sessions, each with a durable SQLite store (`synchronous=FULL`; set
//! `XBRD_BENCH_STORE=memory` to compare with in-memory stores):
//! * `purchase/unwrap_new_key`: the full purchase of a new key (`unwrap` of an event under a key
//!   the buyer does not hold: get_quote, buy_key → sell → receipt, unseal, decrypt). Besides
//!   criterion's estimate, p50/p99 of every measured purchase are printed.
//! * `events/seller_router_buyer`: encrypted events per second, seller `wrap` + PUBLISH → router →
//!   buyer EVENT + `unwrap` (key already held).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use wamp_client::{PublishOptions, Session, TransportConfig};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbr_core::at_rest::Kek;
use xbr_core::eth::EthPrivateKey;
use xbr_core::keyseries::RotationPolicy;
use xbr_market::adapter::event_args;
use xbr_market::adapter::session::{SessionPeer, register_maker, register_seller, subscribe_buyer};
use xbr_market::maker::ChainChannel;
use xbr_market::peer::{Caller, MakerClient, Publisher};
use xbr_market::sig::Domain;
use xbr_market::types::{ApiId, ChannelId, ChannelType, MarketId, U256};
use xbr_market::{
    ApiSpec, Buyer, BuyerConfig, MakerConfig, MarketMaker, MemoryStore, Seller, SellerConfig,
    SqliteStore,
};
use xbrd_testkit::{Crossbar, REALM_MARKET_OPEN};

const KEY4: &str = "add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";
const KEY5: &str = "395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd";
const KEY6: &str = "e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52";
const MARKET: MarketId = MarketId([0xa1; 16]);
const TOPIC: &str = "io.crossbar.bench.data";

fn key(s: &str) -> EthPrivateKey {
    EthPrivateKey::from_hex(s).unwrap()
}

async fn session(router: &Crossbar) -> Session {
    let t = TransportConfig::new(router.ws_url.clone()).with_serializer(Serializer::Cbor);
    Session::connect(
        &t,
        SessionConfig::new(REALM_MARKET_OPEN, ClientAuth::anonymous()),
    )
    .await
    .unwrap()
}

fn client(s: &Session) -> MakerClient {
    let c: Arc<dyn Caller> = Arc::new(SessionPeer::new(s.clone(), None));
    MakerClient::new(c)
}

/// The stores of one role: SQLite files in `dir` unless `XBRD_BENCH_STORE=memory`.
struct Stores {
    dir: tempfile::TempDir,
    memory: bool,
}

impl Stores {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            memory: std::env::var("XBRD_BENCH_STORE").as_deref() == Ok("memory"),
        }
    }

    fn maker(&self) -> Arc<dyn xbr_market::MakerStore> {
        if self.memory {
            Arc::new(MemoryStore::new())
        } else {
            Arc::new(SqliteStore::open(self.dir.path().join("maker.db")).unwrap())
        }
    }

    fn seller(&self) -> Arc<dyn xbr_market::SellerStore> {
        if self.memory {
            Arc::new(MemoryStore::new())
        } else {
            Arc::new(SqliteStore::open(self.dir.path().join("seller.db")).unwrap())
        }
    }

    fn buyer(&self) -> Arc<dyn xbr_market::BuyerStore> {
        if self.memory {
            Arc::new(MemoryStore::new())
        } else {
            Arc::new(SqliteStore::open(self.dir.path().join("buyer.db")).unwrap())
        }
    }
}

struct Market {
    _stores: Stores,
    _sessions: Vec<Session>,
    seller_session: Session,
    seller: Seller,
    buyer: Buyer,
    api_new_key: ApiId,
    api_stream: ApiId,
    received: Arc<AtomicU64>,
    notify: Arc<Notify>,
}

async fn market(router: &Crossbar) -> Market {
    let stores = Stores::new();
    eprintln!(
        "stores: {}",
        if stores.memory { "in memory" } else { "SQLite" }
    );
    let big = U256::from(10u64).pow(U256::from(30u64));
    let maker_session = session(router).await;
    let peer = Arc::new(SessionPeer::new(maker_session.clone(), None));
    let cfg = MakerConfig {
        key: key(KEY6),
        market_oid: MARKET,
        market_owner: key(KEY6).address(),
        domain: Domain {
            chain_id: 1337,
            verifying_contract: key(KEY6).address(),
        },
        chain: 1337,
        contracts: Default::default(),
        eula_url: String::new(),
        eula_hash: String::new(),
        callers: xbr_market::maker::CallerPolicy::Unchecked,
        max_channel_amount: xbr_market::types::U256::from(
            xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT,
        ),
        realm: None,
    };
    let maker = Arc::new(MarketMaker::new(
        cfg,
        stores.maker(),
        peer.clone(),
        peer,
        None,
    ));
    for (oid, ty, delegate) in [
        (
            ChannelId([0xb1; 16]),
            ChannelType::Payment,
            key(KEY5).address(),
        ),
        (
            ChannelId([0xc1; 16]),
            ChannelType::Paying,
            key(KEY4).address(),
        ),
    ] {
        let c = ChainChannel {
            channel_oid: oid,
            channel_type: ty,
            market_oid: MARKET,
            open_at: 1,
            actor: delegate,
            delegate,
            marketmaker: key(KEY6).address(),
            recipient: delegate,
            amount: big,
            timeout: 0,
        };
        maker.mirror_channel(&c).await.unwrap();
    }
    register_maker(&maker_session, maker).await.unwrap();

    let seller_session = session(router).await;
    let events: Arc<dyn Publisher> = Arc::new(SessionPeer::new(seller_session.clone(), None));
    let seller = Seller::new(
        SellerConfig::new(key(KEY6).address(), key(KEY4), Kek::from_bytes([1; 32])),
        stores.seller(),
        client(&seller_session),
        events,
    );
    let api_new_key = ApiId([0x01; 16]);
    let api_stream = ApiId([0x02; 16]);
    for (api, policy) in [
        (api_new_key, RotationPolicy::Count(1)),
        (api_stream, RotationPolicy::Count(u64::MAX)),
    ] {
        seller
            .add(ApiSpec {
                api_id: api,
                prefix: "io.crossbar.bench".into(),
                price: U256::from(1u64),
                policy,
                categories: None,
            })
            .unwrap();
    }
    register_seller(&seller_session, &seller).await.unwrap();
    seller.start().await.unwrap();

    let buyer_session = session(router).await;
    let buyer = Buyer::new(
        BuyerConfig {
            market_maker: key(KEY6).address(),
            key: key(KEY5),
            max_price: big,
            kek: Kek::from_bytes([2; 32]),
            auto_close: false,
            allow: Default::default(),
        },
        stores.buyer(),
        client(&buyer_session),
    );
    buyer.start().await.unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let notify = Arc::new(Notify::new());
    let (r, n) = (received.clone(), notify.clone());
    subscribe_buyer(
        &buyer_session,
        TOPIC,
        buyer.clone(),
        Arc::new(move |res| {
            res.expect("event decrypts");
            r.fetch_add(1, Ordering::SeqCst);
            n.notify_one();
        }),
    )
    .await
    .unwrap();
    Market {
        _stores: stores,
        _sessions: vec![maker_session, buyer_session],
        seller_session,
        seller,
        buyer,
        api_new_key,
        api_stream,
        received,
        notify,
    }
}

fn payload(i: u64) -> Value {
    let mut d = Dict::new();
    d.insert("counter".into(), Value::from(i));
    d.insert("data".into(), Value::Bytes(vec![0x5a; 1024]));
    Value::Dict(d)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let router = Crossbar::start();
    let m = rt.block_on(market(&router));
    let mut samples: Vec<Duration> = Vec::new();

    let mut g = c.benchmark_group("purchase");
    g.sample_size(30).measurement_time(Duration::from_secs(10));
    g.bench_function("unwrap_new_key", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    // Every wrap mints (and offers) a new key; only the purchase is timed.
                    let (k, enc, ct) = m
                        .seller
                        .wrap(&m.api_new_key, TOPIC, &payload(i))
                        .await
                        .unwrap();
                    let t = Instant::now();
                    m.buyer.unwrap(&k, enc, &ct).await.unwrap();
                    let d = t.elapsed();
                    samples.push(d);
                    total += d;
                }
                total
            })
        })
    });
    g.finish();
    samples.sort();
    eprintln!(
        "purchase latency over {} purchases: p50 {:?}, p99 {:?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99)
    );

    const BATCH: u64 = 2000;
    // Warm up: the buyer buys the stream key once.
    rt.block_on(async {
        let (k, enc, ct) = m
            .seller
            .wrap(&m.api_stream, TOPIC, &payload(0))
            .await
            .unwrap();
        m.buyer.unwrap(&k, enc, &ct).await.unwrap();
    });
    let mut g = c.benchmark_group("events");
    g.sample_size(10).throughput(Throughput::Elements(BATCH));
    g.bench_function("seller_router_buyer", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let target = m.received.load(Ordering::SeqCst) + BATCH;
                    for i in 0..BATCH {
                        let (k, enc, ct) = m
                            .seller
                            .wrap(&m.api_stream, TOPIC, &payload(i))
                            .await
                            .unwrap();
                        let opts = if i + 1 == BATCH {
                            PublishOptions::acknowledged()
                        } else {
                            PublishOptions::default()
                        };
                        m.seller_session
                            .publish(TOPIC, event_args(&k, enc, ct), Dict::new(), opts)
                            .await
                            .unwrap();
                    }
                    while m.received.load(Ordering::SeqCst) < target {
                        let _ =
                            tokio::time::timeout(Duration::from_millis(100), m.notify.notified())
                                .await;
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

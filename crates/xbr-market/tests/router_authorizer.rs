//! The `user` role authorized by the maker's dynamic authorizer on Crossbar.io: a config built
//! here from the default one, with the market realm's roles `xbrmm` (static, everything allowed,
//! callers disclosed) and `user` (the maker's `xbr.marketmaker.authorizer.authorize`), and static
//! ticket principals `member-<hex>` for two members, so the test does not depend on the
//! authenticator. The maker checks its callers, so what it accepts shows that it sees them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use wamp_client::{
    CallOptions, InvocationResult, PublishOptions, RegisterOptions, Session, TransportConfig,
};
use wamp_proto::auth::ClientAuth;
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer, Value};
use xbr_core::eth::EthPrivateKey;
use xbr_market::adapter::session::{SessionPeer, register_maker};
use xbr_market::maker::caller::member_authid;
use xbr_market::maker::{AUTHORIZER_URI, CallerPolicy, ChainChannel, DEFAULT_MAX_CHANNEL_AMOUNT};
use xbr_market::sig::Domain;
use xbr_market::types::{Address, ApiId, ChannelId, ChannelType, KeyId, MarketId, Signature, U256};
use xbr_market::wire::PlaceOfferRequest;
use xbr_market::{MakerConfig, MakerStore, MarketMaker, MemoryStore};
use xbrd_testkit::{Crossbar, GANACHE_KEYS, REALM_MARKET, default_crossbar_config};

const MARKET: MarketId = MarketId([0xa1; 16]);
const MAKER_TICKET: &str = "maker-ticket";
const MEMBER_TICKET: &str = "member-ticket";

fn key(i: usize) -> EthPrivateKey {
    EthPrivateKey::from_hex(GANACHE_KEYS[i]).unwrap()
}

/// Member A (its delegate: key 4) and member B (its delegate: key 5).
fn member_a() -> Address {
    key(2).address()
}
fn member_b() -> Address {
    key(3).address()
}

fn everything_allowed() -> Json {
    json!([{
        "uri": "", "match": "prefix",
        "allow": { "call": true, "register": true, "publish": true, "subscribe": true },
        "disclose": { "caller": true, "publisher": true },
        "cache": true
    }])
}

/// The default config with the market realm's roles and the ticket principals replaced.
fn config() -> Json {
    let mut config = default_crossbar_config();
    let worker = &mut config["workers"][0];
    for realm in worker["realms"].as_array_mut().unwrap() {
        if realm["name"] == REALM_MARKET {
            realm["roles"] = json!([
                { "name": "xbrmm", "permissions": everything_allowed() },
                { "name": "user", "authorizer": AUTHORIZER_URI }
            ]);
        }
    }
    let mut principals = json!({ "maker": { "ticket": MAKER_TICKET, "role": "xbrmm" } });
    for m in [member_a(), member_b()] {
        principals[member_authid(&m)] = json!({ "ticket": MEMBER_TICKET, "role": "user" });
    }
    let ws = &mut worker["transports"][0]["paths"]["ws"]["auth"]["ticket"];
    ws["principals"] = principals;
    config
}

async fn join(router: &Crossbar, authid: &str, ticket: &str) -> Session {
    let transport = TransportConfig::new(router.ws_url.clone()).with_serializer(Serializer::Cbor);
    Session::connect(
        &transport,
        SessionConfig::new(REALM_MARKET, ClientAuth::ticket(authid, ticket)),
    )
    .await
    .unwrap()
}

/// A paying channel binding `delegate` to `member`.
fn paying(n: u8, member: Address, delegate: Address) -> ChainChannel {
    ChainChannel {
        channel_oid: ChannelId([n; 16]),
        channel_type: ChannelType::Paying,
        market_oid: MARKET,
        open_at: 1,
        actor: member,
        delegate,
        marketmaker: key(6).address(),
        recipient: member,
        amount: U256::from(100),
        timeout: 0,
    }
}

/// The maker (checking its callers) on its own `xbrmm` session, with A's and B's delegates
/// known from their paying channels.
async fn start_maker(router: &Crossbar) -> (Session, Arc<MarketMaker>) {
    let session = join(router, "maker", MAKER_TICKET).await;
    let peer = Arc::new(SessionPeer::new(
        session.clone(),
        Some(Duration::from_secs(30)),
    ));
    let cfg = MakerConfig {
        key: key(6),
        market_oid: MARKET,
        market_owner: key(1).address(),
        domain: Domain {
            chain_id: 1337,
            verifying_contract: Address::repeat_byte(0xc8),
        },
        chain: 1337,
        contracts: Default::default(),
        eula_url: String::new(),
        eula_hash: String::new(),
        callers: CallerPolicy::Authenticated,
        max_channel_amount: U256::from(DEFAULT_MAX_CHANNEL_AMOUNT),
        realm: None,
    };
    let store: Arc<dyn MakerStore> = Arc::new(MemoryStore::new());
    let maker = Arc::new(MarketMaker::new(cfg, store, peer.clone(), peer, None));
    maker
        .mirror_channel(&paying(1, member_a(), key(4).address()))
        .await
        .unwrap();
    maker
        .mirror_channel(&paying(2, member_b(), key(5).address()))
        .await
        .unwrap();
    register_maker(&session, Arc::clone(&maker)).await.unwrap();
    (session, maker)
}

fn provider_uri(delegate: &EthPrivateKey, name: &str) -> String {
    format!("xbr.provider.{}.{name}", delegate.provider_id())
}

fn not_authorized<T: std::fmt::Debug>(r: Result<T, wamp_client::Error>, what: &str) {
    let e = r.expect_err(what);
    assert_eq!(
        e.wamp_uri(),
        Some("wamp.error.not_authorized"),
        "{what}: {e}"
    );
}

async fn register(s: &Session, uri: &str) -> Result<wamp_client::Registration, wamp_client::Error> {
    s.register(uri, RegisterOptions::default(), |_inv| async {
        Ok(InvocationResult::new(Vec::new(), Dict::new()))
    })
    .await
}

fn offer(n: u8, delegate: &EthPrivateKey) -> PlaceOfferRequest {
    PlaceOfferRequest {
        key_id: KeyId([n; 16]),
        api_id: ApiId([0x62; 16]),
        uri: "io.crossbar.example".into(),
        valid_from: 1,
        delegate: delegate.address(),
        signature: Signature([0; 65]),
        price: Some(U256::from(5)),
        categories: None,
        expires: None,
        copies: None,
        provider_id: Some(delegate.provider_id()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_asks_the_maker_and_the_maker_sees_its_callers() {
    let router = Crossbar::start_with_config(config());
    let (_maker_session, maker) = start_maker(&router).await;
    let a = join(&router, &member_authid(&member_a()), MEMBER_TICKET).await;
    let info = a.info().unwrap();
    assert_eq!(
        info.details.get("authrole").and_then(|v| v.as_str()),
        Some("user")
    );

    // Registrations: never the maker's procedures, never another member's provider procedures.
    // Crossbar answers a refused REGISTER of a URI someone holds with
    // `procedure_already_exists` (it looks at the holder before sending its refusal).
    let e = register(&a, "xbr.marketmaker.buy_key").await.unwrap_err();
    let refusals = [
        "wamp.error.not_authorized",
        "wamp.error.procedure_already_exists",
    ];
    assert!(refusals.contains(&e.wamp_uri().unwrap_or("")), "{e}");
    not_authorized(
        register(&a, "xbr.marketmaker.sell_key").await,
        "register an xbr.marketmaker URI nobody holds",
    );
    not_authorized(
        register(&a, &provider_uri(&key(5), "sell")).await,
        "register B's sell",
    );
    register(&a, &provider_uri(&key(4), "sell")).await.unwrap();
    register(&a, &provider_uri(&key(4), "close_channel"))
        .await
        .unwrap();
    register(&a, "com.example.add2").await.unwrap();

    // Publications: not as the maker; under its own provider id and on data topics.
    let publish = |topic: String| {
        let a = a.clone();
        async move {
            a.publish(
                &topic,
                Vec::new(),
                Dict::new(),
                PublishOptions::acknowledged(),
            )
            .await
        }
    };
    not_authorized(
        publish("xbr.marketmaker.on_offer_placed".into()).await,
        "publish on_offer_placed",
    );
    not_authorized(
        publish(provider_uri(&key(5), "on_key_rotated")).await,
        "publish B's rotation",
    );
    publish(provider_uri(&key(4), "on_key_rotated"))
        .await
        .unwrap();
    publish("io.crossbar.example.data".into()).await.unwrap();

    // Calls: the maker's procedures, never the authorizer; the maker sees who calls.
    not_authorized(
        a.call(
            AUTHORIZER_URI,
            Vec::new(),
            Dict::new(),
            CallOptions::default(),
        )
        .await,
        "call the authorizer",
    );
    let place = |req: PlaceOfferRequest| {
        let a = a.clone();
        async move {
            let (args, kwargs) = req.to_call();
            a.call(
                "xbr.marketmaker.place_offer",
                args,
                kwargs,
                CallOptions::default(),
            )
            .await
        }
    };
    let e = place(offer(2, &key(5))).await.unwrap_err();
    assert_eq!(e.wamp_uri(), Some("wamp.error.not_authorized"), "{e}");
    assert!(e.to_string().contains(&member_a().to_string()), "{e}");
    place(offer(1, &key(4))).await.unwrap();
    let stored = maker
        .store()
        .offer_by_key(&KeyId([1; 16]))
        .unwrap()
        .unwrap();
    assert_eq!(Some(stored.seller_session_id), a.session_id());
    assert!(
        maker
            .store()
            .offer_by_key(&KeyId([2; 16]))
            .unwrap()
            .is_none()
    );

    // Member B may register its own sell (A's attempt did not poison the router's cache).
    let b = join(&router, &member_authid(&member_b()), MEMBER_TICKET).await;
    // B claims to call for A (a CALL's `forward_for`, which Crossbar passes on and discloses as
    // the caller): the maker goes by the session that sent the call, B.
    let claim = Value::List(vec![Value::Dict(
        [
            ("session", Value::from(a.session_id().unwrap())),
            ("authid", Value::from(member_authid(&member_a()))),
            ("authrole", Value::from("user")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    )]);
    let mut spoofed = CallOptions::default();
    spoofed.extra.insert("forward_for".into(), claim);
    let (args, kwargs) = offer(3, &key(4)).to_call();
    let e = b
        .call("xbr.marketmaker.place_offer", args, kwargs, spoofed)
        .await
        .unwrap_err();
    assert_eq!(e.wamp_uri(), Some("wamp.error.not_authorized"), "{e}");
    assert!(e.to_string().contains(&member_b().to_string()), "{e}");
    assert!(
        maker
            .store()
            .offer_by_key(&KeyId([3; 16]))
            .unwrap()
            .is_none()
    );
    register(&b, &provider_uri(&key(5), "sell")).await.unwrap();
    not_authorized(
        register(&b, &provider_uri(&key(4), "on_key_rotated")).await,
        "B registers under A's provider id",
    );
}

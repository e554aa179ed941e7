//! A Crossbar node config whose market realm authenticates as the maker's authenticator says
//! (spec §8.5): the maker joins over the RawSocket Unix socket (anonymous there means role
//! `xbrmm`), delegates over the WebSocket path `/ws-market` with WAMP-cryptosign, answered by
//! `xbr.marketmaker.authenticator.authenticate` (role `user` or `anonymous`).

use alloy_primitives::hex;
use serde_json::{Value as Json, json};
use wamp_client::transport::{self, Connection, Incoming};
use wamp_client::{Error, Session, TransportConfig};
use wamp_proto::auth::{ClientAuth, CryptosignKey};
use wamp_proto::session::SessionConfig;
use wamp_proto::{Dict, Serializer};
use xbr_market::maker::AUTHORIZER_URI;
use xbrd_testkit::{Crossbar, REALM_MARKET, default_crossbar_config};

/// The WebSocket path of the delegates.
pub const MARKET_PATH: &str = "ws-market";

/// A permission on every URI (prefix ""), disclosing caller and publisher.
fn allow_all() -> Json {
    json!({
        "uri": "", "match": "prefix",
        "allow": { "call": true, "register": true, "publish": true, "subscribe": true },
        "disclose": { "caller": true, "publisher": true },
        "cache": true
    })
}

/// The market realm's roles: `xbrmm` may do everything, `user` what the maker's authorizer
/// allows, `anonymous` only read the maker's status.
fn market_roles() -> Json {
    let read = |uri: &str, call: bool| {
        json!({
            "uri": uri, "match": "exact",
            "allow": { "call": call, "register": false, "publish": false, "subscribe": !call },
            "disclose": { "caller": false, "publisher": false },
            "cache": true
        })
    };
    json!([
        { "name": "xbrmm", "permissions": [allow_all()] },
        { "name": "user", "authorizer": AUTHORIZER_URI },
        { "name": "anonymous", "permissions": [
            read("xbr.marketmaker.get_config", true),
            read("xbr.marketmaker.get_status", true),
            read("xbr.marketmaker.status", true),
            read("xbr.marketmaker.on_status", false)
        ]}
    ])
}

/// The testkit's node config with the market realm as described above.
pub fn market_auth_config() -> Json {
    let mut config = default_crossbar_config();
    let worker = &mut config["workers"][0];
    for realm in worker["realms"].as_array_mut().unwrap() {
        if realm["name"] == REALM_MARKET {
            realm["roles"] = market_roles();
        }
    }
    for transport in worker["transports"].as_array_mut().unwrap() {
        if transport["endpoint"]["type"] == "unix" {
            transport["auth"] = json!({ "anonymous": { "type": "static", "role": "xbrmm" } });
        }
        if transport["type"] == "web" {
            let mut path = transport["paths"]["ws"].clone();
            path["auth"] = json!({
                "cryptosign": {
                    "type": "dynamic",
                    "authenticator": "xbr.marketmaker.authenticator.authenticate",
                    "authenticator-realm": REALM_MARKET
                }
            });
            transport["paths"][MARKET_PATH] = path;
        }
    }
    config
}

/// The delegates' URL.
pub fn market_url(router: &Crossbar) -> String {
    format!("ws://127.0.0.1:{}/{MARKET_PATH}", router.ws_port)
}

/// A session of the maker: anonymous over the Unix socket, so role `xbrmm`.
pub async fn maker_session(router: &Crossbar) -> Session {
    let url = format!("rs+unix://{}", router.unix_path.display());
    let transport = TransportConfig::new(url).with_serializer(Serializer::Cbor);
    Session::connect(
        &transport,
        SessionConfig::new(REALM_MARKET, ClientAuth::anonymous()),
    )
    .await
    .unwrap()
}

/// Joins the market as a delegate with cryptosign `key` and extra HELLO `authextra` (the
/// first-login fields, or nothing for a known key).
pub async fn delegate_session(
    router: &Crossbar,
    serializer: Serializer,
    key: &CryptosignKey,
    authextra: Dict,
) -> Result<Session, Error> {
    let mut auth = ClientAuth::cryptosign("", key.clone()).with_authextra(authextra);
    auth.authid = None;
    let transport = TransportConfig::new(market_url(router)).with_serializer(serializer);
    Session::connect(&transport, SessionConfig::new(REALM_MARKET, auth)).await
}

/// The next JSON WAMP message the router sends.
async fn next_message(conn: &mut Connection) -> Json {
    loop {
        match conn.recv().await.unwrap() {
            Incoming::Message(m) => return serde_json::from_slice(&m).unwrap(),
            Incoming::Closed => panic!("the router closed the connection"),
            Incoming::Ping(_) | Incoming::Pong(_) => {}
        }
    }
}

/// A JSON WAMP message as text bytes.
fn json_message(message: &Json) -> Vec<u8> {
    serde_json::to_vec(message).unwrap()
}

/// A session that announces `claimed` as its cryptosign key in HELLO (with the first-login
/// `authextra`, whose byte fields go as hex) but answers the challenge with `signer`: the
/// router's ABORT reason. Our client always announces its own key, so this speaks raw JSON.
pub async fn claim_key_signing_with(
    router: &Crossbar,
    claimed: [u8; 32],
    signer: &CryptosignKey,
    authextra: &Dict,
) -> String {
    let mut extra = serde_json::Map::new();
    for (k, v) in authextra {
        let v = match (v.as_bytes(), v.as_str()) {
            (Some(b), _) => json!(hex::encode(b)),
            (None, Some(s)) => json!(s),
            _ => panic!("authextra {k}: bytes or text expected"),
        };
        extra.insert(k.clone(), v);
    }
    extra.insert("pubkey".into(), json!(hex::encode(claimed)));
    let config = TransportConfig::new(market_url(router)).with_serializer(Serializer::Json);
    let mut conn = transport::connect(&config).await.unwrap();
    let hello = json!([1, REALM_MARKET, {
        "roles": { "caller": {}, "subscriber": {} },
        "authmethods": ["cryptosign"],
        "authextra": extra,
    }]);
    conn.send(json_message(&hello)).await.unwrap();
    let challenge = next_message(&mut conn).await;
    assert_eq!(challenge[0], 4, "expected a CHALLENGE, got {challenge}");
    let bytes = hex::decode(challenge[2]["challenge"].as_str().unwrap()).unwrap();
    let signature = signer.sign_challenge(&bytes.try_into().unwrap(), None);
    conn.send(json_message(&json!([5, signature, {}])))
        .await
        .unwrap();
    let abort = next_message(&mut conn).await;
    assert_eq!(abort[0], 3, "expected an ABORT, got {abort}");
    abort[2].as_str().unwrap().to_owned()
}

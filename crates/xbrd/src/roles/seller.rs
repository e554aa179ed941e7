//! The seller delegate in the daemon: `xbr.provider.<id>.sell`/`.close_channel` registered on
//! every session, `Seller::start` after every join (it re-reads the paying channel from the maker
//! and re-places offers the maker has not accepted yet), the optional sample feed, and the admin
//! API's keys, rotation, channels, sales and publish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use wamp_client::session::Session;
use wamp_client::{InvocationError, InvocationResult, PublishOptions, RegisterOptions};
use wamp_proto::Dict;
use xbr_chain::B128;
use xbr_core::eth::EthPrivateKey;
use xbr_market::adapter::event_args;
use xbr_market::peer::{MakerClient, Publisher, error_args};
use xbr_market::store::blocking;
use xbr_market::types::{ChannelType, LocalChannel};
use xbr_market::{ApiSpec, Seller, SellerConfig, SellerStore};

use super::views::{self, market_api_error, store_api_error};
use super::{RoleContext, RoleDriver, data_key_kek};
use crate::admin::dto::{
    ApiKeysView, ChannelView, KeysView, PublishReceipt, PublishRequest, TransactionPage,
    TransactionQuery, TransactionView,
};
use crate::admin::error::ApiError;
use crate::chain::Chain;
use crate::config::{ApiOffer, Role, Rotation, SampleFeed, format_uuid};
use crate::metrics::Metrics;
use crate::ports::{OwnAddress, RoleApi};
use crate::wiring::Store;

/// The topic data of an API is published to by default: its prefix, or `<prefix>data` for a
/// prefix ending in `.`.
pub fn default_topic(prefix: &str) -> String {
    if prefix.ends_with('.') {
        format!("{prefix}data")
    } else {
        prefix.to_owned()
    }
}

fn spec(a: &ApiOffer) -> ApiSpec {
    ApiSpec {
        api_id: a.api_id,
        prefix: a.prefix.clone(),
        price: a.price,
        policy: match a.rotation {
            Rotation::Interval(d) => xbr_core::keyseries::RotationPolicy::Interval(d),
            Rotation::Count(n) => xbr_core::keyseries::RotationPolicy::Count(n),
        },
        categories: (!a.categories.is_empty()).then(|| a.categories.clone()),
    }
}

/// The seller role and what the daemon keeps around it.
pub struct SellerDriver {
    api: Arc<SellerApi>,
    registered_on: Mutex<Option<u64>>,
    feed_cfg: Option<SampleFeed>,
    feed: Mutex<Option<JoinHandle<()>>>,
    resync: Mutex<Option<JoinHandle<()>>>,
}

/// How often the seller looks for keys whose offer the maker has not accepted yet (it was down or
/// unreachable at the rotation) and restarts to place them.
pub const RESYNC_PERIOD: Duration = Duration::from_secs(15);

/// The admin API's view of the seller.
pub struct SellerApi {
    seller: Seller,
    store: Store,
    chain: Arc<Chain>,
    session: Session,
    apis: Vec<ApiOffer>,
    member: Option<alloy_primitives::Address>,
}

impl SellerDriver {
    /// Builds the seller with the configured APIs (nothing is sent yet).
    pub fn new(ctx: RoleContext) -> anyhow::Result<Self> {
        let cfg = &ctx.cfg;
        let key = EthPrivateKey::from_bytes(cfg.ethereum.private_key.expose())
            .context("ethereum.private_key is not a valid secp256k1 key")?;
        let maker = cfg
            .market
            .maker
            .context("market.maker is required for a seller")?;
        let kek = data_key_kek(cfg.ethereum.private_key.expose());
        let peer = ctx.peer();
        let events: Arc<dyn Publisher> = peer.clone();
        let store: Arc<dyn SellerStore> = ctx.store.clone();
        let seller = Seller::new(
            SellerConfig::new(maker, key, kek),
            store,
            MakerClient::new(peer),
            events,
        );
        for a in &cfg.market.apis {
            seller
                .add(spec(a))
                .map_err(|e| anyhow::anyhow!("market.apis: {e}"))?;
        }
        install_hooks(&seller, &ctx.metrics);
        Ok(SellerDriver {
            api: Arc::new(SellerApi {
                seller,
                store: ctx.store.clone(),
                chain: ctx.chain.clone(),
                session: ctx.session.clone(),
                apis: cfg.market.apis.clone(),
                member: cfg.market.member,
            }),
            registered_on: Mutex::new(None),
            feed_cfg: cfg.market.sample_feed,
            feed: Mutex::new(None),
            resync: Mutex::new(None),
        })
    }

    fn start_feed(&self) {
        let Some(feed) = self.feed_cfg else { return };
        let mut slot = self.feed.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        let api = Arc::clone(&self.api);
        *slot = Some(tokio::spawn(sample_feed(api, feed)));
    }

    /// Registers `sell` and `close_channel` (those already held by this session are kept).
    async fn register(&self) -> anyhow::Result<()> {
        let seller = &self.api.seller;
        for (name, uri) in [
            ("sell", seller.sell_uri()),
            ("close_channel", seller.close_channel_uri()),
        ] {
            let s = seller.clone();
            let registered = self
                .api
                .session
                .register(&uri, RegisterOptions::default(), move |inv| {
                    let s = s.clone();
                    async move {
                        s.dispatch(name, &inv.args)
                            .await
                            .map(|(args, kwargs)| InvocationResult::new(args, kwargs))
                            .map_err(|e| {
                                tracing::debug!(procedure = name, error = %e, "call failed");
                                InvocationError::with_payload(
                                    e.uri.to_string(),
                                    error_args(&e),
                                    Dict::new(),
                                )
                            })
                    }
                })
                .await;
            match registered {
                Ok(_) => {}
                Err(e) if super::already_registered(&e) => {}
                Err(e) => {
                    return Err(anyhow::Error::from(e).context(format!("cannot register {uri}")));
                }
            }
        }
        Ok(())
    }

    fn start_resync(&self) {
        let mut slot = self.resync.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(tokio::spawn(resync(Arc::clone(&self.api))));
        }
    }
}

/// Re-places offers the maker missed: when a stored key of a configured API is not offered, runs
/// `Seller::start` again (which re-reads the channel and offers every unoffered key).
async fn resync(api: Arc<SellerApi>) {
    loop {
        tokio::time::sleep(RESYNC_PERIOD).await;
        if !api.seller.is_started() || !api.session.is_connected() {
            continue;
        }
        let keys = match blocking(&api.store, SellerStore::seller_keys).await {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the seller's keys");
                continue;
            }
        };
        let missed = keys
            .iter()
            .filter(|k| !k.offered && api.apis.iter().any(|a| a.api_id == k.api_id))
            .count();
        if missed == 0 {
            continue;
        }
        tracing::info!(missed, "offers not accepted yet; placing them again");
        if let Err(e) = api.seller.start().await {
            tracing::warn!(error = %e, "offers not placed");
        }
    }
}

fn install_hooks(seller: &Seller, metrics: &Arc<Metrics>) {
    let m = Arc::clone(metrics);
    seller.set_rotation_hook(Arc::new(move |api_id, key_id, offered| {
        m.rotations.inc();
        tracing::info!(
            api_id = %format_uuid(api_id),
            key_id = %format_uuid(key_id),
            offered,
            "data key rotated"
        );
    }));
    let m = Arc::clone(metrics);
    seller.set_sale_hook(Arc::new(move |sale| {
        m.sales.inc();
        m.set_balance(
            &format_uuid(&sale.channel_oid),
            "channel_remaining",
            sale.balance,
        );
        tracing::info!(
            key_id = %format_uuid(&sale.key_id),
            amount = %sale.amount,
            seq = sale.seq,
            remaining = %sale.balance,
            "key sold"
        );
    }));
}

/// Publishes a sample payload to the feed's API every interval while the seller runs.
async fn sample_feed(api: Arc<SellerApi>, feed: SampleFeed) {
    let mut tick = tokio::time::interval(feed.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut counter: u64 = 0;
    loop {
        tick.tick().await;
        if !api.seller.is_started() || !api.session.is_connected() {
            continue;
        }
        let payload = serde_json::json!({
            "source": "xbrd sample feed",
            "counter": counter,
            "time_ms": views::unix_ms(std::time::SystemTime::now()),
        });
        let req = PublishRequest {
            api_id: Some(format_uuid(&feed.api_id)),
            topic: None,
            payload,
        };
        match api.publish_now(req).await {
            Ok(r) => {
                tracing::debug!(topic = %r.topic, key_id = %r.key_id, counter, "sample published");
                counter += 1;
            }
            Err(e) => tracing::warn!(error = %e.message, "sample not published"),
        }
    }
}

impl RoleDriver for SellerDriver {
    fn attach(&self, session_id: u64) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let registered = *self.registered_on.lock().unwrap_or_else(|e| e.into_inner());
            if registered != Some(session_id) {
                self.register().await?;
                *self.registered_on.lock().unwrap_or_else(|e| e.into_inner()) = Some(session_id);
                tracing::info!(provider_id = %self.api.seller.provider_id(), "registered sell and close_channel");
            }
            let remaining = self
                .api
                .seller
                .start()
                .await
                .map_err(|e| anyhow::anyhow!("seller start: {e}"))?;
            tracing::info!(%remaining, "selling");
            self.start_feed();
            self.start_resync();
            Ok(())
        })
    }

    fn api(&self) -> Option<Arc<dyn RoleApi>> {
        Some(self.api.clone())
    }

    fn stop(&self) {
        for task in [&self.feed, &self.resync] {
            if let Some(t) = task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                t.abort();
            }
        }
        self.api.seller.stop();
    }
}

impl SellerApi {
    fn offer(&self, api_id: &[u8; 16]) -> Result<&ApiOffer, ApiError> {
        self.apis
            .iter()
            .find(|a| &a.api_id == api_id)
            .ok_or_else(|| ApiError::not_found(format!("no api {}", format_uuid(api_id))))
    }

    async fn keys_view(&self) -> Result<Vec<ApiKeysView>, ApiError> {
        let stored = blocking(&self.store, SellerStore::seller_keys)
            .await
            .map_err(store_api_error)?;
        Ok(self
            .seller
            .api_keys()
            .into_iter()
            .map(|k| ApiKeysView {
                api_id: format_uuid(&k.spec.api_id),
                prefix: k.spec.prefix.clone(),
                price: k.spec.price.to_string(),
                current_key_id: k.current_key_id.as_ref().map(format_uuid),
                rotations: k.keys.len().saturating_sub(1) as u64,
                next_rotation_ms: k.next_rotation_at.map(views::unix_ms),
                offers: stored
                    .iter()
                    .filter(|s| s.api_id == k.spec.api_id && s.offered)
                    .map(|s| format_uuid(&s.key_id))
                    .collect(),
            })
            .collect())
    }

    async fn publish_now(&self, req: PublishRequest) -> Result<PublishReceipt, ApiError> {
        let api = match &req.api_id {
            Some(id) => {
                let id = crate::config::validate::parse_uuid_str(id)
                    .map_err(|e| ApiError::bad_request(format!("api_id: {e}")))?;
                self.offer(&id)?
            }
            None => self
                .apis
                .first()
                .ok_or_else(|| ApiError::bad_request("no api configured"))?,
        };
        let topic = req
            .topic
            .clone()
            .unwrap_or_else(|| default_topic(&api.prefix));
        if wamp_proto::uri::check_uri(&topic, false, wamp_proto::uri::UriMatch::Exact).is_err() {
            return Err(ApiError::bad_request(format!(
                "topic {topic:?} is not a WAMP URI"
            )));
        }
        let payload = crate::component::json_to_value(&req.payload);
        let (key_id, enc, ct) = self
            .seller
            .wrap(&api.api_id, &topic, &payload)
            .await
            .map_err(market_api_error)?;
        let publication = self
            .session
            .publish(
                &topic,
                event_args(&key_id, enc, ct),
                Dict::new(),
                PublishOptions::acknowledged(),
            )
            .await
            .map_err(|e| ApiError::wamp(format!("publish to {topic}: {e}")))?;
        Ok(PublishReceipt {
            topic,
            key_id: format_uuid(&key_id),
            publication,
        })
    }
}

impl RoleApi for SellerApi {
    fn role(&self) -> Role {
        Role::Seller
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        let mut v = vec![OwnAddress {
            label: "delegate",
            address: self.seller.address(),
        }];
        if let Some(m) = self.member {
            v.push(OwnAddress {
                label: "member",
                address: m,
            });
        }
        v
    }

    fn keys(&self) -> BoxFuture<'_, Result<KeysView, ApiError>> {
        Box::pin(async move {
            Ok(KeysView {
                apis: self.keys_view().await?,
            })
        })
    }

    fn rotate_key(&self, api_id: [u8; 16]) -> BoxFuture<'_, Result<ApiKeysView, ApiError>> {
        Box::pin(async move {
            self.offer(&api_id)?;
            self.seller
                .rotate_now(&api_id)
                .await
                .map_err(market_api_error)?;
            let id = format_uuid(&api_id);
            self.keys_view()
                .await?
                .into_iter()
                .find(|k| k.api_id == id)
                .ok_or_else(|| ApiError::not_found(format!("no api {id}")))
        })
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, ApiError>> {
        Box::pin(async move {
            let local = match self.seller.channel() {
                Some(c) => Some(c),
                None => blocking(&self.store, SellerStore::seller_channel)
                    .await
                    .map_err(store_api_error)?,
            };
            Ok(own_channel(&self.chain, local, ChannelType::Paying).await)
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, ApiError>> {
        Box::pin(async move {
            let (after, limit) = views::page_bounds(&q);
            let sales = blocking(&self.store, move |s| {
                SellerStore::seller_sales_page(s, after, limit)
            })
            .await
            .map_err(store_api_error)?;
            let items = sales
                .into_iter()
                .map(|(id, s)| TransactionView {
                    id,
                    kind: "sale".into(),
                    key_id: format_uuid(&s.key_id),
                    amount: s.amount.to_string(),
                    channel_oid: format_uuid(&s.channel_oid),
                    channel_seq: s.seq,
                    balance: s.balance.to_string(),
                    counterparty: None,
                    status: None,
                    time_ms: views::ns_to_ms(s.created),
                })
                .collect();
            Ok(views::page(items, limit))
        })
    }

    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<PublishReceipt, ApiError>> {
        Box::pin(self.publish_now(req))
    }
}

/// A channel as the chain records it (`None` when the chain does not answer in time).
pub async fn on_chain(chain: &Chain, channel_oid: &[u8; 16]) -> Option<xbr_chain::ChannelInfo> {
    let read = async {
        let c = chain.get().await.ok()?;
        c.channel(B128::from(*channel_oid)).await.ok().flatten()
    };
    tokio::time::timeout(Duration::from_secs(3), read)
        .await
        .ok()
        .flatten()
}

/// A seller's or buyer's own channel (none before it has one) as a view, with the chain's record.
pub async fn own_channel(
    chain: &Chain,
    local: Option<LocalChannel>,
    ty: ChannelType,
) -> Vec<ChannelView> {
    let Some(c) = local else {
        return Vec::new();
    };
    let on_chain = on_chain(chain, &c.channel_oid).await;
    vec![views::local_channel(&c, ty, on_chain.as_ref())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_topic_is_the_prefix_or_a_data_topic_under_it() {
        assert_eq!(default_topic("io.crossbar.example"), "io.crossbar.example");
        assert_eq!(
            default_topic("io.crossbar.example."),
            "io.crossbar.example.data"
        );
    }
}

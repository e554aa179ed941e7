//! The seller delegate in the daemon: xbr-market's [`SellerRole`] (`sell`/`close_channel`,
//! `Seller::start` after every join, offer resync) with the configured APIs, the optional sample
//! feed, and the admin API's keys, rotation, channels, sales and publish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use wamp_client::PublishOptions;
use wamp_proto::Dict;
use xbr_market::adapter::event_args;
use xbr_market::adapter::session::SessionPeer;
use xbr_market::peer::{MakerClient, Publisher};
use xbr_market::runtime::{Role, SellerRole};
use xbr_market::store::blocking;
use xbr_market::types::{ApiId, ChannelId, ChannelType, LocalChannel};
use xbr_market::{ApiSpec, Seller, SellerConfig, SellerStore};

use super::observer::DaemonObserver;
use super::views::{self, Trade};
use super::{RoleContext, RoleParts, Sidecar, data_key_kek};
use crate::chain::Chain;
use crate::config::{ApiOffer, Role as RoleKind, Rotation, SampleFeed};
use crate::ports::views::{
    ApiKeysView, ChannelClosed, ChannelView, KeysView, PublishReceipt, PublishRequest,
    TransactionPage, TransactionQuery, TransactionView,
};
use crate::ports::{OwnAddress, RoleApi, RoleError};

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

/// The admin API's view of the seller.
pub struct SellerApi {
    seller: Seller,
    store: Arc<dyn SellerStore>,
    chain: Arc<Chain>,
    peer: SessionPeer,
    apis: Vec<ApiOffer>,
    member: Option<alloy_primitives::Address>,
}

/// The seller with the configured APIs (nothing is sent yet).
pub fn parts(ctx: &RoleContext) -> anyhow::Result<RoleParts> {
    let cfg = &ctx.cfg;
    let maker = cfg
        .market
        .maker
        .context("market.maker is required for a seller")?;
    let kek = data_key_kek(cfg.ethereum.private_key.expose());
    let events: Arc<dyn Publisher> = Arc::new(ctx.peer.clone());
    let seller = Seller::new(
        SellerConfig::new(maker, ctx.key()?, kek),
        ctx.stores.seller.clone(),
        MakerClient::new(Arc::new(ctx.peer.clone())),
        events,
    );
    for a in &cfg.market.apis {
        seller
            .add(spec(a))
            .map_err(|e| anyhow::anyhow!("market.apis: {e}"))?;
    }
    let api = Arc::new(SellerApi {
        seller: seller.clone(),
        store: ctx.stores.seller.clone(),
        chain: ctx.chain.clone(),
        peer: ctx.peer.clone(),
        apis: cfg.market.apis.clone(),
        member: cfg.market.member,
    });
    let sidecar = cfg.market.sample_feed.map(|feed| {
        Arc::new(FeedTask {
            api: Arc::clone(&api),
            feed,
            task: Mutex::new(None),
        }) as Arc<dyn Sidecar>
    });
    Ok(RoleParts {
        market: Arc::new(SellerRole::new(seller)) as Arc<dyn Role>,
        api: Box::new(move || Some(Arc::clone(&api) as Arc<dyn RoleApi>)),
        sidecar,
        observer: DaemonObserver::new(ctx.metrics.clone(), ctx.health.clone(), None),
    })
}

/// The sample feed while the seller runs.
struct FeedTask {
    api: Arc<SellerApi>,
    feed: SampleFeed,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Sidecar for FeedTask {
    fn start(&self) {
        let mut slot = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(tokio::spawn(sample_feed(Arc::clone(&self.api), self.feed)));
        }
    }

    fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

impl SellerApi {
    fn connected(&self) -> bool {
        self.peer.session().is_some_and(|s| s.is_connected())
    }
}

/// Publishes a sample payload to the feed's API every interval while the seller runs.
async fn sample_feed(api: Arc<SellerApi>, feed: SampleFeed) {
    let mut tick = tokio::time::interval(feed.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut counter: u64 = 0;
    loop {
        tick.tick().await;
        if !api.seller.is_started() || !api.connected() {
            continue;
        }
        let payload = serde_json::json!({
            "source": "xbrd sample feed",
            "counter": counter,
            "time_ms": views::unix_ms(std::time::SystemTime::now()),
        });
        let req = PublishRequest {
            api_id: Some(feed.api_id.to_string()),
            topic: None,
            payload,
        };
        match api.publish_now(req).await {
            Ok(r) => {
                tracing::debug!(topic = %r.topic, key_id = %r.key_id, counter, "sample published");
                counter += 1;
            }
            Err(e) => tracing::warn!(error = %e, "sample not published"),
        }
    }
}

impl SellerApi {
    fn offer(&self, api_id: &ApiId) -> Result<&ApiOffer, RoleError> {
        self.apis
            .iter()
            .find(|a| &a.api_id == api_id)
            .ok_or_else(|| RoleError::NotFound(format!("no api {}", api_id)))
    }

    async fn keys_view(&self) -> Result<Vec<ApiKeysView>, RoleError> {
        let stored = blocking(&self.store, |s| s.seller_keys()).await?;
        Ok(self
            .seller
            .api_keys()
            .into_iter()
            .map(|k| ApiKeysView {
                api_id: k.spec.api_id,
                prefix: k.spec.prefix.clone(),
                price: k.spec.price.to_string(),
                current_key_id: k.current_key_id.as_ref().copied(),
                rotations: k.keys.len().saturating_sub(1) as u64,
                next_rotation_ms: k.next_rotation_at.map(views::unix_ms),
                offers: stored
                    .iter()
                    .filter(|s| s.api_id == k.spec.api_id && s.offered)
                    .map(|s| s.key_id)
                    .collect(),
            })
            .collect())
    }

    async fn publish_now(&self, req: PublishRequest) -> Result<PublishReceipt, RoleError> {
        let api = match &req.api_id {
            Some(id) => {
                let id = crate::config::validate::parse_id_str::<ApiId>(id)
                    .map_err(|e| RoleError::InvalidInput(format!("api_id: {e}")))?;
                self.offer(&id)?
            }
            None => self
                .apis
                .first()
                .ok_or_else(|| RoleError::InvalidInput("no api configured".into()))?,
        };
        let topic = req
            .topic
            .clone()
            .unwrap_or_else(|| default_topic(&api.prefix));
        if wamp_proto::uri::check_uri(&topic, false, wamp_proto::uri::UriMatch::Exact).is_err() {
            return Err(RoleError::InvalidInput(format!(
                "topic {topic:?} is not a WAMP URI"
            )));
        }
        let payload = crate::component::json_to_value(&req.payload);
        let (key_id, enc, ct) = self.seller.wrap(&api.api_id, &topic, &payload).await?;
        let session = self
            .peer
            .session()
            .ok_or_else(|| RoleError::NotReady("no WAMP session yet".into()))?;
        let publication = session
            .publish(
                &topic,
                event_args(&key_id, enc, ct),
                Dict::new(),
                PublishOptions::acknowledged(),
            )
            .await
            .map_err(|e| RoleError::Peer(format!("publish to {topic}: {e}")))?;
        Ok(PublishReceipt {
            topic,
            key_id,
            publication,
        })
    }
}

impl RoleApi for SellerApi {
    fn role(&self) -> RoleKind {
        RoleKind::Seller
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        views::delegate_and_member(self.seller.address(), self.member)
    }

    fn keys(&self) -> BoxFuture<'_, Result<KeysView, RoleError>> {
        Box::pin(async move {
            Ok(KeysView {
                apis: self.keys_view().await?,
            })
        })
    }

    fn rotate_key(&self, api_id: ApiId) -> BoxFuture<'_, Result<ApiKeysView, RoleError>> {
        Box::pin(async move {
            self.offer(&api_id)?;
            self.seller.rotate_now(&api_id).await?;
            let id = api_id;
            self.keys_view()
                .await?
                .into_iter()
                .find(|k| k.api_id == id)
                .ok_or_else(|| RoleError::NotFound(format!("no api {id}")))
        })
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, RoleError>> {
        Box::pin(async move {
            let local = match self.seller.channel() {
                Some(c) => Some(c),
                None => blocking(&self.store, |s| s.seller_channel()).await?,
            };
            Ok(own_channel(&self.chain, local, ChannelType::Paying).await)
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, RoleError>> {
        Box::pin(async move {
            let page = |s: &dyn SellerStore, a, l| s.seller_sales_page(a, l);
            views::transactions(&self.store, &q, page, |id, s| {
                let trade = Trade {
                    kind: "sale",
                    key_id: &s.key_id,
                    amount: s.amount,
                    channel_oid: &s.channel_oid,
                    seq: s.seq,
                    balance: s.balance,
                    created_ns: s.created,
                };
                TransactionView {
                    voided: s.voided.then_some(true),
                    ..views::transaction(id, trade, None, None)
                }
            })
            .await
        })
    }

    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<PublishReceipt, RoleError>> {
        Box::pin(self.publish_now(req))
    }

    fn close_channel(&self) -> BoxFuture<'_, Result<ChannelClosed, RoleError>> {
        Box::pin(async move {
            let closed = self.seller.close_paying_channel().await?;
            Ok(ChannelClosed::of(&closed, "paying"))
        })
    }
}

/// A channel as the chain records it (`None` when the chain does not answer in time).
pub async fn on_chain(chain: &Chain, channel_oid: &ChannelId) -> Option<xbr_chain::ChannelInfo> {
    let read = async {
        let c = chain.get().await.ok()?;
        c.channel(*channel_oid).await.ok().flatten()
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

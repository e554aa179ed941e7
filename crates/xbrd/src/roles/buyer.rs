//! The buyer delegate in the daemon: `Buyer::start` after every join (it re-reads the payment
//! channel from the maker), then prefix subscriptions to the configured topics on that session;
//! each event is unwrapped (buying its key once if needed) and the decrypted payload goes to the
//! SSE stream `/v1/events` and the log.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use wamp_client::session::Session;
use wamp_client::{MatchPolicy, SubscribeOptions};
use xbr_core::eth::EthPrivateKey;
use xbr_market::adapter::read_event;
use xbr_market::peer::MakerClient;
use xbr_market::store::blocking;
use xbr_market::types::ChannelType;
use xbr_market::{Buyer, BuyerConfig, BuyerStore};

use super::seller::own_channel;
use super::views::{self, store_api_error};
use super::{RoleContext, RoleDriver, data_key_kek};
use crate::admin::dto::{
    ChannelView, DecryptedEvent, TransactionPage, TransactionQuery, TransactionView,
};
use crate::admin::error::ApiError;
use crate::chain::Chain;
use crate::config::{Role, format_uuid};
use crate::ports::{OwnAddress, RoleApi};
use crate::wiring::Store;

/// Decrypted events buffered for slow SSE clients before they see `lagged`.
pub const EVENT_BUFFER: usize = 1024;

/// The buyer role and what the daemon keeps around it.
pub struct BuyerDriver {
    api: Arc<BuyerApi>,
    topics: Vec<String>,
    subscribed_on: Mutex<Option<u64>>,
}

/// The admin API's view of the buyer.
pub struct BuyerApi {
    buyer: Buyer,
    store: Store,
    chain: Arc<Chain>,
    session: Session,
    maker: alloy_primitives::Address,
    member: Option<alloy_primitives::Address>,
    events: broadcast::Sender<DecryptedEvent>,
}

impl BuyerDriver {
    /// Builds the buyer (nothing is sent yet).
    pub fn new(ctx: RoleContext) -> anyhow::Result<Self> {
        let cfg = &ctx.cfg;
        let key = EthPrivateKey::from_bytes(cfg.ethereum.private_key.expose())
            .context("ethereum.private_key is not a valid secp256k1 key")?;
        let maker = cfg
            .market
            .maker
            .context("market.maker is required for a buyer")?;
        let max_price = cfg
            .market
            .max_price
            .context("market.max_price is required for a buyer")?;
        let store: Arc<dyn BuyerStore> = ctx.store.clone();
        let buyer = Buyer::new(
            BuyerConfig {
                market_maker: maker,
                key,
                max_price,
                kek: data_key_kek(cfg.ethereum.private_key.expose()),
                auto_close: true,
            },
            store,
            MakerClient::new(ctx.peer()),
        );
        let m = ctx.metrics.clone();
        buyer.set_purchase_hook(Arc::new(move |p| {
            m.purchases.inc();
            m.set_balance(&format_uuid(&p.channel_oid), "channel_remaining", p.balance);
            tracing::info!(
                key_id = %format_uuid(&p.key_id),
                amount = %p.amount,
                seq = p.seq,
                remaining = %p.balance,
                "key bought"
            );
        }));
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(BuyerDriver {
            api: Arc::new(BuyerApi {
                buyer,
                store: ctx.store.clone(),
                chain: ctx.chain.clone(),
                session: ctx.session.clone(),
                maker,
                member: cfg.market.member,
                events,
            }),
            topics: cfg.market.topics.clone(),
            subscribed_on: Mutex::new(None),
        })
    }

    async fn subscribe(&self, topic: &str) -> anyhow::Result<()> {
        let buyer = self.api.buyer.clone();
        let sink = self.api.events.clone();
        let options = SubscribeOptions {
            match_policy: MatchPolicy::Prefix,
            ..SubscribeOptions::default()
        };
        self.api
            .session
            .subscribe(topic, options, move |event| {
                let buyer = buyer.clone();
                let sink = sink.clone();
                async move {
                    // One task per event: a key purchase does not hold up events under keys
                    // already held (the buyer shares one purchase per key among them).
                    tokio::spawn(async move {
                        let (key_id, enc, ct) = match read_event(&event.args) {
                            Ok(e) => e,
                            Err(e) => {
                                tracing::warn!(topic = %event.topic, error = %e, "not a data event");
                                return;
                            }
                        };
                        match buyer.unwrap(&key_id, &enc, &ct).await {
                            Ok(v) => {
                                let ev = DecryptedEvent {
                                    topic: event.topic.clone(),
                                    key_id: format_uuid(&key_id),
                                    payload: views::value_to_json(&v),
                                    publication: Some(event.publication),
                                };
                                tracing::info!(topic = %ev.topic, key_id = %ev.key_id, publication = event.publication, payload = %ev.payload, "decrypted event");
                                let _ = sink.send(ev);
                            }
                            Err(e) => tracing::warn!(
                                topic = %event.topic,
                                key_id = %format_uuid(&key_id),
                                error = %e,
                                "event not decrypted"
                            ),
                        }
                    });
                }
            })
            .await
            .with_context(|| format!("cannot subscribe to {topic}"))?;
        Ok(())
    }
}

impl RoleDriver for BuyerDriver {
    fn attach(&self, session_id: u64) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let remaining = self
                .api
                .buyer
                .start()
                .await
                .map_err(|e| anyhow::anyhow!("buyer start: {e}"))?;
            let subscribed = *self.subscribed_on.lock().unwrap_or_else(|e| e.into_inner());
            if subscribed != Some(session_id) {
                for t in &self.topics {
                    self.subscribe(t).await?;
                }
                *self.subscribed_on.lock().unwrap_or_else(|e| e.into_inner()) = Some(session_id);
                tracing::info!(topics = ?self.topics, "subscribed (prefix match)");
            }
            tracing::info!(%remaining, "buying");
            Ok(())
        })
    }

    fn api(&self) -> Option<Arc<dyn RoleApi>> {
        Some(self.api.clone())
    }

    fn stop(&self) {}
}

impl RoleApi for BuyerApi {
    fn role(&self) -> Role {
        Role::Buyer
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        let mut v = vec![OwnAddress {
            label: "delegate",
            address: self.buyer.address(),
        }];
        if let Some(m) = self.member {
            v.push(OwnAddress {
                label: "member",
                address: m,
            });
        }
        v
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, ApiError>> {
        Box::pin(async move {
            let local = match self.buyer.channel().await {
                Some(c) => Some(c),
                None => blocking(&self.store, BuyerStore::buyer_channel)
                    .await
                    .map_err(store_api_error)?,
            };
            Ok(own_channel(&self.chain, local, ChannelType::Payment).await)
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, ApiError>> {
        Box::pin(async move {
            let (after, limit) = views::page_bounds(&q);
            let purchases = blocking(&self.store, move |s| {
                BuyerStore::purchases_page(s, after, limit)
            })
            .await
            .map_err(store_api_error)?;
            let maker = views::addr(&self.maker);
            let items = purchases
                .into_iter()
                .map(|(id, p)| TransactionView {
                    id,
                    kind: "purchase".into(),
                    key_id: format_uuid(&p.key_id),
                    amount: p.amount.to_string(),
                    channel_oid: format_uuid(&p.channel_oid),
                    channel_seq: p.seq,
                    balance: p.balance.to_string(),
                    counterparty: Some(maker.clone()),
                    status: None,
                    time_ms: views::ns_to_ms(p.created),
                })
                .collect();
            Ok(views::page(items, limit))
        })
    }

    fn events(&self) -> Result<broadcast::Receiver<DecryptedEvent>, ApiError> {
        Ok(self.events.subscribe())
    }
}

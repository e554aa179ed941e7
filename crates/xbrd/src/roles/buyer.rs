//! The buyer delegate in the daemon: xbr-market's [`BuyerRole`] on the configured topics
//! (prefix match), decrypted events streamed to the admin API, and its channel and purchases.

use std::sync::Arc;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use wamp_client::{MatchPolicy, SubscribeOptions};
use xbr_market::peer::MakerClient;
use xbr_market::runtime::{BuyerRole, Role};
use xbr_market::store::blocking;
use xbr_market::types::ChannelType;
use xbr_market::{Buyer, BuyerConfig, BuyerStore};

use super::observer::DaemonObserver;
use super::seller::own_channel;
use super::views::{self, Trade};
use super::{RoleContext, RoleParts, data_key_kek};
use crate::chain::Chain;
use crate::config::Role as RoleKind;
use crate::metrics::Shed;
use crate::ports::views::{
    ChannelClosed, ChannelView, DecryptedEvent, TransactionPage, TransactionQuery,
};
use crate::ports::{OwnAddress, RoleApi, RoleError};

/// Decrypted events buffered for slow SSE clients before they see `lagged`.
pub const EVENT_BUFFER: usize = 1024;

/// The admin API's view of the buyer.
pub struct BuyerApi {
    buyer: Buyer,
    store: Arc<dyn BuyerStore>,
    chain: Arc<Chain>,
    maker: alloy_primitives::Address,
    member: Option<alloy_primitives::Address>,
    events: broadcast::Sender<DecryptedEvent>,
}

/// The buyer on the configured topics (nothing is sent yet).
pub fn parts(ctx: &RoleContext) -> anyhow::Result<RoleParts> {
    let cfg = &ctx.cfg;
    let maker = cfg
        .market
        .maker
        .context("market.maker is required for a buyer")?;
    let max_price = cfg
        .market
        .max_price
        .context("market.max_price is required for a buyer")?;
    if cfg.market.buy_from.is_open() {
        tracing::warn!(
            "market.sellers and market.apis are empty: this buyer pays any seller for any key \
             published under its topics (up to market.max_price); list the sellers or APIs to buy from"
        );
    }
    let buyer = Buyer::new(
        BuyerConfig {
            market_maker: maker,
            key: ctx.key()?,
            max_price,
            kek: data_key_kek(cfg.ethereum.private_key.expose()),
            auto_close: true,
            allow: cfg.market.buy_from.clone(),
        },
        ctx.stores.buyer.clone(),
        MakerClient::new(Arc::new(ctx.peer.clone())),
    );
    // The counter alone: the metrics outlive the role, and the buyer holds the store.
    let shed = buyer.purchases_shed_counter();
    ctx.metrics.sample_shed(Shed::BuyerPurchases, move || {
        shed.load(std::sync::atomic::Ordering::Relaxed)
    });
    let (events, _) = broadcast::channel(EVENT_BUFFER);
    let api = Arc::new(BuyerApi {
        buyer: buyer.clone(),
        store: ctx.stores.buyer.clone(),
        chain: ctx.chain.clone(),
        maker,
        member: cfg.market.member,
        events: events.clone(),
    });
    let options = SubscribeOptions {
        match_policy: MatchPolicy::Prefix,
        ..SubscribeOptions::default()
    };
    Ok(RoleParts {
        market: Arc::new(BuyerRole::new(buyer, cfg.market.topics.clone(), options))
            as Arc<dyn Role>,
        api: Box::new(move || Some(Arc::clone(&api) as Arc<dyn RoleApi>)),
        sidecar: None,
        observer: DaemonObserver::new(ctx.metrics.clone(), ctx.health.clone(), Some(events)),
    })
}

impl RoleApi for BuyerApi {
    fn role(&self) -> RoleKind {
        RoleKind::Buyer
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        views::delegate_and_member(self.buyer.address(), self.member)
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, RoleError>> {
        Box::pin(async move {
            let local = match self.buyer.channel().await {
                Some(c) => Some(c),
                None => blocking(&self.store, |s| s.buyer_channel()).await?,
            };
            Ok(own_channel(&self.chain, local, ChannelType::Payment).await)
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, RoleError>> {
        Box::pin(async move {
            let maker = views::addr(&self.maker);
            let page = |s: &dyn BuyerStore, a, l| s.purchases_page(a, l);
            views::transactions(&self.store, &q, page, |id, p| {
                let trade = Trade {
                    kind: "purchase",
                    key_id: &p.key_id,
                    amount: p.amount,
                    channel_oid: &p.channel_oid,
                    seq: p.seq,
                    balance: p.balance,
                    created_ns: p.created,
                };
                views::transaction(id, trade, Some(maker.clone()), None)
            })
            .await
        })
    }

    fn events(&self) -> Result<broadcast::Receiver<DecryptedEvent>, RoleError> {
        Ok(self.events.subscribe())
    }

    fn close_channel(&self) -> BoxFuture<'_, Result<ChannelClosed, RoleError>> {
        Box::pin(async move {
            self.buyer.close_channel().await?;
            let closed =
                self.buyer.channel().await.ok_or_else(|| {
                    RoleError::NotReady("the buyer has no payment channel".into())
                })?;
            Ok(ChannelClosed::of(&closed, "payment"))
        })
    }
}

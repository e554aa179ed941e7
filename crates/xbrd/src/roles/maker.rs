//! The market maker in the daemon: built once the chain answers (market, owner, EIP-712 domain
//! and EULA read from the contracts); its procedures, the not-started answer before that and the
//! channel mirroring are xbr-market's [`MakerRole`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use xbr_core::eth::EthPrivateKey;
use xbr_market::adapter::session::SessionPeer;
use xbr_market::chain::XbrChain;
use xbr_market::error::uri;
use xbr_market::runtime::{MakerRole, Role};
use xbr_market::sig::Domain;
use xbr_market::types::SaleStatus;
use xbr_market::{MakerConfig, MakerStore, MarketError, MarketMaker};

use super::observer::DaemonObserver;
use super::views::{self, Trade};
use super::{RoleContext, RoleParts};
use crate::chain::Chain;
use crate::config::{Config, Role as RoleKind};
use crate::ports::views::{ChannelView, TransactionPage, TransactionQuery, TransactionView};
use crate::ports::{OwnAddress, RoleApi, RoleError};

/// How often new channels are looked for on chain.
pub const SYNC_PERIOD: Duration = Duration::from_secs(5);

/// The admin API's view of the maker.
pub struct MakerApi {
    maker: Arc<MarketMaker>,
    store: Arc<dyn MakerStore>,
}

/// The maker role: built on the first join that reaches the chain.
pub fn parts(ctx: &RoleContext) -> anyhow::Result<RoleParts> {
    let builder = Arc::new(Builder {
        cfg: ctx.cfg.clone(),
        key: ctx.key()?,
        store: ctx.stores.maker.clone(),
        chain: ctx.chain.clone(),
        peer: ctx.peer.clone(),
    });
    let role = Arc::new(MakerRole::new(
        Box::new(move || {
            let b = Arc::clone(&builder);
            Box::pin(async move {
                b.build()
                    .await
                    .map_err(|e| MarketError::new(uri::NOT_STARTED, format!("{e:#}")))
            })
        }),
        SYNC_PERIOD,
    ));
    let store = ctx.stores.maker.clone();
    let view = Arc::clone(&role);
    Ok(RoleParts {
        market: role as Arc<dyn Role>,
        api: Box::new(move || {
            view.maker().map(|maker| {
                Arc::new(MakerApi {
                    maker,
                    store: store.clone(),
                }) as Arc<dyn RoleApi>
            })
        }),
        sidecar: None,
        observer: DaemonObserver::new(ctx.metrics.clone(), ctx.health.clone(), None),
    })
}

/// What building the maker needs.
struct Builder {
    cfg: Config,
    key: EthPrivateKey,
    store: Arc<dyn MakerStore>,
    chain: Arc<Chain>,
    peer: SessionPeer,
}

impl Builder {
    async fn build(&self) -> anyhow::Result<Arc<MarketMaker>> {
        let chain = self.chain.get().await.context("chain")?;
        let address = self.key.address();
        let market = match self.cfg.market.market_id {
            Some(id) => id,
            None => chain
                .markets_by_maker(address)
                .await
                .context("XBRMarket.marketsByMaker")?
                .with_context(|| {
                    format!("no market on chain has maker {address}; set market.market_id or bootstrap the market")
                })?,
        };
        let owner = chain
            .market_owner(market)
            .await
            .context("XBRMarket.getMarketOwner")?
            .with_context(|| format!("market {market} does not exist on chain"))?;
        let domain = Domain {
            chain_id: chain
                .verifying_chain_id()
                .await
                .context("XBRNetwork.verifyingChain")?,
            verifying_contract: chain
                .verifying_contract()
                .await
                .context("XBRNetwork.verifyingContract")?,
        };
        let eula_hash = chain.eula().await.context("XBRNetwork.eula")?;
        let a = chain.addresses();
        let contracts: BTreeMap<String, alloy_primitives::Address> = [
            ("xbrtoken", a.token),
            ("xbrnetwork", a.network),
            ("xbrdomain", a.domain),
            ("xbrcatalog", a.catalog),
            ("xbrmarket", a.market),
            ("xbrchannel", a.channel),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let cfg = MakerConfig {
            key: self.key.clone(),
            market_oid: market,
            market_owner: owner,
            domain,
            chain: chain.gateway().chain_id(),
            contracts,
            eula_url: String::new(),
            eula_hash,
            callers: xbr_market::maker::CallerPolicy::Authenticated,
            max_channel_amount: self.cfg.market.max_channel_amount.unwrap_or_else(|| {
                xbr_market::types::U256::from(xbr_market::maker::DEFAULT_MAX_CHANNEL_AMOUNT)
            }),
            realm: Some(self.cfg.realm.clone()),
        };
        let peer = Arc::new(self.peer.clone());
        let maker = Arc::new(
            MarketMaker::new(
                cfg,
                self.store.clone(),
                peer.clone(),
                peer,
                Some(Arc::new(XbrChain::new(chain.clone(), self.key.clone()))),
            )
            .with_scan_config(self.cfg.market.scan)
            .with_close_config(self.cfg.market.close),
        );
        tracing::info!(%market, %owner, maker = %address, "market maker built");
        Ok(maker)
    }
}

fn status(s: SaleStatus) -> &'static str {
    match s {
        SaleStatus::Inflight => "inflight",
        SaleStatus::Completed => "completed",
        SaleStatus::Failed => "failed",
        SaleStatus::SellerSigned => "seller_signed",
    }
}

impl RoleApi for MakerApi {
    fn role(&self) -> RoleKind {
        RoleKind::Marketmaker
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        vec![OwnAddress {
            label: "marketmaker",
            address: self.maker.address(),
        }]
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, RoleError>> {
        Box::pin(async move {
            let all = xbr_market::store::blocking(&self.store, |s| s.all_channels()).await?;
            Ok(all.iter().map(views::maker_channel).collect())
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, RoleError>> {
        Box::pin(async move {
            let page = |s: &dyn MakerStore, a, l| s.sales_page(a, l);
            views::transactions(&self.store, &q, page, |id, s| {
                let trade = Trade {
                    kind: "sale",
                    key_id: &s.key_id,
                    amount: s.amount_paid,
                    channel_oid: &s.payment_channel,
                    seq: s.payment_seq,
                    balance: s.payment_remaining,
                    created_ns: s.created,
                };
                let buyer = Some(views::addr(&s.buyer_delegate));
                TransactionView {
                    recovered: Some(s.recovered),
                    ..views::transaction(id, trade, buyer, Some(status(s.status)))
                }
            })
            .await
        })
    }
}

//! The market maker in the daemon: built once the chain answers (market, owner, EIP-712 domain and
//! EULA read from the contracts), channels mirrored from the chain's `XBRChannel.Opened` logs
//! ([`MarketMaker::scan_channels`], at every join and then every [`SYNC_PERIOD`]), and the `xbr.marketmaker.*` procedures registered
//! on every session.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use wamp_client::session::Session;
use wamp_client::{InvocationError, InvocationResult, RegisterOptions};
use wamp_proto::Dict;
use xbr_chain::B128;
use xbr_core::eth::EthPrivateKey;
use xbr_market::chain::XbrChain;
use xbr_market::maker::Procedure;
use xbr_market::peer::error_args;
use xbr_market::sig::Domain;
use xbr_market::store::blocking;
use xbr_market::types::SaleStatus;
use xbr_market::{MakerConfig, MakerStore, MarketMaker};

use super::views::{self, store_api_error};
use super::{RoleContext, RoleDriver};
use crate::admin::dto::{ChannelView, TransactionPage, TransactionQuery, TransactionView};
use crate::admin::error::ApiError;
use crate::chain::Chain;
use crate::config::{Config, Role, format_uuid};
use crate::metrics::Metrics;
use crate::ports::{OwnAddress, RoleApi};
use crate::wiring::Store;

/// How often new channels are looked for on chain.
pub const SYNC_PERIOD: Duration = Duration::from_secs(5);

/// The maker role and what the daemon keeps around it.
pub struct MakerDriver {
    cfg: Config,
    key: EthPrivateKey,
    store: Store,
    chain: Arc<Chain>,
    metrics: Arc<Metrics>,
    session: Session,
    ctx_peer: Arc<xbr_market::adapter::session::SessionPeer>,
    built: OnceLock<Arc<Built>>,
    registered_on: Mutex<Option<u64>>,
    sync_task: Mutex<Option<JoinHandle<()>>>,
}

/// The running maker.
pub struct Built {
    maker: Arc<MarketMaker>,
    /// The next block to scan for `Opened` logs.
    next_block: tokio::sync::Mutex<u64>,
    api: Arc<MakerApi>,
}

/// The admin API's view of the maker.
pub struct MakerApi {
    maker: Arc<MarketMaker>,
    store: Store,
}

impl MakerDriver {
    /// Prepares the maker (it is built on the first join, once the chain answers).
    pub fn new(ctx: RoleContext) -> anyhow::Result<Self> {
        let key = EthPrivateKey::from_bytes(ctx.cfg.ethereum.private_key.expose())
            .context("ethereum.private_key is not a valid secp256k1 key")?;
        Ok(MakerDriver {
            ctx_peer: ctx.peer(),
            cfg: ctx.cfg,
            key,
            store: ctx.store,
            chain: ctx.chain,
            metrics: ctx.metrics,
            session: ctx.session,
            built: OnceLock::new(),
            registered_on: Mutex::new(None),
            sync_task: Mutex::new(None),
        })
    }

    async fn build(&self) -> anyhow::Result<Arc<Built>> {
        if let Some(b) = self.built.get() {
            return Ok(b.clone());
        }
        let chain = self
            .chain
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("chain: {e}"))?;
        let address = self.key.address();
        let market = match self.cfg.market.market_id {
            Some(id) => B128::from(id),
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
            .with_context(|| {
                format!("market {} does not exist on chain", format_uuid(&market.0))
            })?;
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
            market_oid: market.0,
            market_owner: owner,
            domain,
            chain: chain.gateway().chain_id(),
            contracts,
            eula_url: String::new(),
            eula_hash,
        };
        let store: Arc<dyn MakerStore> = self.store.clone();
        let maker = Arc::new(MarketMaker::new(
            cfg,
            store,
            self.ctx_peer.clone(),
            self.ctx_peer.clone(),
            Some(Arc::new(XbrChain::new(chain.clone(), self.key.clone()))),
        ));
        tracing::info!(market = %format_uuid(&market.0), %owner, maker = %address, "market maker built");
        let built = Arc::new(Built {
            api: Arc::new(MakerApi {
                maker: maker.clone(),
                store: self.store.clone(),
            }),
            maker,
            next_block: tokio::sync::Mutex::new(0),
        });
        Ok(self.built.get_or_init(|| built).clone())
    }

    async fn register(&self, maker: &Arc<MarketMaker>) -> anyhow::Result<()> {
        for &procedure in Procedure::ALL {
            let maker = Arc::clone(maker);
            let metrics = self.metrics.clone();
            let registered = self
                .session
                .register(
                    procedure.uri(),
                    RegisterOptions::default(),
                    move |inv| {
                        let maker = Arc::clone(&maker);
                        let metrics = metrics.clone();
                        async move {
                            let caller = inv.caller().unwrap_or(0);
                            let r = maker.dispatch(procedure, &inv.args, &inv.kwargs, caller).await;
                            match r {
                                Ok((args, kwargs)) => {
                                    if procedure == Procedure::BuyKey {
                                        metrics.sales.inc();
                                    }
                                    Ok(InvocationResult::new(args, kwargs))
                                }
                                Err(e) => {
                                    tracing::debug!(procedure = procedure.name(), error = %e, "call failed");
                                    Err(InvocationError::with_payload(
                                        e.uri.to_string(),
                                        error_args(&e),
                                        Dict::new(),
                                    ))
                                }
                            }
                        }
                    },
                )
                .await;
            match registered {
                Ok(_) => {}
                Err(e) if super::already_registered(&e) => {}
                Err(e) => {
                    return Err(
                        anyhow::Error::from(e).context(format!("cannot register {procedure}"))
                    );
                }
            }
        }
        Ok(())
    }

    fn start_sync(&self, built: Arc<Built>) {
        let mut slot = self.sync_task.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        *slot = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(SYNC_PERIOD).await;
                if let Err(e) = sync(&built).await {
                    tracing::warn!(error = %format!("{e:#}"), "channel sync failed");
                }
            }
        }));
    }
}

/// Mirrors the channels opened on chain since the last scan; how many were new.
async fn sync(built: &Built) -> anyhow::Result<usize> {
    let mut next = built.next_block.lock().await;
    let scan = built
        .maker
        .scan_channels(*next)
        .await
        .map_err(|e| anyhow::anyhow!("mirroring channels from the chain: {e}"))?;
    *next = scan.next_block;
    if scan.new > 0 {
        tracing::info!(
            new = scan.new,
            next_block = scan.next_block,
            "channels mirrored from the chain"
        );
    }
    Ok(scan.new)
}

impl RoleDriver for MakerDriver {
    fn attach(&self, session_id: u64) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            let built = self.build().await?;
            sync(&built).await?;
            let registered = *self.registered_on.lock().unwrap_or_else(|e| e.into_inner());
            if registered != Some(session_id) {
                self.register(&built.maker).await?;
                *self.registered_on.lock().unwrap_or_else(|e| e.into_inner()) = Some(session_id);
                tracing::info!(
                    procedures = Procedure::ALL.len(),
                    "registered xbr.marketmaker.*"
                );
            }
            self.start_sync(built);
            Ok(())
        })
    }

    fn api(&self) -> Option<Arc<dyn RoleApi>> {
        self.built.get().map(|b| b.api.clone() as Arc<dyn RoleApi>)
    }

    fn stop(&self) {
        if let Some(t) = self
            .sync_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
    }
}

fn status(s: SaleStatus) -> &'static str {
    match s {
        SaleStatus::Inflight => "inflight",
        SaleStatus::Completed => "completed",
        SaleStatus::Failed => "failed",
    }
}

impl RoleApi for MakerApi {
    fn role(&self) -> Role {
        Role::Marketmaker
    }

    fn own_addresses(&self) -> Vec<OwnAddress> {
        vec![OwnAddress {
            label: "marketmaker",
            address: self.maker.address(),
        }]
    }

    fn channels(&self) -> BoxFuture<'_, Result<Vec<ChannelView>, ApiError>> {
        Box::pin(async move {
            let all = blocking(&self.store, MakerStore::all_channels)
                .await
                .map_err(store_api_error)?;
            Ok(all.iter().map(views::maker_channel).collect())
        })
    }

    fn transactions(
        &self,
        q: TransactionQuery,
    ) -> BoxFuture<'_, Result<TransactionPage, ApiError>> {
        Box::pin(async move {
            let (after, limit) = views::page_bounds(&q);
            let sales = blocking(&self.store, move |s| {
                MakerStore::sales_page(s, after, limit)
            })
            .await
            .map_err(store_api_error)?;
            let items = sales
                .into_iter()
                .map(|(id, s)| TransactionView {
                    id,
                    kind: "sale".into(),
                    key_id: format_uuid(&s.key_id),
                    amount: s.amount_paid.to_string(),
                    channel_oid: format_uuid(&s.payment_channel),
                    channel_seq: s.payment_seq,
                    balance: s.payment_remaining.to_string(),
                    counterparty: Some(views::addr(&s.buyer_delegate)),
                    status: Some(status(s.status).into()),
                    time_ms: views::ns_to_ms(s.created),
                })
                .collect();
            Ok(views::page(items, limit))
        })
    }
}

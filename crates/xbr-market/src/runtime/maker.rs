//! The market maker as a [`Role`]: every `xbr.marketmaker.*` procedure is declared up front and
//! answers `xbr.error.not_started` until the maker is built (once the chain answers, in the
//! after-join step); channels opened on chain are mirrored at every join and then periodically,
//! each round continuing from the scan cursor saved in the maker's store. After the first sync,
//! the maker's unresolved sales are recovered, then a sweeper resolves those older than
//! [`UNRESOLVED_AGE`] every [`SWEEP_PERIOD`]. The role follows the router's
//! `wamp.session.on_join` so the authenticator registers a first login's key once its session
//! joined ([`MarketMaker::session_joined`]).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use wamp_client::SubscribeOptions;

use super::{Call, Declarations, EventError, Observer, ProcedureSpec, Role, RoleEvent, TopicSpec};
use crate::error::{MarketError, MarketResult, uri};
use crate::maker::authenticator::{JoinedSession, SESSION_ON_JOIN};
use crate::maker::{MarketMaker, Procedure};
use crate::peer::BoxFuture;
use crate::wire::Payload;

/// How often the sweeper looks for unresolved sales.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(2);
/// How old an unresolved sale is before the sweeper resolves it (a younger one may still have its
/// request running).
pub const UNRESOLVED_AGE: Duration = Duration::from_secs(5);

/// Builds the maker (reads the market, its owner, the EIP-712 domain … from the chain).
pub type MakerBuilder =
    Box<dyn Fn() -> BoxFuture<'static, MarketResult<Arc<MarketMaker>>> + Send + Sync>;

type Dispatch =
    Arc<dyn Fn(Arc<MarketMaker>, Call) -> BoxFuture<'static, MarketResult<Payload>> + Send + Sync>;

/// One maker procedure as the role declares it.
struct MakerProcedure {
    name: &'static str,
    uri: String,
    /// A success is a key sold through the market.
    sells_key: bool,
    dispatch: Dispatch,
}

/// The maker's procedures and how each is dispatched: the one place that reads the maker's
/// procedure list.
fn maker_procedures() -> Vec<MakerProcedure> {
    Procedure::ALL
        .iter()
        .map(|&procedure| MakerProcedure {
            name: procedure.name(),
            uri: procedure.uri().to_owned(),
            sells_key: procedure == Procedure::BuyKey,
            dispatch: Arc::new(move |maker: Arc<MarketMaker>, call: Call| {
                Box::pin(async move {
                    maker
                        .dispatch(procedure, &call.args, &call.kwargs, call.caller_id())
                        .await
                })
            }),
        })
        .collect()
}

/// The maker role.
pub struct MakerRole {
    maker: Arc<OnceLock<Arc<MarketMaker>>>,
    build: Option<MakerBuilder>,
    building: tokio::sync::Mutex<()>,
    /// Mirror channels from the chain every this often (`None`: no chain).
    sync_period: Option<Duration>,
    sync_task: Mutex<Option<JoinHandle<()>>>,
    /// Recovery of unresolved sales at start, then the sweeper.
    sweep_task: Mutex<Option<JoinHandle<()>>>,
}

impl MakerRole {
    /// A maker built by `build` on the first join that reaches the chain; channels are mirrored
    /// at every join and then every `sync_period`.
    pub fn new(build: MakerBuilder, sync_period: Duration) -> Self {
        Self {
            maker: Arc::new(OnceLock::new()),
            build: Some(build),
            building: tokio::sync::Mutex::new(()),
            sync_period: Some(sync_period),
            sync_task: Mutex::new(None),
            sweep_task: Mutex::new(None),
        }
    }

    /// An already built maker without channel mirroring nor the sweeper of unresolved sales
    /// (tests, benchmarks).
    pub fn built(maker: Arc<MarketMaker>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(maker);
        Self {
            maker: Arc::new(cell),
            build: None,
            building: tokio::sync::Mutex::new(()),
            sync_period: None,
            sync_task: Mutex::new(None),
            sweep_task: Mutex::new(None),
        }
    }

    /// The maker, once built.
    pub fn maker(&self) -> Option<Arc<MarketMaker>> {
        self.maker.get().cloned()
    }

    async fn ensure_built(&self) -> MarketResult<Arc<MarketMaker>> {
        if let Some(m) = self.maker() {
            return Ok(m);
        }
        let _one = self.building.lock().await;
        if let Some(m) = self.maker() {
            return Ok(m);
        }
        let build = self
            .build
            .as_ref()
            .ok_or_else(|| MarketError::new(uri::NOT_STARTED, "market maker not built"))?;
        let maker = build().await?;
        Ok(Arc::clone(self.maker.get_or_init(|| maker)))
    }

    fn start_sync(&self, maker: Arc<MarketMaker>, period: Duration) {
        let mut slot = self.sync_task.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        *slot = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                if let Err(e) = sync(&maker).await {
                    warn!(error = %e, "channel sync failed");
                }
            }
        }));
    }

    /// Recovers the maker's unresolved sales once, then sweeps those older than
    /// [`UNRESOLVED_AGE`] every [`SWEEP_PERIOD`] (started once).
    fn start_sweeper(&self, maker: Arc<MarketMaker>) {
        let mut slot = self.sweep_task.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            return;
        }
        *slot = Some(tokio::spawn(async move {
            if let Err(e) = maker.recover_sales().await {
                warn!(error = %e, "recovering unresolved sales failed");
            }
            loop {
                tokio::time::sleep(SWEEP_PERIOD).await;
                if let Err(e) = maker.sweep_sales(UNRESOLVED_AGE).await {
                    warn!(error = %e, "sweeping unresolved sales failed");
                }
            }
        }));
    }
}

impl MakerRole {
    /// The subscription to the router's [`SESSION_ON_JOIN`]: each joined session confirms the
    /// first login it made. A meta event, so the runtime reports no outcome of it.
    fn session_joins(&self) -> TopicSpec {
        let cell = Arc::clone(&self.maker);
        TopicSpec {
            topic: SESSION_ON_JOIN.to_owned(),
            options: SubscribeOptions::default(),
            handler: Arc::new(move |event| {
                let maker = cell.get().cloned();
                Box::pin(async move {
                    let joined = JoinedSession::from_event_args(&event.args);
                    if let (Some(maker), Some(joined)) = (maker, joined)
                        && let Err(e) = maker.session_joined(&joined).await
                    {
                        warn!(session = joined.session, error = %e, "a first login's key was not registered");
                    }
                    Err(EventError {
                        key_id: None,
                        error: MarketError::new(
                            uri::NOT_STARTED,
                            "a router meta event, no data event",
                        ),
                    })
                })
            }),
        }
    }
}

/// Mirrors the channels opened on chain since the saved scan cursor.
async fn sync(maker: &MarketMaker) -> MarketResult<()> {
    let scan = maker.scan_from_cursor().await.map_err(|e| MarketError {
        message: format!("mirroring channels from the chain: {}", e.message),
        ..e
    })?;
    if scan.new > 0 {
        info!(
            new = scan.new,
            next_block = scan.next_block,
            "channels mirrored from the chain"
        );
    }
    Ok(())
}

impl Role for MakerRole {
    fn declarations(&self, observer: &Observer) -> Declarations {
        let procedures = maker_procedures()
            .into_iter()
            .map(|p| {
                let cell = Arc::clone(&self.maker);
                let observer = Arc::clone(observer);
                let MakerProcedure {
                    name,
                    uri,
                    sells_key,
                    dispatch,
                } = p;
                ProcedureSpec {
                    name,
                    uri,
                    handler: Arc::new(move |call| {
                        let maker = cell.get().cloned();
                        let dispatch = Arc::clone(&dispatch);
                        let observer = Arc::clone(&observer);
                        Box::pin(async move {
                            let maker = maker.ok_or_else(|| {
                                MarketError::new(
                                    uri::NOT_STARTED,
                                    "market maker not started (waiting for the chain)",
                                )
                            })?;
                            let r = dispatch(maker, call).await;
                            if sells_key && r.is_ok() {
                                observer.observe(RoleEvent::KeyBrokered);
                            }
                            r
                        })
                    }),
                }
            })
            .collect();
        Declarations {
            procedures,
            topics: vec![self.session_joins()],
        }
    }

    fn on_join(&self) -> BoxFuture<'_, MarketResult<()>> {
        Box::pin(async move {
            let maker = self.ensure_built().await?;
            // Recovery of closes not final yet (and the worker for new ones).
            maker.start_closer();
            if let Some(period) = self.sync_period {
                sync(&maker).await?;
                self.start_sync(Arc::clone(&maker), period);
                self.start_sweeper(maker);
            }
            Ok(())
        })
    }

    fn stop(&self) {
        for task in [&self.sync_task, &self.sweep_task] {
            if let Some(t) = task.lock().unwrap_or_else(|e| e.into_inner()).take() {
                t.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maker::testing::{Fixture, PAYMENT, SellerScript};
    use crate::peer::MAKER_PREFIX;
    use crate::runtime::NoObserver;
    use crate::types::{SaleStatus, U256};

    #[tokio::test]
    async fn the_first_join_recovers_the_unresolved_sales() {
        let f = Fixture::on_quiet_chain(100, 1000, 35).await;
        let timeout = MarketError::from_uri("wamp.error.timeout", "no answer");
        *f.seller.script.lock().unwrap() = SellerScript::Fail(timeout);
        let e = f.maker.buy_key(f.request()).await.unwrap_err();
        assert!(e.is(uri::SALE_PENDING), "{e}");
        *f.seller.script.lock().unwrap() = SellerScript::Honest;

        let maker = f.shared_maker();
        let build: MakerBuilder = Box::new(move || {
            let maker = Arc::clone(&maker);
            Box::pin(async move { Ok(maker) })
        });
        let role = MakerRole::new(build, Duration::from_secs(3600));
        role.on_join().await.unwrap();
        let status = || f.store.sales().unwrap()[0].status;
        tokio::time::timeout(Duration::from_secs(30), async {
            while status() != SaleStatus::Completed {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the unresolved sale was not recovered");
        role.stop();
        let sale = &f.store.sales().unwrap()[0];
        assert!(sale.recovered);
        assert_eq!(f.view(&PAYMENT).2, U256::ZERO);
    }

    #[tokio::test]
    async fn procedures_answer_not_started_until_the_maker_is_built() {
        let role = MakerRole::new(
            Box::new(|| Box::pin(async { Err(MarketError::new(uri::NOT_STARTED, "chain down")) })),
            Duration::from_secs(5),
        );
        let observer: Observer = Arc::new(NoObserver);
        let declared = role.declarations(&observer);
        assert_eq!(declared.procedures.len(), Procedure::ALL.len());
        let topics: Vec<_> = declared.topics.iter().map(|t| t.topic.as_str()).collect();
        assert_eq!(topics, [SESSION_ON_JOIN]);
        for p in &declared.procedures {
            assert!(p.uri.starts_with(MAKER_PREFIX), "{}", p.uri);
            let err = (p.handler)(Call::default()).await.unwrap_err();
            assert!(err.is(uri::NOT_STARTED), "{}: {err}", p.uri);
        }
        let err = role.on_join().await.unwrap_err();
        assert!(err.is(uri::NOT_STARTED), "{err}");
        assert!(role.maker().is_none());
    }
}

//! The seller as a [`Role`]: `xbr.provider.<id>.sell` and `.close_channel` declared,
//! [`Seller::start`] after each join (it re-reads the paying channel from the maker and re-places
//! offers the maker has not accepted yet), and a periodic resync of the paying channel and of
//! missed offers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{Declarations, Observer, ProcedureSpec, Role, RoleEvent};
use crate::error::MarketResult;
use crate::peer::{BoxFuture, ProviderProcedure};
use crate::seller::Seller;

/// How often the seller settles its paying channel with the maker's view (so a seller left
/// behind or ahead by a rollback trades again) and looks for keys whose offer the maker has not
/// accepted yet (it was down or unreachable at the rotation), restarting to place them.
pub const RESYNC_PERIOD: Duration = Duration::from_secs(15);

/// The seller role.
pub struct SellerRole {
    seller: Seller,
    resync_period: Duration,
    resync: Mutex<Option<JoinHandle<()>>>,
}

impl SellerRole {
    /// The role of `seller` (APIs already added), resyncing missed offers every [`RESYNC_PERIOD`].
    pub fn new(seller: Seller) -> Self {
        Self {
            seller,
            resync_period: RESYNC_PERIOD,
            resync: Mutex::new(None),
        }
    }

    /// The seller.
    pub fn seller(&self) -> &Seller {
        &self.seller
    }

    fn start_resync(&self) {
        let mut slot = self.resync.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(tokio::spawn(resync(
                self.seller.clone(),
                self.resync_period,
            )));
        }
    }
}

/// Re-syncs the paying channel with the maker ([`Seller::resync_channel`]) and re-places offers
/// the maker missed: when a stored key of a configured API is not offered, runs
/// [`Seller::start`] again (which re-syncs the channel too and offers every unoffered key).
async fn resync(seller: Seller, period: Duration) {
    loop {
        tokio::time::sleep(period).await;
        if !seller.is_started() {
            continue;
        }
        let missed = match seller.unoffered_keys().await {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "cannot read the seller's keys");
                continue;
            }
        };
        if missed == 0 {
            if let Err(e) = seller.resync_channel().await {
                warn!(error = %e, "paying channel not re-synced");
            }
            continue;
        }
        info!(missed, "offers not accepted yet; placing them again");
        if let Err(e) = seller.start().await {
            warn!(error = %e, "offers not placed");
        }
    }
}

impl Role for SellerRole {
    fn declarations(&self, observer: &Observer) -> Declarations {
        let o = Arc::clone(observer);
        self.seller
            .set_rotation_hook(Arc::new(move |api_id, key_id, offered| {
                o.observe(RoleEvent::KeyRotated {
                    api_id,
                    key_id,
                    offered,
                })
            }));
        let o = Arc::clone(observer);
        self.seller
            .set_sale_hook(Arc::new(move |sale| o.observe(RoleEvent::KeySold(sale))));
        Declarations {
            procedures: self.procedures(),
            topics: Vec::new(),
        }
    }

    fn on_join(&self) -> BoxFuture<'_, MarketResult<()>> {
        Box::pin(async move {
            let remaining = self.seller.start().await?;
            info!(provider_id = %self.seller.provider_id(), %remaining, "selling");
            self.start_resync();
            Ok(())
        })
    }

    fn stop(&self) {
        if let Some(t) = self.resync.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
        self.seller.stop();
    }
}

impl SellerRole {
    /// `sell` and `close_channel` (without installing the observer hooks).
    pub fn procedures(&self) -> Vec<ProcedureSpec> {
        ProviderProcedure::ALL
            .iter()
            .map(|&procedure| {
                let seller = self.seller.clone();
                ProcedureSpec {
                    name: procedure.name(),
                    uri: seller.procedure_uri(procedure),
                    handler: Arc::new(move |call| {
                        let seller = seller.clone();
                        Box::pin(async move { seller.dispatch(procedure, &call.args).await })
                    }),
                }
            })
            .collect()
    }
}

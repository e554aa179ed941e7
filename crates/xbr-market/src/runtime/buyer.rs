//! The buyer as a [`Role`]: its data topics declared (each event unwrapped, buying its key if
//! needed) and [`Buyer::start`] after each join.

use std::sync::Arc;

use tracing::info;
use wamp_client::SubscribeOptions;

use super::{Declarations, Decrypted, EventError, Observer, Role, RoleEvent, TopicSpec};
use crate::adapter::read_event;
use crate::buyer::Buyer;
use crate::error::MarketResult;
use crate::peer::BoxFuture;

/// The buyer role.
pub struct BuyerRole {
    buyer: Buyer,
    topics: Vec<String>,
    options: SubscribeOptions,
}

impl BuyerRole {
    /// The role of `buyer`, subscribed to `topics` with `options` (e.g. prefix match).
    pub fn new(buyer: Buyer, topics: Vec<String>, options: SubscribeOptions) -> Self {
        Self {
            buyer,
            topics,
            options,
        }
    }

    /// The buyer.
    pub fn buyer(&self) -> &Buyer {
        &self.buyer
    }

    /// The subscription of one data topic: each event `(key_id, enc_ser, ciphertext)` is
    /// unwrapped, buying its key if needed.
    pub fn topic(buyer: Buyer, topic: String, options: SubscribeOptions) -> TopicSpec {
        TopicSpec {
            topic,
            options,
            handler: Arc::new(move |event| {
                let buyer = buyer.clone();
                Box::pin(async move {
                    let (key_id, enc_ser, ct) =
                        read_event(&event.args).map_err(|error| EventError {
                            key_id: None,
                            error,
                        })?;
                    match buyer.unwrap(&key_id, &enc_ser, &ct).await {
                        Ok(payload) => Ok(Decrypted { key_id, payload }),
                        Err(error) => Err(EventError {
                            key_id: Some(key_id),
                            error,
                        }),
                    }
                })
            }),
        }
    }
}

impl Role for BuyerRole {
    fn declarations(&self, observer: &Observer) -> Declarations {
        let o = Arc::clone(observer);
        self.buyer
            .set_purchase_hook(Arc::new(move |p| o.observe(RoleEvent::KeyBought(p))));
        let o = Arc::clone(observer);
        self.buyer.set_purchase_timer(Arc::new(move |elapsed| {
            o.observe(RoleEvent::PurchaseCompleted { elapsed })
        }));
        Declarations {
            procedures: Vec::new(),
            topics: self
                .topics
                .iter()
                .map(|t| Self::topic(self.buyer.clone(), t.clone(), self.options.clone()))
                .collect(),
        }
    }

    fn on_join(&self) -> BoxFuture<'_, MarketResult<()>> {
        Box::pin(async move {
            let remaining = self.buyer.start().await?;
            info!(topics = ?self.topics, %remaining, "buying");
            Ok(())
        })
    }
}

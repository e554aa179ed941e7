//! In-memory store: every operation runs under one mutex, so each is atomic.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::{BuyerStore, MakerStore, SellerStore, StoreError, StoreResult, rules, user_keys};
use crate::types::PurchaseIntent;
use crate::types::{
    Address, Channel, ChannelClose, ChannelId, ChannelState, ChannelType, KeyId, LocalChannel,
    Offer, OfferId, OfferQuery, Purchase, Sale, SaleStatus, SellerKey, SellerSale, Signature, TxId,
};
use crate::types::{CloseIntent, CloseState};
use crate::types::{KeyRegistration, UserKey};

#[derive(Default)]
struct Inner {
    channels: Vec<Channel>,
    offers: Vec<Offer>,
    sales: Vec<Sale>,
    seller_keys: Vec<SellerKey>,
    seller_channel: Option<LocalChannel>,
    seller_sales: Vec<SellerSale>,
    buyer_channel: Option<LocalChannel>,
    purchases: HashMap<KeyId, Purchase>,
    purchase_order: Vec<KeyId>,
    scan_cursor: Option<u64>,
    buyer_intents: Vec<PurchaseIntent>,
    buyer_receive_key: Option<Vec<u8>>,
    close_intents: Vec<CloseIntent>,
    user_keys: Vec<UserKey>,
}

/// A store that keeps everything in memory (lost on drop).
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change: every method
        // validates first and mutates last.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn channel(&self, oid: &ChannelId) -> StoreResult<&Channel> {
        self.channels
            .iter()
            .find(|c| &c.channel_oid == oid)
            .ok_or(StoreError::NotFound("channel"))
    }

    fn channel_mut(&mut self, oid: &ChannelId) -> StoreResult<&mut Channel> {
        self.channels
            .iter_mut()
            .find(|c| &c.channel_oid == oid)
            .ok_or(StoreError::NotFound("channel"))
    }

    /// The channels of a type that pass `keep`, oldest first.
    fn channels_where(&self, ty: ChannelType, keep: impl Fn(&Channel) -> bool) -> Vec<Channel> {
        let mut v: Vec<Channel> = self
            .channels
            .iter()
            .filter(|c| c.channel_type == ty && keep(c))
            .cloned()
            .collect();
        // Stable: equal timestamps stay in insertion order, as in SQLite's `ORDER BY timestamp, rowid`.
        v.sort_by_key(|c| c.timestamp);
        v
    }

    /// Moves the payment and the paying channel of a sale by one of the sale [`rules`]. Returns
    /// both after the step.
    fn move_sale_channels(
        &mut self,
        sale: &Sale,
        rule: rules::SaleRule,
    ) -> StoreResult<(Channel, Channel)> {
        let (payment, paying) = rule(
            sale,
            self.channel(&sale.payment_channel)?,
            self.channel(&sale.paying_channel)?,
        )?;
        for ch in [&payment, &paying] {
            *self.channel_mut(&ch.channel_oid)? = ch.clone();
        }
        Ok((payment, paying))
    }

    fn inflight_sale(&self, tx_id: &TxId) -> StoreResult<Sale> {
        rules::inflight_sale(self.sales.iter().find(|s| &s.tx_id == tx_id).cloned())
    }

    /// Moves a channel from `expect_state` to `new_state` with its close information.
    fn mark_closing(
        &mut self,
        channel_oid: &ChannelId,
        expect_state: ChannelState,
        new_state: ChannelState,
        close: &ChannelClose,
    ) -> StoreResult<()> {
        let ch = self.channel_mut(channel_oid)?;
        if ch.state != expect_state {
            return Err(StoreError::Conflict(format!(
                "channel state is {:?}",
                ch.state
            )));
        }
        ch.state = new_state;
        ch.close = Some(close.clone());
        Ok(())
    }

    fn sale_mut(&mut self, tx_id: &TxId) -> StoreResult<&mut Sale> {
        self.sales
            .iter_mut()
            .find(|s| &s.tx_id == tx_id)
            .ok_or(StoreError::NotFound("sale"))
    }
}

impl MakerStore for MemoryStore {
    fn insert_channel(&self, channel: &Channel) -> StoreResult<bool> {
        let mut g = self.lock();
        if g.channels
            .iter()
            .any(|c| c.channel_oid == channel.channel_oid)
        {
            return Ok(false);
        }
        g.channels.push(channel.clone());
        Ok(true)
    }

    fn channel(&self, channel_oid: &ChannelId) -> StoreResult<Option<Channel>> {
        Ok(self.lock().channel(channel_oid).ok().cloned())
    }

    fn channels_by_delegate(
        &self,
        delegate: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        Ok(self
            .lock()
            .channels_where(channel_type, |c| &c.delegate == delegate))
    }

    fn channels_by_member(
        &self,
        member: &Address,
        channel_type: ChannelType,
    ) -> StoreResult<Vec<Channel>> {
        Ok(self
            .lock()
            .channels_where(channel_type, |c| match channel_type {
                ChannelType::Payment => &c.actor == member,
                ChannelType::Paying => &c.recipient == member,
            }))
    }

    fn close_channel(
        &self,
        channel_oid: &ChannelId,
        expect_state: ChannelState,
        new_state: ChannelState,
        close: &ChannelClose,
    ) -> StoreResult<()> {
        self.lock()
            .mark_closing(channel_oid, expect_state, new_state, close)
    }

    fn insert_offer(&self, offer: &Offer) -> StoreResult<()> {
        let mut g = self.lock();
        if g.offers
            .iter()
            .any(|o| o.key_id == offer.key_id || o.offer_id == offer.offer_id)
        {
            return Err(StoreError::Duplicate("offer"));
        }
        g.offers.push(offer.clone());
        Ok(())
    }

    fn offer(&self, offer_id: &OfferId) -> StoreResult<Option<Offer>> {
        Ok(self
            .lock()
            .offers
            .iter()
            .find(|o| &o.offer_id == offer_id)
            .cloned())
    }

    fn offer_by_key(&self, key_id: &KeyId) -> StoreResult<Option<Offer>> {
        Ok(self
            .lock()
            .offers
            .iter()
            .find(|o| &o.key_id == key_id)
            .cloned())
    }

    fn set_offer_expires(&self, key_id: &KeyId, expires: u64) -> StoreResult<Offer> {
        let mut g = self.lock();
        let o = g
            .offers
            .iter_mut()
            .find(|o| &o.key_id == key_id)
            .ok_or(StoreError::NotFound("offer"))?;
        o.expires = Some(expires);
        Ok(o.clone())
    }

    fn query_offers(&self, query: &OfferQuery) -> StoreResult<Vec<Offer>> {
        let g = self.lock();
        let mut v: Vec<Offer> = g
            .offers
            .iter()
            .filter(|o| query.matches(o))
            .cloned()
            .collect();
        v.sort_by_key(|o| o.timestamp);
        if let Some(limit) = query.limit {
            v.truncate(limit);
        }
        Ok(v)
    }

    fn begin_sale(&self, sale: &Sale) -> StoreResult<()> {
        let mut g = self.lock();
        if g.sales.iter().any(|s| s.tx_id == sale.tx_id) {
            return Err(StoreError::Duplicate("sale"));
        }
        g.move_sale_channels(sale, rules::begin_sale)?;
        g.sales.push(Sale {
            status: SaleStatus::Inflight,
            ..sale.clone()
        });
        Ok(())
    }

    fn complete_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        receipt_signature: &Signature,
    ) -> StoreResult<(Channel, Channel)> {
        let done = rules::Completion::with_seller(seller_signature, receipt_signature);
        self.lock().complete(tx_id, done)
    }

    fn sale(&self, tx_id: &TxId) -> StoreResult<Option<Sale>> {
        Ok(self
            .lock()
            .sales
            .iter()
            .find(|s| &s.tx_id == tx_id)
            .cloned())
    }

    fn sales(&self) -> StoreResult<Vec<Sale>> {
        Ok(self.lock().sales.clone())
    }

    fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        Ok(self.lock().channels.clone())
    }

    fn advance_channel_state(
        &self,
        channel_oid: &ChannelId,
        state: ChannelState,
    ) -> StoreResult<bool> {
        let mut g = self.lock();
        match g
            .channels
            .iter_mut()
            .find(|c| &c.channel_oid == channel_oid)
        {
            Some(c) if (c.state as u8) < (state as u8) => {
                c.state = state;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn scan_cursor(&self) -> StoreResult<Option<u64>> {
        Ok(self.lock().scan_cursor)
    }

    fn set_scan_cursor(&self, next_block: u64) -> StoreResult<()> {
        self.lock().scan_cursor = Some(next_block);
        Ok(())
    }

    fn begin_close(&self, close: &ChannelClose, intent: &CloseIntent) -> StoreResult<()> {
        let mut g = self.lock();
        let oid = intent.channel_oid;
        if g.close_intents.iter().any(|c| c.channel_oid == oid) {
            return Err(StoreError::Duplicate("close intent"));
        }
        g.mark_closing(&oid, ChannelState::Open, ChannelState::Closing, close)?;
        g.close_intents.push(intent.clone());
        Ok(())
    }

    fn close_intent(&self, channel_oid: &ChannelId) -> StoreResult<Option<CloseIntent>> {
        let g = self.lock();
        Ok(g.close_intents
            .iter()
            .find(|c| &c.channel_oid == channel_oid)
            .cloned())
    }

    fn close_intents(&self) -> StoreResult<Vec<CloseIntent>> {
        Ok(self.lock().close_intents.clone())
    }

    fn save_close_progress(&self, intent: &CloseIntent, expect: CloseState) -> StoreResult<()> {
        let mut g = self.lock();
        let oid = intent.channel_oid;
        let stored = g
            .close_intents
            .iter_mut()
            .find(|c| c.channel_oid == oid)
            .ok_or(StoreError::NotFound("close intent"))?;
        if stored.state != expect {
            return Err(StoreError::Conflict(format!(
                "close intent is {:?}",
                stored.state
            )));
        }
        rules::appended_close_txs(&stored.versions, &intent.versions)?;
        *stored = intent.clone();
        let ch = g.channel_mut(&oid)?;
        if let Some(close) = ch.close.as_mut() {
            close.closed_tx = intent.tx_hash;
        }
        if let Some(state) = intent.channel_state()
            && (ch.state as u8) < (state as u8)
        {
            ch.state = state;
        }
        Ok(())
    }

    fn finalize_close(
        &self,
        channel_oid: &ChannelId,
        log_state: ChannelState,
    ) -> StoreResult<bool> {
        let mut g = self.lock();
        match g
            .close_intents
            .iter_mut()
            .find(|c| &c.channel_oid == channel_oid)
        {
            Some(c) if c.finalized_by(log_state) => {
                c.state = CloseState::Final;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn seller_signed_sale(
        &self,
        tx_id: &TxId,
        seller_signature: &Signature,
        sealed_key: &[u8],
    ) -> StoreResult<Sale> {
        let mut g = self.lock();
        g.inflight_sale(tx_id)?;
        let s = g.sale_mut(tx_id)?;
        s.status = SaleStatus::SellerSigned;
        s.seller_signature = Some(*seller_signature);
        s.sealed_key = Some(sealed_key.to_vec());
        Ok(s.clone())
    }

    fn finish_sale(
        &self,
        tx_id: &TxId,
        receipt_signature: &Signature,
        recovered: bool,
    ) -> StoreResult<(Channel, Channel)> {
        let done = rules::Completion::finish(receipt_signature, recovered);
        self.lock().complete(tx_id, done)
    }

    fn rollback_sale_with(&self, tx_id: &TxId, reason: &str, recovered: bool) -> StoreResult<()> {
        let mut g = self.lock();
        let sale = g.inflight_sale(tx_id)?;
        g.move_sale_channels(&sale, rules::rollback_sale)?;
        let s = g.sale_mut(tx_id)?;
        s.status = SaleStatus::Failed;
        s.failure = Some(reason.to_string());
        s.recovered = recovered;
        Ok(())
    }

    // ---- user keys (issue 12)

    fn user_key(&self, pubkey: &[u8; 32]) -> StoreResult<Option<UserKey>> {
        Ok(self
            .lock()
            .user_keys
            .iter()
            .find(|k| &k.pubkey == pubkey)
            .cloned())
    }

    fn add_user_key(&self, key: &UserKey, max_per_member: usize) -> StoreResult<KeyRegistration> {
        let mut g = self.lock();
        let existing = g.user_keys.iter().find(|k| k.pubkey == key.pubkey);
        let count = g
            .user_keys
            .iter()
            .filter(|k| k.member == key.member)
            .count();
        if let Some(refused) = user_keys::refusal(key, existing, count, max_per_member) {
            return Ok(refused);
        }
        g.user_keys.push(key.clone());
        Ok(KeyRegistration::Added)
    }

    fn user_keys_of(&self, member: &Address) -> StoreResult<Vec<UserKey>> {
        let g = self.lock();
        let mut v: Vec<UserKey> = g
            .user_keys
            .iter()
            .filter(|k| &k.member == member)
            .cloned()
            .collect();
        v.sort_by_key(|k| k.created);
        Ok(v)
    }

    fn remove_user_key(&self, pubkey: &[u8; 32]) -> StoreResult<bool> {
        let mut g = self.lock();
        let before = g.user_keys.len();
        g.user_keys.retain(|k| &k.pubkey != pubkey);
        Ok(g.user_keys.len() < before)
    }
}

impl Inner {
    fn complete(
        &mut self,
        tx_id: &TxId,
        done: rules::Completion<'_>,
    ) -> StoreResult<(Channel, Channel)> {
        let sale = (done.check)(self.sales.iter().find(|s| &s.tx_id == tx_id).cloned())?;
        let (payment, paying) = self.move_sale_channels(&sale, rules::complete_sale)?;
        let s = self.sale_mut(tx_id)?;
        s.status = SaleStatus::Completed;
        if let Some(sig) = done.seller_signature {
            s.seller_signature = Some(*sig);
        }
        s.maker_receipt_signature = Some(*done.receipt_signature);
        s.recovered = done.recovered;
        Ok((payment, paying))
    }
}

impl SellerStore for MemoryStore {
    fn put_seller_key(&self, key: &SellerKey) -> StoreResult<()> {
        let mut g = self.lock();
        if g.seller_keys.iter().any(|k| k.key_id == key.key_id) {
            return Err(StoreError::Duplicate("seller key"));
        }
        g.seller_keys.push(key.clone());
        Ok(())
    }

    fn mark_key_offered(&self, key_id: &KeyId) -> StoreResult<()> {
        let mut g = self.lock();
        let k = g
            .seller_keys
            .iter_mut()
            .find(|k| &k.key_id == key_id)
            .ok_or(StoreError::NotFound("seller key"))?;
        k.offered = true;
        Ok(())
    }

    fn seller_keys(&self) -> StoreResult<Vec<SellerKey>> {
        Ok(self.lock().seller_keys.clone())
    }

    fn seller_channel(&self) -> StoreResult<Option<LocalChannel>> {
        Ok(self.lock().seller_channel.clone())
    }

    fn set_seller_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        let mut g = self.lock();
        for sale in g.seller_sales.iter_mut() {
            if rules::voided_by_adopting(sale, channel) {
                sale.voided = true;
            }
        }
        g.seller_channel = Some(channel.clone());
        Ok(())
    }

    fn record_sale(&self, sale: &SellerSale) -> StoreResult<()> {
        let mut g = self.lock();
        let next = rules::advance_local(
            g.seller_channel.as_ref(),
            &sale.channel_oid,
            sale.seq,
            sale.balance,
            sale.amount,
        )?;
        if g.seller_sales
            .iter()
            .any(|s| rules::is_live_sale_at(s, &sale.channel_oid, sale.seq))
        {
            return Err(StoreError::Duplicate("seller sale"));
        }
        g.seller_channel = Some(next);
        g.seller_sales.push(SellerSale {
            voided: false,
            ..sale.clone()
        });
        Ok(())
    }

    fn seller_sales(&self) -> StoreResult<Vec<SellerSale>> {
        Ok(self.lock().seller_sales.clone())
    }
}

impl BuyerStore for MemoryStore {
    fn buyer_channel(&self) -> StoreResult<Option<LocalChannel>> {
        Ok(self.lock().buyer_channel.clone())
    }

    fn set_buyer_channel(&self, channel: &LocalChannel) -> StoreResult<()> {
        self.lock().buyer_channel = Some(channel.clone());
        Ok(())
    }

    fn record_purchase(&self, purchase: &Purchase) -> StoreResult<()> {
        self.lock().record_purchase(purchase)
    }

    fn purchase(&self, key_id: &KeyId) -> StoreResult<Option<Purchase>> {
        Ok(self.lock().purchases.get(key_id).cloned())
    }

    fn purchases(&self) -> StoreResult<Vec<Purchase>> {
        let g = self.lock();
        Ok(g.purchase_order
            .iter()
            .filter_map(|k| g.purchases.get(k).cloned())
            .collect())
    }

    fn init_buyer_receive_key(&self, wrapped: &[u8]) -> StoreResult<Vec<u8>> {
        Ok(self
            .lock()
            .buyer_receive_key
            .get_or_insert_with(|| wrapped.to_vec())
            .clone())
    }

    fn put_purchase_intent(&self, intent: &PurchaseIntent) -> StoreResult<()> {
        let mut g = self.lock();
        if g.intent_index(&intent.channel_oid).is_some() {
            return Err(StoreError::Duplicate("purchase intent"));
        }
        if g.purchases.contains_key(&intent.key_id) {
            return Err(StoreError::Duplicate("purchase"));
        }
        rules::check_intent(g.buyer_channel.as_ref(), intent)?;
        g.buyer_intents.push(intent.clone());
        Ok(())
    }

    fn purchase_intents(&self) -> StoreResult<Vec<PurchaseIntent>> {
        Ok(self.lock().buyer_intents.clone())
    }

    fn complete_purchase_intent(&self, purchase: &Purchase) -> StoreResult<()> {
        let mut g = self.lock();
        let at = g.intent_index(&purchase.channel_oid);
        rules::check_resolves(at.map(|i| &g.buyer_intents[i]), purchase)?;
        g.record_purchase(purchase)?;
        if let Some(i) = at {
            g.buyer_intents.remove(i);
        }
        Ok(())
    }

    fn drop_purchase_intent(
        &self,
        channel_oid: &ChannelId,
        seq: u64,
        adopt: Option<&LocalChannel>,
    ) -> StoreResult<()> {
        let mut g = self.lock();
        g.buyer_intents
            .retain(|i| !(&i.channel_oid == channel_oid && i.seq == seq));
        if let Some(channel) = adopt {
            g.buyer_channel = Some(channel.clone());
        }
        Ok(())
    }

    fn mark_purchase_verified(&self, key_id: &KeyId) -> StoreResult<()> {
        let mut g = self.lock();
        let p = g
            .purchases
            .get_mut(key_id)
            .ok_or(StoreError::NotFound("purchase"))?;
        p.verified = true;
        Ok(())
    }
}

impl Inner {
    /// Records a bought key, advancing the active payment channel (validates before it mutates).
    fn record_purchase(&mut self, purchase: &Purchase) -> StoreResult<()> {
        if self.purchases.contains_key(&purchase.key_id) {
            return Err(StoreError::Duplicate("purchase"));
        }
        self.buyer_channel = Some(rules::advance_local(
            self.buyer_channel.as_ref(),
            &purchase.channel_oid,
            purchase.seq,
            purchase.balance,
            purchase.amount,
        )?);
        self.purchases.insert(purchase.key_id, purchase.clone());
        self.purchase_order.push(purchase.key_id);
        Ok(())
    }

    /// Where the pending intent on a channel is kept.
    fn intent_index(&self, channel_oid: &ChannelId) -> Option<usize> {
        self.buyer_intents
            .iter()
            .position(|i| &i.channel_oid == channel_oid)
    }
}

//! [`NonceManager`]: the next nonce of each sending address, shared by every send of a
//! [`Gateway`](crate::Gateway) and its clones.
//!
//! A nonce is taken and its transaction signed and sent under the address's lock, so concurrent
//! sends from one key get distinct nonces. The next nonce is the larger of the one counted here
//! and the node's pending count (another program may use the key too); after a nonce error, a
//! failed send or a dropped transaction the count here is forgotten and the node's is used.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use alloy_primitives::Address;
use tokio::sync::OwnedMutexGuard;

/// What is known of one address's nonces.
#[derive(Debug, Default)]
pub(crate) struct NonceSlot {
    /// The nonce after the last one this process sent, if still trusted.
    next: Option<u64>,
    /// The [`NonceManager`] epoch `next` belongs to (a newer epoch forgets it).
    epoch: u64,
}

/// The next nonce per address (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct NonceManager {
    slots: Arc<Mutex<HashMap<Address, Arc<tokio::sync::Mutex<NonceSlot>>>>>,
    /// Bumped by [`NonceManager::forget_all`].
    epoch: Arc<AtomicU64>,
}

/// An address's slot, held while its transaction is signed and sent.
pub(crate) struct NonceLease {
    slot: OwnedMutexGuard<NonceSlot>,
    epoch: u64,
}

impl NonceManager {
    /// Waits for `address`'s lock.
    pub(crate) async fn lease(&self, address: Address) -> NonceLease {
        let slot = {
            let mut map = self
                .slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.entry(address).or_default().clone()
        };
        NonceLease {
            slot: slot.lock_owned().await,
            epoch: self.epoch.load(Ordering::SeqCst),
        }
    }

    /// Forgets every address's count (a transaction was dropped: the node's pending count is
    /// the truth again).
    pub(crate) fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

impl NonceLease {
    /// The nonce to use, given the node's pending transaction count.
    pub(crate) fn next(&self, pending: u64) -> u64 {
        match self.slot.next {
            Some(next) if self.slot.epoch == self.epoch => next.max(pending),
            _ => pending,
        }
    }

    /// `nonce` was accepted by the node.
    pub(crate) fn sent(&mut self, nonce: u64) {
        self.slot.next = Some(nonce.saturating_add(1));
        self.slot.epoch = self.epoch;
    }

    /// The count here is no longer trusted (nonce error, or a send whose fate is unknown).
    pub(crate) fn forget(&mut self) {
        self.slot.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_ahead_of_a_lagging_node_and_follows_one_ahead_of_us() {
        let m = NonceManager::default();
        let a = Address::repeat_byte(1);
        let mut lease = m.lease(a).await;
        assert_eq!(lease.next(4), 4);
        lease.sent(4);
        assert_eq!(lease.next(4), 5, "the node has not seen nonce 4 yet");
        assert_eq!(lease.next(9), 9, "another program used the key");
        lease.forget();
        assert_eq!(lease.next(4), 4);
        drop(lease);

        let mut lease = m.lease(a).await;
        lease.sent(7);
        drop(lease);
        m.forget_all();
        assert_eq!(m.lease(a).await.next(3), 3, "a dropped transaction resyncs");
        assert_eq!(m.lease(Address::ZERO).await.next(0), 0);
    }

    #[tokio::test]
    async fn one_address_is_leased_once_at_a_time() {
        let m = NonceManager::default();
        let a = Address::repeat_byte(2);
        let lease = m.lease(a).await;
        let other = m.clone();
        let waiting = tokio::spawn(async move { other.lease(a).await.next(0) });
        // A different address is not blocked.
        drop(m.lease(Address::repeat_byte(3)).await);
        assert!(!waiting.is_finished());
        drop(lease);
        assert_eq!(waiting.await.unwrap(), 0);
    }
}

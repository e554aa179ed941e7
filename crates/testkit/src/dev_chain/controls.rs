//! Dev-only chain controls that both kinds offer under different method names.

use serde_json::{Value, json};

use super::{ChainKind, DevChain};

impl DevChain {
    /// Turns automatic mining (a block per transaction) off or on. With it off, sent
    /// transactions stay pending until [`mine`](DevChain::mine); turning it back on mines what
    /// is pending (ganache mines a block then even when nothing is). anvil: `evm_setAutomine`;
    /// ganache: `miner_stop` / `miner_start`.
    ///
    /// With automine on, anvil may answer `eth_sendTransaction` before the block is there:
    /// wait for the receipt, do not expect it at once.
    ///
    /// # Panics
    /// If the chain refuses.
    pub fn set_automine(&self, on: bool) {
        match (self.kind, on) {
            (ChainKind::Anvil, on) => self.rpc("evm_setAutomine", json!([on])),
            (ChainKind::Ganache, true) => self.rpc("miner_start", json!([])),
            (ChainKind::Ganache, false) => self.rpc("miner_stop", json!([])),
        };
    }

    /// Mines `blocks` blocks now, the first one with the pending transactions (whether automine
    /// is on or not). anvil: `anvil_mine`; ganache: `evm_mine` with `{"blocks": n}`.
    ///
    /// # Panics
    /// If the chain refuses.
    pub fn mine(&self, blocks: u64) {
        match self.kind {
            ChainKind::Anvil => self.rpc("anvil_mine", json!([format!("0x{blocks:x}")])),
            ChainKind::Ganache => self.rpc("evm_mine", json!([{ "blocks": blocks }])),
        };
    }

    /// Sets the balance of `address_hex` (`0x…`) to `wei_hex` (a `0x…` quantity).
    /// anvil: `anvil_setBalance`; ganache: `evm_setAccountBalance`.
    ///
    /// # Panics
    /// If the chain refuses.
    pub fn set_balance(&self, address_hex: &str, wei_hex: &str) {
        let method = match self.kind {
            ChainKind::Anvil => "anvil_setBalance",
            ChainKind::Ganache => "evm_setAccountBalance",
        };
        self.rpc(method, json!([address_hex, wei_hex]));
    }

    /// The number of the latest block (`eth_blockNumber`).
    ///
    /// # Panics
    /// If the chain does not answer with a quantity.
    pub fn block_number(&self) -> u64 {
        quantity(&self.rpc("eth_blockNumber", json!([])))
    }
}

/// Parses a JSON-RPC quantity (`"0x…"`).
///
/// # Panics
/// If `value` is not one.
fn quantity(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|hex| hex.strip_prefix("0x"))
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or_else(|| panic!("xbrd-testkit: {value} is not a JSON-RPC quantity"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_hex() {
        assert_eq!(quantity(&json!("0x0")), 0);
        assert_eq!(quantity(&json!("0x539")), 1337);
        assert!(std::panic::catch_unwind(|| quantity(&json!(12))).is_err());
    }
}

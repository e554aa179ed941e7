//! Helpers to read the vector files in `tests/data/`.
#![allow(dead_code)]

use std::collections::HashMap;

use alloy_primitives::{Address, B256, FixedBytes, U256, hex};
use serde_json::value::RawValue;

/// Reads a file from `tests/data/`.
pub fn data(name: &str) -> String {
    // The runtime CARGO_MANIFEST_DIR first: a reused test binary may come from another checkout.
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let path = format!("{dir}/tests/data/{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes hex with or without `0x`.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// A typed-data message as raw JSON values, so integers above 2^64 keep every digit.
pub struct Msg(pub HashMap<String, Box<RawValue>>);

impl Msg {
    pub fn parse(raw: &RawValue) -> Self {
        Msg(serde_json::from_str(raw.get()).expect("message object"))
    }

    fn raw(&self, name: &str) -> &str {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("field {name} missing"))
            .get()
    }

    fn text(&self, name: &str) -> String {
        let raw = self.raw(name);
        if raw.starts_with('"') {
            serde_json::from_str::<String>(raw).unwrap()
        } else {
            raw.to_owned()
        }
    }

    pub fn u256(&self, name: &str) -> U256 {
        U256::from_str_radix(&self.text(name), 10).unwrap()
    }
    pub fn u64(&self, name: &str) -> u64 {
        self.text(name).parse().unwrap()
    }
    pub fn u32(&self, name: &str) -> u32 {
        self.text(name).parse().unwrap()
    }
    pub fn u8(&self, name: &str) -> u8 {
        self.text(name).parse().unwrap()
    }
    pub fn bool(&self, name: &str) -> bool {
        serde_json::from_str(self.raw(name)).unwrap()
    }
    pub fn string(&self, name: &str) -> String {
        serde_json::from_str(self.raw(name)).unwrap()
    }
    pub fn address(&self, name: &str) -> Address {
        Address::from_slice(&unhex(&self.string(name)))
    }
    pub fn b16(&self, name: &str) -> FixedBytes<16> {
        FixedBytes::from_slice(&unhex(&self.string(name)))
    }
    pub fn b32(&self, name: &str) -> B256 {
        B256::from_slice(&unhex(&self.string(name)))
    }
}

//! xbrd: the XBR data-market daemon — configuration, CLI, admin API, service behaviour and wiring.
//!
//! The binary (`src/main.rs`) is a thin shell over this library so that the admin API and the configuration
//! can be tested in-process as well as through the real binary.
#![deny(unsafe_code)]

pub mod admin;
pub mod backup;
pub mod chain;
pub mod chain_cmd;
pub mod cli;
pub mod cli_docs;
pub mod component;
pub mod config;
pub mod error_report;
pub mod eth_key;
pub mod health;
pub mod keygen;
pub mod logging;
pub mod metrics;
pub mod ports;
pub mod register_key;
pub mod roles;
pub mod run;
pub mod service;
pub mod status;
pub mod wiring;

//! The three XBR data-market roles — market maker, seller and buyer — with their durable state
//! behind storage traits.
#![deny(unsafe_code)]

pub mod store;
pub mod types;

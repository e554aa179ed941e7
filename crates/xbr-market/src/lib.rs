//! The three XBR data-market roles — market maker, seller and buyer — with their durable state
//! behind storage traits, wire-compatible with the reference (Autobahn|Python's XBR code and
//! Crossbar's market maker).
//!
//! | module | what |
//! |---|---|
//! | [`maker`] | [`maker::MarketMaker`] by concern (offers, buy, channels, close, dispatch); the procedures as one enum, [`maker::Procedure`]; `buy_key` as named steps |
//! | [`seller`] | [`seller::Seller`]: key series, offers, `sell`, `close_channel` |
//! | [`buyer`] | [`buyer::Buyer`]: `unwrap`, purchases on demand |
//! | [`store`] | [`store::MakerStore`], [`store::SellerStore`], [`store::BuyerStore`]; in-memory and SQLite |
//! | [`wire`] | WAMP payload ↔ typed requests/results ([`wire::WireMessage`]) in the reference's order and types, one module per request family |
//! | [`peer`] | [`peer::Caller`]/[`peer::Publisher`] (the transport seam), [`peer::MakerClient`], the seller's [`peer::ProviderProcedure`]s |
//! | [`adapter`] | the roles on a wamp-client session ([`adapter::session`]) |
//! | [`runtime`] | the role runtime: what each role registers, subscribes and does after a join |
//! | [`chain`] | [`maker::MakerChain`] over xbr-chain |
//! | [`local`] | an in-process bus for tests and benchmarks |
//! | [`invariants`] | the money-path invariants over store records (maker, seller, buyer, across parties) |
//! | [`interfaces`] | the reference's interfaces (IMarketMaker, IProvider, ISeller, IBuyer, IConsumer) |
//!
//! The roles are plain structs driven by typed calls; they never see a socket. An adapter turns
//! a WAMP session into a [`peer::Caller`] + [`peer::Publisher`] and registers the procedures.
#![deny(unsafe_code)]

pub mod adapter;
pub mod buyer;
pub mod chain;
pub mod error;
pub mod failpoint;
pub mod interfaces;
pub mod invariants;
pub mod local;
pub mod maker;
mod own_channel;
pub mod peer;
pub mod runtime;
pub mod seller;
pub mod sig;
pub mod store;
pub mod types;
pub mod wire;

pub use buyer::{AllowList, Buyer, BuyerConfig, PURCHASES_IN_FLIGHT};
pub use error::{MarketError, MarketResult};
pub use maker::{MakerChain, MakerConfig, MarketMaker};
pub use seller::{ApiSpec, Seller, SellerConfig};
pub use store::{BuyerStore, MakerStore, MemoryStore, SellerStore, SqliteStore};

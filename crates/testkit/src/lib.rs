//! Real-peer test harness for xbrd.
//!
//! Integration tests start the real thing through this crate: a Crossbar.io router
//! ([`Crossbar`]), a dev chain ([`DevChain`]: ganache or anvil, see [`ChainKind`]) and
//! Autobahn|Python scripts ([`PythonPeer`]). Each runs on 127.0.0.1 on free ports, in its own process group, and is
//! stopped (SIGTERM, then SIGKILL) when its handle is dropped.
//!
//! The peers are installed by `scripts/peers.sh install` into `$XBRD_PEERS_DIR` (default
//! `<repo>/.peers`). A missing install or a peer that cannot start is a loud panic, never a skip.
//!
//! `$XBRD_PEER_READY_TIMEOUT` (seconds, default 180) bounds how long a peer may take to start:
//! Crossbar needs 7-9 s on a quiet machine but over a minute on a heavily loaded one.
//!
//! Orphan protection, for test processes that die without running destructors:
//! - every child gets `setpriv --pdeathsig TERM` (when available); children are spawned from one
//!   long-lived thread, so the signal fires when the test process ends, not when a test thread does;
//! - when `$XBRD_RUN_DIR` is set (as `scripts/test.sh` does), each child is recorded there as
//!   `testkit-<name>-<pid>.pid` ("pid pgid starttime"), removed on a clean stop; whatever is left
//!   is stopped by `scripts/peers.sh stop --dir $XBRD_RUN_DIR`.
//!
//! ```no_run
//! use xbrd_testkit::{ChainKind, Crossbar, DevChain};
//!
//! let router = Crossbar::start();
//! println!("router at {} and {}", router.ws_url, router.rs_url);
//! for kind in ChainKind::ALL {
//!     let chain = DevChain::start(kind);
//!     assert_eq!(chain.chain_id, 1337);
//! }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod cast;
mod crossbar;
mod dev_chain;
pub mod net;
mod paths;
mod process;
mod python;

pub use cast::cast_wallet_new;
pub use crossbar::{Crossbar, default_crossbar_config};
pub use dev_chain::{ChainKind, DEV_KEYS, DevChain, GANACHE_KEYS, Ganache};
pub use net::free_port;
pub use paths::{cast_bin, contracts_dir, manifest_dir, peers_dir, python, repo_root};
pub use python::PythonPeer;

/// Realm open to anonymous clients, everything allowed.
pub const REALM_ANONYMOUS: &str = "realm1";
/// Realm for authenticated clients (ticket, wampcra, cryptosign), everything allowed.
pub const REALM_AUTH: &str = "realm2";
/// The secured XBR market realm: the maker joins over [`Crossbar::maker_url`] (role `xbrmm`,
/// everything allowed); delegates over [`Crossbar::ws_market_url`] with WAMP-cryptosign, checked
/// by the maker's dynamic authenticator (role `user`, whose every action the maker's dynamic
/// authorizer `xbr.marketmaker.authorizer.authorize` decides); anonymous sessions may only read
/// the maker's status (`get_config`, `get_status`, `status`, `on_status`).
pub const REALM_MARKET: &str = "xbr-market";
/// An XBR market realm open to anonymous clients with everything allowed, for library tests of
/// the protocol logic (the maker without caller checks). Test config only: never ship it.
pub const REALM_MARKET_OPEN: &str = "xbr-market-open";

/// Ticket principal configured on the router (realm2).
pub const TICKET_AUTHID: &str = "alice";
/// Ticket of [`TICKET_AUTHID`].
pub const TICKET_SECRET: &str = "alice-ticket-secret";
/// WAMP-CRA user with a plain secret (realm2).
pub const WAMPCRA_AUTHID: &str = "bob";
/// WAMP-CRA user whose secret is salted (PBKDF2, salt [`WAMPCRA_SALT`], 100 iterations, 32 bytes).
pub const WAMPCRA_SALTED_AUTHID: &str = "bob-salted";
/// Secret of both WAMP-CRA users.
pub const WAMPCRA_SECRET: &str = "bob-cra-secret";
/// PBKDF2 salt of [`WAMPCRA_SALTED_AUTHID`].
pub const WAMPCRA_SALT: &str = "salt123";
/// PBKDF2 iterations of [`WAMPCRA_SALTED_AUTHID`].
pub const WAMPCRA_ITERATIONS: u32 = 100;
/// PBKDF2 derived key length of [`WAMPCRA_SALTED_AUTHID`].
pub const WAMPCRA_KEYLEN: u32 = 32;
/// WAMP-cryptosign principal (realm2).
pub const CRYPTOSIGN_AUTHID: &str = "carol";
/// Ed25519 seed (hex) of [`CRYPTOSIGN_AUTHID`]; a public test key, never use it elsewhere.
pub const CRYPTOSIGN_PRIVATE_KEY_HEX: &str =
    "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
/// Ed25519 public key (hex) of [`CRYPTOSIGN_AUTHID`], as authorized in the router config.
pub const CRYPTOSIGN_PUBLIC_KEY_HEX: &str =
    "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d";

/// Mnemonic of ganache's deterministic wallet (10 unlocked accounts, 1000 ETH each); anvil is
/// started with it too.
pub const GANACHE_MNEMONIC: &str =
    "myth like bonus scare over problem client lizard pioneer submit female collect";
/// Chain id and network id of the ganache dev chain.
pub const GANACHE_CHAIN_ID: u64 = 1337;
/// The dev wallet of every [`DevChain`] kind: [`GANACHE_MNEMONIC`].
pub const DEV_MNEMONIC: &str = GANACHE_MNEMONIC;
/// Chain id of every [`DevChain`] kind: [`GANACHE_CHAIN_ID`].
pub const DEV_CHAIN_ID: u64 = GANACHE_CHAIN_ID;

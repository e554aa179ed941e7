//! Flow tests of [`ClientAuth`]/[`AuthAttempt`] over `Dict`s, as the session state machine uses them:
//! `methods` (anonymous, ticket, WAMP-CRA, cryptosign), `scram`, `hostile` (never panic, never leak).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::*;

const NONCE: [u8; 32] = [0x11; 32];

/// Carol's seed (see `cryptosign::tests::carol_seed_gives_the_configured_public_key`).
const CAROL_SEED: &str = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
const CAROL_PUBKEY: &str = "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d";

fn dict(pairs: Vec<(&str, Value)>) -> Dict {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn carol() -> ClientAuth {
    ClientAuth::cryptosign("carol", CryptosignKey::from_hex(CAROL_SEED).unwrap())
}

mod hostile;
mod methods;
mod scram;

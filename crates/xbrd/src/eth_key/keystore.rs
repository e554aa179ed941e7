//! Ethereum keystore v3 files (Web3 Secret Storage: geth, Foundry's `cast wallet new`, MetaMask
//! exports): recognised, checked and decrypted (scrypt or PBKDF2-HMAC-SHA256, Keccak-256 MAC,
//! AES-128-CTR) with RustCrypto's primitives.
//!
//! Every field is checked before any work is done: KDF costs are bounded (a file must not be able
//! to ask for gigabytes of memory or minutes of CPU), lengths are exact, and the MAC is compared in
//! constant time before anything is decrypted.
//!
//! Why not the `eth-keystore` crate (what alloy-signer-local's `keystore` feature uses): its pinned
//! scrypt 0.10 refuses valid files (the Web3 Secret Storage spec's own scrypt vector, r = 1, fails
//! with `InvalidParams`), it panics on a short IV instead of returning an error, and it bounds no
//! KDF cost, so a hostile file could ask for gigabytes. The format is a composition of maintained
//! primitives (`scrypt`, `pbkdf2`, `aes` + `ctr`, Keccak-256 from xbr-core); only the checks are ours.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy_primitives::Address;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::KeyFileError;

/// Largest scrypt working memory a keystore may ask for (`128 · r · n` bytes): 1 GiB, four times
/// geth's "standard" parameters (n = 2^18, r = 8).
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// Largest scrypt work (`n · r · p`): four times geth's standard and the spec's test vector.
const MAX_SCRYPT_WORK: u64 = 1 << 23;
/// Largest PBKDF2 iteration count (the spec's vector uses 262 144).
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

/// Whether a key file's bytes are a JSON keystore rather than a raw key. 32 raw bytes that are not
/// UTF-8 are a raw key even when they begin with `{`.
pub fn looks_like_keystore(bytes: &[u8]) -> bool {
    let raw_binary = bytes.len() == 32 && std::str::from_utf8(bytes).is_err();
    !raw_binary && bytes.trim_ascii_start().first() == Some(&b'{')
}

#[derive(Deserialize)]
struct KeystoreJson {
    version: Option<u64>,
    /// Pre-standard files (early MyEtherWallet, some geth versions) spell it `Crypto`.
    #[serde(alias = "Crypto")]
    crypto: Option<CryptoJson>,
    address: Option<String>,
}

#[derive(Deserialize)]
struct CryptoJson {
    cipher: String,
    cipherparams: CipherParamsJson,
    ciphertext: String,
    kdf: String,
    kdfparams: serde_json::Value,
    mac: String,
}

#[derive(Deserialize)]
struct CipherParamsJson {
    iv: String,
}

#[derive(Deserialize)]
struct ScryptJson {
    dklen: u64,
    n: u64,
    r: u32,
    p: u32,
    salt: String,
}

#[derive(Deserialize)]
struct Pbkdf2Json {
    dklen: u64,
    c: u32,
    prf: String,
    salt: String,
}

/// The key derivation a keystore names, with checked parameters.
enum Kdf {
    Scrypt(scrypt::Params),
    Pbkdf2 { rounds: u32 },
}

/// A checked keystore, ready to decrypt.
struct Keystore {
    kdf: Kdf,
    salt: Vec<u8>,
    iv: [u8; 16],
    ciphertext: [u8; 32],
    mac: [u8; 32],
    address: Option<Address>,
}

fn hex_array<const N: usize>(field: &str, text: &str) -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| format!("`{field}` is not {N} bytes of hex"))?;
    Ok(out)
}

fn parse(bytes: &[u8]) -> Result<Keystore, String> {
    let file: KeystoreJson =
        serde_json::from_slice(bytes).map_err(|e| format!("not a keystore v3 JSON file ({e})"))?;
    if file.version != Some(3) {
        return Err("not a version 3 keystore (`\"version\": 3` is missing)".into());
    }
    let crypto = file.crypto.ok_or("the `crypto` object is missing")?;
    if crypto.cipher != "aes-128-ctr" {
        return Err(format!(
            "unsupported cipher {:?} (keystore v3 defines aes-128-ctr)",
            crypto.cipher
        ));
    }
    let params = |e: serde_json::Error| format!("`crypto.kdfparams` for {}: {e}", crypto.kdf);
    let (kdf, dklen, salt) = match crypto.kdf.as_str() {
        "scrypt" => {
            let s: ScryptJson = serde_json::from_value(crypto.kdfparams.clone()).map_err(params)?;
            let (n, r, p) = (s.n, u64::from(s.r), u64::from(s.p));
            let memory = 128u64.saturating_mul(r).saturating_mul(n);
            let work = n.saturating_mul(r).saturating_mul(p);
            if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
                return Err(format!(
                    "scrypt parameters n={n} r={r} p={p} exceed the supported cost \
                     (memory ≤ {MAX_SCRYPT_MEMORY} bytes, n·r·p ≤ {MAX_SCRYPT_WORK})"
                ));
            }
            if n < 2 || !n.is_power_of_two() {
                return Err(format!("scrypt parameter n={n} is not a power of two ≥ 2"));
            }
            let params = scrypt::Params::new(n.ilog2() as u8, s.r, s.p)
                .map_err(|_| format!("invalid scrypt parameters n={n} r={r} p={p}"))?;
            (Kdf::Scrypt(params), s.dklen, s.salt)
        }
        "pbkdf2" => {
            let p: Pbkdf2Json = serde_json::from_value(crypto.kdfparams.clone()).map_err(params)?;
            if p.prf != "hmac-sha256" {
                return Err(format!("unsupported pbkdf2 prf {:?} (hmac-sha256)", p.prf));
            }
            if p.c == 0 || p.c > MAX_PBKDF2_ROUNDS {
                return Err(format!(
                    "pbkdf2 c={} is not in 1..={MAX_PBKDF2_ROUNDS}",
                    p.c
                ));
            }
            (Kdf::Pbkdf2 { rounds: p.c }, p.dklen, p.salt)
        }
        other => return Err(format!("unsupported kdf {other:?} (scrypt or pbkdf2)")),
    };
    if dklen != 32 {
        return Err(format!("`crypto.kdfparams.dklen` is {dklen}, expected 32"));
    }
    let address = file
        .address
        .map(|a| hex_array::<20>("address", a.strip_prefix("0x").unwrap_or(&a)).map(Address::from))
        .transpose()?;
    Ok(Keystore {
        kdf,
        salt: hex::decode(&salt).map_err(|_| "`crypto.kdfparams.salt` is not hex".to_string())?,
        iv: hex_array("crypto.cipherparams.iv", &crypto.cipherparams.iv)?,
        ciphertext: hex_array("crypto.ciphertext", &crypto.ciphertext)?,
        mac: hex_array("crypto.mac", &crypto.mac)?,
        address,
    })
}

/// Checks and decrypts keystore JSON `bytes` (read from `path`, named in errors) with
/// `passphrase`. Returns the key and the file's `address` field, when it has one (geth and cast
/// write it; the spec does not require it).
pub fn decrypt(
    path: &Path,
    bytes: &[u8],
    passphrase: &[u8],
) -> Result<(Zeroizing<[u8; 32]>, Option<Address>), KeyFileError> {
    let ks = parse(bytes).map_err(|reason| KeyFileError::Keystore {
        path: path.to_owned(),
        reason,
    })?;
    let mut derived = Zeroizing::new([0u8; 32]);
    match &ks.kdf {
        Kdf::Scrypt(params) => scrypt::scrypt(passphrase, &ks.salt, params, &mut derived[..])
            .expect("32 bytes is a valid scrypt output length"),
        Kdf::Pbkdf2 { rounds } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, &ks.salt, *rounds, &mut derived[..])
        }
    }
    let mut mac_input = Vec::with_capacity(48);
    mac_input.extend_from_slice(&derived[16..]);
    mac_input.extend_from_slice(&ks.ciphertext);
    let mac = xbr_core::eth::keccak(&mac_input);
    if !bool::from(mac.as_slice().ct_eq(&ks.mac)) {
        return Err(KeyFileError::WrongPassphrase {
            path: path.to_owned(),
        });
    }
    let mut key = Zeroizing::new(ks.ciphertext);
    ctr::Ctr128BE::<aes::Aes128>::new_from_slices(&derived[..16], &ks.iv)
        .expect("16-byte key and IV")
        .apply_keystream(&mut key[..]);
    Ok((key, ks.address))
}

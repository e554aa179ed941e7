//! WAMP-CRA (challenge-response): `base64(HMAC-SHA256(key, challenge))`.
//!
//! The key is the secret's UTF-8 bytes, or for salted secrets the *base64 text* of
//! `PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)`: Autobahn|Python's `derive_key` returns the
//! base64 ASCII and `compute_wcs` uses those ASCII bytes as the HMAC key, and Crossbar.io checks the
//! same value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{AuthError, Secret};

/// The authmethod string.
pub const METHOD: &str = "wampcra";

/// Largest PBKDF2 iteration count accepted from a challenge (bounds the CPU a router can make us spend).
pub const MAX_ITERATIONS: u32 = 10_000_000;

/// Largest derived key length accepted from a challenge, in bytes.
pub const MAX_KEYLEN: usize = 1024;

/// Derives the salted WAMP-CRA key: `base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen))`.
///
/// The result is the base64 *text*; its ASCII bytes are the HMAC key for [`compute_signature`].
pub fn derive_key(
    secret: &[u8],
    salt: &[u8],
    iterations: u32,
    keylen: usize,
) -> Result<Secret, AuthError> {
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(AuthError::InvalidField {
            method: METHOD,
            field: "iterations",
            reason: format!("{iterations} is outside 1..={MAX_ITERATIONS}"),
        });
    }
    if keylen == 0 || keylen > MAX_KEYLEN {
        return Err(AuthError::InvalidField {
            method: METHOD,
            field: "keylen",
            reason: format!("{keylen} is outside 1..={MAX_KEYLEN}"),
        });
    }
    let mut derived = Zeroizing::new(vec![0u8; keylen]);
    pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt, iterations, &mut derived);
    Ok(Secret::new(STANDARD.encode(&*derived)))
}

/// Computes the WAMP-CRA signature: `base64(HMAC-SHA256(key, challenge))`.
pub fn compute_signature(key: &[u8], challenge: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(key, challenge))
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of every length, so this never fails.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Autobahn|Python `test_wamp_auth.py::test_compute_wcs`: secret "L3L1YUE8Txlw",
    /// challenge `json.dumps([1, 2, 3])` = "[1, 2, 3]".
    #[test]
    fn autobahn_compute_wcs_vector() {
        assert_eq!(
            compute_signature(b"L3L1YUE8Txlw", b"[1, 2, 3]"),
            "1njQtmmeYO41N5EWEzD2kAjjEKRZ5kPZt/TzpYXOzR0="
        );
    }

    /// Autobahn|Python `test_wamp_auth.py::test_derive_key`: defaults iterations 1000, keylen 32.
    #[test]
    fn autobahn_derive_key_vector() {
        let key = derive_key(b"L3L1YUE8Txlw", b"salt123", 1000, 32).unwrap();
        assert_eq!(key.expose(), "qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y=");
    }

    /// The salted user of the test router config (bob-salted: bob-cra-secret / salt123 / 100 / 32).
    /// Expected values computed independently with Python's standard library:
    /// `k = base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"bob-cra-secret", b"salt123", 100, 32))`,
    /// `base64.b64encode(hmac.new(k, challenge, hashlib.sha256).digest())`.
    #[test]
    fn salted_key_matches_independent_computation() {
        let key = derive_key(b"bob-cra-secret", b"salt123", 100, 32).unwrap();
        assert_eq!(key.expose(), "JzF8/yp+MDVL+zI5UN4LjPF+SiDlgWZhAxHK31pF+WY=");
        let challenge = br#"{"authid":"bob-salted","nonce":"x"}"#;
        assert_eq!(
            compute_signature(key.as_bytes(), challenge),
            "wHwQaH8i+8Ker9Kfyop2EfmMqJO9ilqvpVJ7+z0f9dM="
        );
        // Unsalted: the secret's bytes are the key.
        assert_eq!(
            compute_signature(b"bob-cra-secret", challenge),
            "XG3mcepPxreGRzA8t1R7UpohjWy5h+8sngNFb831mZs="
        );
    }

    #[test]
    fn derive_key_rejects_out_of_range_parameters() {
        for (iterations, keylen, field) in [
            (0, 32, "iterations"),
            (MAX_ITERATIONS + 1, 32, "iterations"),
            (100, 0, "keylen"),
            (100, MAX_KEYLEN + 1, "keylen"),
        ] {
            match derive_key(b"s", b"salt", iterations, keylen) {
                Err(AuthError::InvalidField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("expected InvalidField({field}), got {other:?}"),
            }
        }
    }
}

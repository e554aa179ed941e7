//! WAMP-SCRAM: the client side of the salted challenge-response exchange (RFC 5802 with SHA-256).
//!
//! Messages: HELLO `authextra` carries the client `nonce` (base64) and `channel_binding: null`;
//! CHALLENGE extra carries `nonce` (client nonce extended by the router), `salt` (base64), `kdf`,
//! `iterations` and, for Argon2, `memory` (KiB); AUTHENTICATE carries `base64(ClientProof)`; WELCOME
//! `authextra.scram_server_signature` carries `base64(ServerSignature)`, which the client verifies.
//!
//! This follows what Crossbar.io (the router) and Autobahn|Python compute, where they differ from the
//! WAMP spec text:
//! - `AuthMessage = "n=" authid ",r=" client_nonce "," "r=" nonce ",s=" salt ",i=" iterations ","
//!   "c=" ",r=" nonce`: the authid is SASLprep-ed but not escaped, and the channel-binding attribute
//!   is empty (`c=`), not `base64("n,,")`, because Crossbar.io verifies exactly that.
//! - argon2id (`kdf` "argon2id-13", or the spec's "argon2id13"): parallelism 1, 32-byte output, salt =
//!   base64-decoded `salt`; `SaltedPassword` is the *unpadded base64 text* of the 32-byte hash (the
//!   hash field of the PHC string that Autobahn|Python's `derive_scram_credential` uses).
//! - pbkdf2: PBKDF2-HMAC-SHA256 over the base64-decoded salt, 32 raw bytes as `SaltedPassword`.
//! - The password is used as UTF-8 without SASLprep, as Autobahn|Python does, so credentials made
//!   with its tools verify.
//!
//! KDF costs come from the router, so they are bounded ([`MAX_ARGON2_MEMORY_KIB`],
//! [`MAX_ARGON2_WORK_KIB`], [`MAX_PBKDF2_ITERATIONS`]) to keep a hostile router from exhausting
//! memory or CPU. No minimum is enforced: the router's configuration decides.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::AuthError;
use super::wampcra::hmac_sha256;

/// The authmethod string.
pub const METHOD: &str = "scram";

/// Largest Argon2 memory cost accepted from a challenge: 256 MiB.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;

/// Largest Argon2 `memory × iterations` accepted from a challenge, in KiB passes (about 16 GiB of
/// memory traffic; Crossbar.io's default credentials use 512 KiB × 4096 = 2 GiB).
pub const MAX_ARGON2_WORK_KIB: u64 = 1 << 24;

/// Largest PBKDF2 iteration count accepted from a challenge.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The key derivation function and its cost parameters, as named in the CHALLENGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// Argon2id version 1.3, parallelism 1, 32-byte output.
    Argon2id13 {
        /// Time cost (`iterations`).
        iterations: u32,
        /// Memory cost in KiB (`memory`).
        memory_kib: u32,
    },
    /// PBKDF2-HMAC-SHA256, 32-byte output.
    Pbkdf2 {
        /// Iteration count (`iterations`).
        iterations: u32,
    },
}

impl Kdf {
    /// Builds the KDF from the CHALLENGE's `kdf`, `iterations` and `memory` fields, checking bounds.
    pub fn from_challenge(
        name: &str,
        iterations: u64,
        memory_kib: Option<u64>,
    ) -> Result<Self, AuthError> {
        let invalid = |field, reason: String| AuthError::InvalidField {
            method: METHOD,
            field,
            reason,
        };
        match name {
            "argon2id-13" | "argon2id13" => {
                let memory_kib = memory_kib.ok_or(AuthError::MissingField {
                    method: METHOD,
                    field: "memory",
                })?;
                if iterations == 0 {
                    return Err(invalid("iterations", "argon2id needs at least 1".into()));
                }
                if !(8..=u64::from(MAX_ARGON2_MEMORY_KIB)).contains(&memory_kib) {
                    return Err(invalid(
                        "memory",
                        format!("{memory_kib} KiB is outside 8..={MAX_ARGON2_MEMORY_KIB}"),
                    ));
                }
                if iterations.saturating_mul(memory_kib) > MAX_ARGON2_WORK_KIB {
                    return Err(invalid(
                        "iterations",
                        format!(
                            "argon2id cost {iterations} x {memory_kib} KiB exceeds {MAX_ARGON2_WORK_KIB}"
                        ),
                    ));
                }
                Ok(Self::Argon2id13 {
                    iterations: u32::try_from(iterations)
                        .map_err(|_| invalid("iterations", format!("{iterations} is too large")))?,
                    memory_kib: u32::try_from(memory_kib)
                        .map_err(|_| invalid("memory", format!("{memory_kib} is too large")))?,
                })
            }
            "pbkdf2" => {
                if iterations == 0 || iterations > u64::from(MAX_PBKDF2_ITERATIONS) {
                    return Err(invalid(
                        "iterations",
                        format!("{iterations} is outside 1..={MAX_PBKDF2_ITERATIONS}"),
                    ));
                }
                Ok(Self::Pbkdf2 {
                    iterations: iterations as u32,
                })
            }
            other => Err(invalid("kdf", format!("unknown KDF {other:?}"))),
        }
    }

    /// The iteration count (the `i=` attribute of the AuthMessage).
    pub fn iterations(&self) -> u32 {
        match *self {
            Self::Argon2id13 { iterations, .. } | Self::Pbkdf2 { iterations } => iterations,
        }
    }
}

/// `SaltedPassword = KDF(password, salt, params)` as Crossbar.io and Autobahn|Python compute it.
pub fn salted_password(
    password: &[u8],
    salt: &[u8],
    kdf: &Kdf,
) -> Result<Zeroizing<Vec<u8>>, AuthError> {
    let mut hash = Zeroizing::new([0u8; 32]);
    match *kdf {
        Kdf::Argon2id13 {
            iterations,
            memory_kib,
        } => {
            let invalid = |reason: String| AuthError::InvalidField {
                method: METHOD,
                field: "kdf",
                reason,
            };
            let params = argon2::Params::new(memory_kib, iterations, 1, Some(32))
                .map_err(|e| invalid(format!("argon2id parameters: {e}")))?;
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(password, salt, &mut *hash)
                .map_err(|e| invalid(format!("argon2id: {e}")))?;
            Ok(Zeroizing::new(STANDARD_NO_PAD.encode(*hash).into_bytes()))
        }
        Kdf::Pbkdf2 { iterations } => {
            pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut *hash);
            Ok(Zeroizing::new(hash.to_vec()))
        }
    }
}

/// The SCRAM `AuthMessage` (see the module documentation for the exact form).
pub fn auth_message(
    authid: &str,
    client_nonce: &str,
    nonce: &str,
    salt: &str,
    iterations: u32,
) -> String {
    format!("n={authid},r={client_nonce},r={nonce},s={salt},i={iterations},c=,r={nonce}")
}

/// The client's answer to a SCRAM challenge, and what it needs to verify the router afterwards.
pub struct ClientFinal {
    /// `base64(ClientProof)`: the AUTHENTICATE signature.
    pub proof: String,
    server_key: Zeroizing<[u8; 32]>,
    auth_message: String,
}

impl ClientFinal {
    /// Checks the router's `base64(ServerSignature)` against `HMAC(ServerKey, AuthMessage)`, in
    /// constant time.
    pub fn verify_server_signature(&self, signature_b64: &str) -> Result<(), AuthError> {
        let received = STANDARD
            .decode(signature_b64)
            .map_err(|e| AuthError::InvalidField {
                method: METHOD,
                field: "scram_server_signature",
                reason: format!("not base64: {e}"),
            })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&*self.server_key)
            .expect("HMAC accepts keys of any length");
        mac.update(self.auth_message.as_bytes());
        mac.verify_slice(&received)
            .map_err(|_| AuthError::BadServerSignature)
    }
}

/// Computes the client-final proof for one challenge.
///
/// `salt` is the base64 text from the CHALLENGE (it enters the AuthMessage verbatim and is decoded
/// for the KDF); `client_nonce` is the base64 nonce sent in HELLO, `nonce` the CHALLENGE nonce.
pub fn client_final(
    authid: &str,
    password: &[u8],
    client_nonce: &str,
    nonce: &str,
    salt: &str,
    kdf: &Kdf,
) -> Result<ClientFinal, AuthError> {
    let authid = stringprep::saslprep(authid).map_err(|e| AuthError::InvalidField {
        method: METHOD,
        field: "authid",
        reason: format!("SASLprep: {e}"),
    })?;
    let salt_bytes = STANDARD.decode(salt).map_err(|e| AuthError::InvalidField {
        method: METHOD,
        field: "salt",
        reason: format!("not base64: {e}"),
    })?;
    let salted = salted_password(password, &salt_bytes, kdf)?;
    let auth_message = auth_message(&authid, client_nonce, nonce, salt, kdf.iterations());

    let client_key = Zeroizing::new(hmac_sha256(&salted, b"Client Key"));
    let stored_key = Zeroizing::new(<[u8; 32]>::from(Sha256::digest(*client_key)));
    let client_signature = hmac_sha256(&*stored_key, auth_message.as_bytes());
    let mut proof = [0u8; 32];
    for ((p, k), s) in proof
        .iter_mut()
        .zip(client_key.iter())
        .zip(client_signature)
    {
        *p = k ^ s;
    }
    let server_key = Zeroizing::new(hmac_sha256(&salted, b"Server Key"));
    Ok(ClientFinal {
        proof: STANDARD.encode(proof),
        server_key,
        auth_message,
    })
}

/// Whether the CHALLENGE `nonce` extends the client nonce: as text (the spec's concatenation) or as
/// decoded bytes (Crossbar.io sends `base64(client_nonce_bytes ‖ server_bytes)`).
pub(crate) fn nonce_extends(nonce: &str, client_nonce: &str, client_nonce_bytes: &[u8]) -> bool {
    if nonce.len() > client_nonce.len() && nonce.starts_with(client_nonce) {
        return true;
    }
    match STANDARD.decode(nonce) {
        Ok(bytes) => {
            bytes.len() > client_nonce_bytes.len() && bytes.starts_with(client_nonce_bytes)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Autobahn|Python `test_wamp_auth.py::TestScram::test_basic`: authid "username", password
    /// "p4ssw0rd", client nonce and salt "31323334353637383930616263646566", nonce
    /// "1234567890abcdeffedcba0987654321", argon2id-13, 32 iterations, 512 KiB.
    /// The server signature was computed independently with argon2-cffi and Python's hmac/hashlib
    /// (`hash_secret(...)` → PHC hash field → HMAC(HMAC(sp, "Server Key"), AuthMessage)).
    #[test]
    fn autobahn_argon2id_vector() {
        let kdf = Kdf::from_challenge("argon2id-13", 32, Some(512)).unwrap();
        let salt = "31323334353637383930616263646566";
        let out = client_final(
            "username",
            b"p4ssw0rd",
            salt,
            "1234567890abcdeffedcba0987654321",
            salt,
            &kdf,
        )
        .unwrap();
        assert_eq!(out.proof, "f5r3loERzGVSuimE+lvO0bWna2zyswBo0HrZkaaEy38=");
        out.verify_server_signature("hNxIqEr5aKBN23w/LWOZ7s71mf5zfEIIE9Rn2baeXck=")
            .unwrap();
        assert_eq!(
            out.verify_server_signature("f5r3loERzGVSuimE+lvO0bWna2zyswBo0HrZkaaEy38="),
            Err(AuthError::BadServerSignature)
        );
    }

    /// Autobahn|Python `test_pbkdf2_static`: PBKDF2-HMAC-SHA256("p4ssw0rd", "1234567890abcdef", 8).
    #[test]
    fn autobahn_pbkdf2_vector() {
        let salted = salted_password(
            b"p4ssw0rd",
            b"1234567890abcdef",
            &Kdf::Pbkdf2 { iterations: 8 },
        )
        .unwrap();
        assert_eq!(
            hex::encode(&*salted),
            "f6991a28c75f43751e0d75499fd7b8649f659118ddc1d61cee5883af547d15f5"
        );
    }

    /// Autobahn|Python `test_argon2id_static` (from the reference `argon2` tool): the hash bytes are
    /// the base64 decoding of the salted password text.
    #[test]
    fn autobahn_argon2id_static_vector() {
        let kdf = Kdf::Argon2id13 {
            iterations: 32,
            memory_kib: 512,
        };
        let salted = salted_password(b"p4ssw0rd", b"1234567890abcdef", &kdf).unwrap();
        let raw = STANDARD_NO_PAD.decode(&*salted).unwrap();
        assert_eq!(
            hex::encode(raw),
            "ee4a8acf9d5958354fb79a95ae20692d05e42591ba49fae85eb6700e8b0ed293"
        );
    }

    #[test]
    fn kdf_parameters_are_checked() {
        let field_of = |r: Result<Kdf, AuthError>| match r {
            Err(AuthError::InvalidField { field, .. })
            | Err(AuthError::MissingField { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(
            field_of(Kdf::from_challenge("argon2id-13", 32, None)),
            "memory"
        );
        assert_eq!(
            field_of(Kdf::from_challenge("argon2id-13", 0, Some(512))),
            "iterations"
        );
        assert_eq!(
            field_of(Kdf::from_challenge("argon2id-13", 1, Some(4))),
            "memory"
        );
        assert_eq!(
            field_of(Kdf::from_challenge(
                "argon2id-13",
                1,
                Some(u64::from(MAX_ARGON2_MEMORY_KIB) + 1)
            )),
            "memory"
        );
        assert_eq!(
            field_of(Kdf::from_challenge("argon2id-13", u64::MAX, Some(512))),
            "iterations"
        );
        assert_eq!(
            field_of(Kdf::from_challenge("pbkdf2", 0, None)),
            "iterations"
        );
        assert_eq!(
            field_of(Kdf::from_challenge(
                "pbkdf2",
                u64::from(MAX_PBKDF2_ITERATIONS) + 1,
                None
            )),
            "iterations"
        );
        assert_eq!(field_of(Kdf::from_challenge("scrypt", 4096, None)), "kdf");
        assert_eq!(
            Kdf::from_challenge("argon2id13", 4096, Some(512)),
            Ok(Kdf::Argon2id13 {
                iterations: 4096,
                memory_kib: 512
            })
        );
        assert_eq!(
            Kdf::from_challenge("pbkdf2", 4096, Some(512)),
            Ok(Kdf::Pbkdf2 { iterations: 4096 })
        );
    }

    #[test]
    fn bad_salt_and_short_argon2_salt_are_errors() {
        let kdf = Kdf::from_challenge("argon2id-13", 1, Some(8)).unwrap();
        let err = client_final("u", b"p", "Y24=", "Y24AAAA=", "not base64!", &kdf).err();
        assert!(matches!(
            err,
            Some(AuthError::InvalidField { field: "salt", .. })
        ));
        // argon2 needs at least 8 salt bytes; "AAAA" decodes to 3.
        let err = client_final("u", b"p", "Y24=", "Y24AAAA=", "AAAA", &kdf).err();
        assert!(matches!(
            err,
            Some(AuthError::InvalidField { field: "kdf", .. })
        ));
    }

    #[test]
    fn nonce_extension_by_text_or_bytes() {
        let client_bytes = [1u8; 16];
        let client = STANDARD.encode(client_bytes);
        let mut router = client_bytes.to_vec();
        router.extend_from_slice(&[9u8; 16]);
        assert!(nonce_extends(
            &STANDARD.encode(&router),
            &client,
            &client_bytes
        ));
        assert!(nonce_extends(
            &format!("{client}SBmkFIh7sSo="),
            &client,
            &client_bytes
        ));
        assert!(!nonce_extends(&client, &client, &client_bytes));
        assert!(!nonce_extends(
            &STANDARD.encode([2u8; 32]),
            &client,
            &client_bytes
        ));
        assert!(!nonce_extends("", &client, &client_bytes));
    }
}

//! WAMP-cryptosign: Ed25519 challenge signing.
//!
//! The client announces its public key in HELLO `authextra.pubkey` (64 hex digits). The router sends
//! `challenge` (32 random bytes, hex) and `channel_binding` in the CHALLENGE extra. The client signs
//! the 32 challenge bytes (XORed with the 32-byte TLS channel id when `tls-unique` binding is used)
//! and answers with `hex(signature ‖ signed message)`: 96 bytes, 192 hex digits, as Autobahn|Python
//! does and Crossbar.io checks.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::AuthError;

/// The authmethod string.
pub const METHOD: &str = "cryptosign";

/// An Ed25519 private key for WAMP-cryptosign.
///
/// The key material is zeroized on drop; `Debug` prints only the public key.
#[derive(Clone)]
pub struct CryptosignKey {
    signing: SigningKey,
}

impl CryptosignKey {
    /// The key for a 32-byte Ed25519 seed (the "private key" of Autobahn|Python and PyNaCl).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut seed = seed;
        let signing = SigningKey::from_bytes(&seed);
        seed.zeroize();
        Self { signing }
    }

    /// Parses a hex private key: either the 32-byte seed (64 hex digits) or the 64-byte
    /// NaCl/libsodium secret key `seed ‖ public key` (128 hex digits; the public half must match).
    pub fn from_hex(private_key_hex: &str) -> Result<Self, AuthError> {
        let text = private_key_hex.trim();
        let bytes = Zeroizing::new(hex::decode(text).map_err(|_| {
            // The decoder's message would quote a character of the key; say only what was expected.
            AuthError::InvalidKey("expected 64 or 128 hex digits".into())
        })?);
        let mut seed = Zeroizing::new([0u8; 32]);
        match bytes.len() {
            32 => seed.copy_from_slice(&bytes),
            64 => seed.copy_from_slice(&bytes[..32]),
            n => {
                return Err(AuthError::InvalidKey(format!(
                    "expected a 32-byte seed or a 64-byte secret key, got {n} bytes"
                )));
            }
        }
        let key = Self::from_seed(*seed);
        if bytes.len() == 64 && bytes[32..] != key.public_key() {
            return Err(AuthError::InvalidKey(
                "the public half of the 64-byte secret key does not match its seed".into(),
            ));
        }
        Ok(key)
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as 64 lowercase hex digits (the form of HELLO `authextra.pubkey` and of
    /// Crossbar.io's `authorized_keys`).
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// Signs `message` (plain Ed25519, RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// Answers a cryptosign challenge: `hex(sign(m) ‖ m)` where `m` is the challenge, or the
    /// challenge XOR `channel_id` when `tls-unique` channel binding is in use.
    pub fn sign_challenge(&self, challenge: &[u8; 32], channel_id: Option<&[u8; 32]>) -> String {
        let mut message = *challenge;
        if let Some(channel_id) = channel_id {
            for (m, c) in message.iter_mut().zip(channel_id) {
                *m ^= c;
            }
        }
        let mut signed = Vec::with_capacity(96);
        signed.extend_from_slice(&self.sign(&message));
        signed.extend_from_slice(&message);
        hex::encode(signed)
    }
}

impl fmt::Debug for CryptosignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptosignKey")
            .field("public_key", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

// `SigningKey` zeroizes its secret on drop (ed25519-dalek's `zeroize` feature).
impl ZeroizeOnDrop for CryptosignKey {}

/// Parses the hex `challenge` field of a cryptosign CHALLENGE extra: exactly 32 bytes.
pub(crate) fn parse_challenge(challenge_hex: &str) -> Result<[u8; 32], AuthError> {
    let invalid = |reason: String| AuthError::InvalidField {
        method: METHOD,
        field: "challenge",
        reason,
    };
    let bytes = hex::decode(challenge_hex).map_err(|e| invalid(format!("not hex: {e}")))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| invalid(format!("expected 32 bytes, got {}", bytes.len())))
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

    use super::*;

    fn seed(hex_seed: &str) -> [u8; 32] {
        hex::decode(hex_seed).unwrap().try_into().unwrap()
    }

    /// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
    #[test]
    fn rfc8032_vectors() {
        let key = CryptosignKey::from_seed(seed(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        assert_eq!(
            key.public_key_hex(),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );

        let key = CryptosignKey::from_seed(seed(
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        ));
        assert_eq!(
            key.public_key_hex(),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
        );
        assert_eq!(
            hex::encode(key.sign(&[0x72])),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        );
    }

    /// The test router's cryptosign principal "carol" authorizes public key `1adfc8bf…116d`. That is
    /// the public key of the OpenSSH test key in Autobahn|Python's `test_wamp_cryptosign.py`, whose
    /// seed is the first private key of its signature vectors.
    #[test]
    fn carol_seed_gives_the_configured_public_key() {
        let key = CryptosignKey::from_hex(
            "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
        )
        .unwrap();
        assert_eq!(
            key.public_key_hex(),
            "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d"
        );
    }

    /// Autobahn|Python `test_wamp_cryptosign.py` `test_vectors_1`: (channel id, seed, challenge, response).
    const AUTOBAHN_VECTORS: [(Option<&str>, &str, &str, &str); 6] = [
        (
            None,
            "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
        (
            None,
            "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
            "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
            "d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
        ),
        (
            None,
            "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
            "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
            "7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
        ),
        (
            Some("62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff"),
            "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00",
        ),
        (
            Some("62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff"),
            "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd",
            "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
            "305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282",
        ),
        (
            Some("62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff"),
            "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b",
            "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
            "ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d",
        ),
    ];

    #[test]
    fn autobahn_response_vectors() {
        for (channel_id, seed_hex, challenge_hex, expected) in AUTOBAHN_VECTORS {
            let key = CryptosignKey::from_seed(seed(seed_hex));
            let challenge = parse_challenge(challenge_hex).unwrap();
            let channel_id = channel_id.map(seed);
            assert_eq!(
                key.sign_challenge(&challenge, channel_id.as_ref()),
                expected
            );
        }
    }

    /// The response layout Crossbar.io checks: 96 bytes = signature(64) ‖ signed message(32), where
    /// the signature verifies under the announced public key.
    #[test]
    fn response_layout_is_signature_then_message() {
        let key = CryptosignKey::from_seed([7; 32]);
        let challenge = [0xA5; 32];
        let response = hex::decode(key.sign_challenge(&challenge, None)).unwrap();
        assert_eq!(response.len(), 96);
        assert_eq!(&response[64..], &challenge);
        let signature = Signature::from_slice(&response[..64]).unwrap();
        let verifying = VerifyingKey::from_bytes(&key.public_key()).unwrap();
        verifying.verify(&challenge, &signature).unwrap();
        // A different challenge does not verify under that signature.
        assert!(verifying.verify(&[0x5A; 32], &signature).is_err());
    }

    #[test]
    fn from_hex_accepts_seed_and_nacl_secret_key() {
        let seed_hex = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
        let pub_hex = "1adfc8bfe1d35616e64dffbd900096f23b066f914c8c2ffbb66f6075b96e116d";
        let long = CryptosignKey::from_hex(&format!("{seed_hex}{pub_hex}\n")).unwrap();
        assert_eq!(long.public_key_hex(), pub_hex);

        let wrong_pub = format!("{seed_hex}{}", "00".repeat(32));
        assert!(matches!(
            CryptosignKey::from_hex(&wrong_pub),
            Err(AuthError::InvalidKey(_))
        ));
        for bad in ["", "zz", &seed_hex[..62], &format!("{seed_hex}00")] {
            assert!(
                matches!(CryptosignKey::from_hex(bad), Err(AuthError::InvalidKey(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn invalid_key_error_does_not_quote_the_key() {
        let err = CryptosignKey::from_hex("4d57d97a68f5556966_0a6d849c0ce58").unwrap_err();
        assert!(!err.to_string().contains("4d57"), "{err}");
    }

    #[test]
    fn debug_prints_only_the_public_key() {
        let seed_hex = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510";
        let key = CryptosignKey::from_hex(seed_hex).unwrap();
        let printed = format!("{key:?} {key:#?}");
        assert!(printed.contains("1adfc8bfe1d35616"), "{printed}");
        assert!(!printed.contains("4d57d97a"), "{printed}");
    }

    #[test]
    fn parse_challenge_rejects_bad_input() {
        for bad in ["", "abc", "zz", &"ab".repeat(31), &"ab".repeat(33)] {
            assert!(
                matches!(
                    parse_challenge(bad),
                    Err(AuthError::InvalidField {
                        field: "challenge",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}

//! secp256k1 Ethereum keys: addresses, the XBR `provider_id`, and recoverable signatures over
//! 32-byte digests in the `r ‖ s ‖ v` (v = 27/28) layout the reference uses.

use alloy_primitives::{Address, B256, hex, keccak256};
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::ops::{Invert, LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::subtle::Choice;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use rand_core::CryptoRngCore;
use thiserror::Error;
use zeroize::Zeroizing;

/// Length of a wire signature: `r(32) ‖ s(32) ‖ v(1)`.
pub const SIGNATURE_LEN: usize = 65;

/// Why a private key could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not 32 bytes.
    #[error("private key must be 32 bytes, got {len}")]
    BadLength {
        /// The length that was given.
        len: usize,
    },
    /// Not hex.
    #[error("private key is not valid hex")]
    NotHex,
    /// Zero, or not below the curve order.
    #[error("private key is not a valid secp256k1 scalar")]
    OutOfRange,
}

/// Why a signature could not be recovered to an address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// Not 65 bytes.
    #[error("signature must be 65 bytes (r|s|v), got {len}")]
    BadLength {
        /// The length that was given.
        len: usize,
    },
    /// The last byte is not 27 or 28.
    #[error("signature v must be 27 or 28, got {v}")]
    BadV {
        /// The byte that was given.
        v: u8,
    },
    /// `r` or `s` is zero or not below the curve order.
    #[error("signature r or s is out of range")]
    Malformed,
    /// No public key recovers from this signature and digest.
    #[error("no public key recovers from this signature")]
    Unrecoverable,
}

/// A secp256k1 private key (an Ethereum account or delegate key).
///
/// The scalar is wiped on drop; `Debug` shows only the address.
#[derive(Clone)]
pub struct EthPrivateKey {
    signing: SigningKey,
}

impl EthPrivateKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        SigningKey::from_bytes(bytes.into())
            .map(|signing| Self { signing })
            .map_err(|_| KeyError::OutOfRange)
    }

    /// From a slice that must be 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let arr: &[u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::BadLength { len: bytes.len() })?;
        Self::from_bytes(arr)
    }

    /// From 64 hex digits, with or without `0x`, surrounding whitespace ignored.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        if digits.len() != 64 {
            return Err(KeyError::BadLength {
                len: digits.len() / 2,
            });
        }
        let mut raw = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, raw.as_mut()).map_err(|_| KeyError::NotHex)?;
        Self::from_bytes(&raw)
    }

    /// A fresh random key.
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        Self {
            signing: SigningKey::random(rng),
        }
    }

    /// The 32 raw bytes (wiped when the returned value is dropped).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes().into())
    }

    /// The 64-byte uncompressed public key without the `0x04` prefix.
    pub fn public_key_bytes(&self) -> [u8; 64] {
        public_key_bytes(self.signing.verifying_key())
    }

    /// The Ethereum address: the last 20 bytes of keccak256 of the 64-byte public key.
    pub fn address(&self) -> Address {
        address_of(self.signing.verifying_key())
    }

    /// The XBR `provider_id`: `"0x"` + 128 lowercase hex digits of the uncompressed public key
    /// without `04` (what `str(eth_keys PublicKey)` gives in the reference, spec §2.1).
    pub fn provider_id(&self) -> String {
        format!("0x{}", hex::encode(self.public_key_bytes()))
    }

    /// Signs a 32-byte digest: RFC 6979 deterministic nonce, low-s, `r ‖ s ‖ v` with v = 27/28.
    pub fn sign_digest(&self, digest: &B256) -> crate::Signature {
        // k256 signs with an RFC 6979 nonce and normalises s to the lower half, adjusting the
        // recovery id; a 32-byte prehash for secp256k1 cannot fail.
        let (sig, recid) = self
            .signing
            .sign_prehash_recoverable(digest.as_slice())
            .expect("a 32-byte digest is a valid secp256k1 prehash");
        let mut out = [0u8; SIGNATURE_LEN];
        out[..64].copy_from_slice(&sig.to_bytes());
        out[64] = 27 + recid.to_byte();
        crate::Signature(out)
    }
}

impl std::fmt::Debug for EthPrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthPrivateKey")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

fn public_key_bytes(vk: &VerifyingKey) -> [u8; 64] {
    let point = vk.to_encoded_point(false);
    let mut out = [0u8; 64];
    out.copy_from_slice(&point.as_bytes()[1..]);
    out
}

fn address_of(vk: &VerifyingKey) -> Address {
    Address::from_raw_public_key(&public_key_bytes(vk))
}

/// Recovers the signer address from a 32-byte digest and a 65-byte `r ‖ s ‖ v` signature.
///
/// `v` must be 27 or 28, as the reference insists. Like `ecrecover` and the reference's
/// recovery, a high-s signature recovers to the same signer as its low-s twin.
pub fn recover_digest(digest: &B256, signature: &[u8]) -> Result<Address, SignatureError> {
    if signature.len() != SIGNATURE_LEN {
        return Err(SignatureError::BadLength {
            len: signature.len(),
        });
    }
    let v = signature[64];
    let y_odd = match v {
        27 | 28 => v - 27,
        _ => return Err(SignatureError::BadV { v }),
    };
    let sig = Signature::from_slice(&signature[..64]).map_err(|_| SignatureError::Malformed)?;
    let (r, s) = sig.split_scalars();
    // Q = r⁻¹ (s·R − z·G), the standard public-key recovery. `ecdsa`'s `recover_from_prehash`
    // additionally re-verifies the signature against Q, which always holds for a Q computed
    // this way and costs a second double-scalar multiplication.
    let z = <Scalar as Reduce<k256::U256>>::reduce_bytes(digest.as_slice().into());
    let big_r: Option<AffinePoint> =
        AffinePoint::decompress(&r.to_repr(), Choice::from(y_odd)).into();
    let big_r = big_r.ok_or(SignatureError::Unrecoverable)?;
    // r is public; a variable-time inversion is fine and faster
    let r_inv: Option<Scalar> = r.as_ref().invert_vartime().into();
    let r_inv = r_inv.ok_or(SignatureError::Malformed)?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * *s;
    let q = ProjectivePoint::lincomb(
        &ProjectivePoint::GENERATOR,
        &u1,
        &ProjectivePoint::from(big_r),
        &u2,
    );
    let vk = VerifyingKey::from_affine(q.to_affine()).map_err(|_| SignatureError::Unrecoverable)?;
    Ok(address_of(&vk))
}

/// keccak256, re-exported for callers that hash wire data.
pub fn keccak(data: impl AsRef<[u8]>) -> B256 {
    keccak256(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0xadd53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743";

    #[test]
    fn debug_never_shows_the_key() {
        let k = EthPrivateKey::from_hex(KEY).unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.to_lowercase().contains(&KEY[2..10]));
        assert!(dbg.contains("address"));
    }

    #[test]
    fn key_parsing_errors() {
        assert_eq!(
            EthPrivateKey::from_slice(&[1u8; 31]).unwrap_err(),
            KeyError::BadLength { len: 31 }
        );
        assert_eq!(
            EthPrivateKey::from_bytes(&[0u8; 32]).unwrap_err(),
            KeyError::OutOfRange
        );
        assert_eq!(
            EthPrivateKey::from_bytes(&[0xff; 32]).unwrap_err(),
            KeyError::OutOfRange
        );
        let not_hex = "z".repeat(64);
        assert_eq!(
            EthPrivateKey::from_hex(&not_hex).unwrap_err(),
            KeyError::NotHex
        );
        let k = EthPrivateKey::from_hex(KEY).unwrap();
        assert_eq!(
            EthPrivateKey::from_bytes(&k.to_bytes()).unwrap().address(),
            k.address()
        );
    }

    #[test]
    fn recover_rejects_malformed_signatures() {
        let k = EthPrivateKey::from_hex(KEY).unwrap();
        let digest = keccak(b"xbr");
        let sig = k.sign_digest(&digest);
        assert_eq!(recover_digest(&digest, &sig).unwrap(), k.address());
        assert_eq!(
            recover_digest(&digest, &sig[..64]),
            Err(SignatureError::BadLength { len: 64 })
        );
        for v in [0u8, 1, 26, 29, 255] {
            let mut bad = sig.0;
            bad[64] = v;
            assert_eq!(
                recover_digest(&digest, &bad),
                Err(SignatureError::BadV { v })
            );
        }
        let mut zero_r = sig.0;
        zero_r[..32].fill(0);
        assert_eq!(
            recover_digest(&digest, &zero_r),
            Err(SignatureError::Malformed)
        );
        let mut big_s = sig.0;
        big_s[32..64].fill(0xff);
        assert_eq!(
            recover_digest(&digest, &big_s),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn recovery_agrees_with_the_ecdsa_crate() {
        use k256::ecdsa::RecoveryId;
        for i in 0u8..32 {
            let k = EthPrivateKey::from_bytes(&[i + 1; 32]).unwrap();
            let digest = keccak([i]);
            let sig = k.sign_digest(&digest);
            let reference = VerifyingKey::recover_from_prehash(
                digest.as_slice(),
                &Signature::from_slice(&sig[..64]).unwrap(),
                RecoveryId::from_byte(sig[64] - 27).unwrap(),
            )
            .unwrap();
            assert_eq!(
                recover_digest(&digest, &sig).unwrap(),
                address_of(&reference)
            );
            assert_eq!(address_of(&reference), k.address());
        }
    }

    #[test]
    fn high_s_twin_recovers_to_the_same_signer() {
        let k = EthPrivateKey::from_hex(KEY).unwrap();
        let digest = keccak(b"malleable");
        let sig = k.sign_digest(&digest);
        let low = Signature::from_slice(&sig[..64]).unwrap();
        let (r, s) = low.split_scalars();
        let high = Signature::from_scalars(r.to_repr(), (-*s).to_repr()).unwrap();
        let mut twin = [0u8; 65];
        twin[..64].copy_from_slice(&high.to_bytes());
        twin[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(recover_digest(&digest, &twin).unwrap(), k.address());
    }
}

//! Raw signatures as npm `ssh2` makes them (see `crypto` for the algorithms). The
//! registry only verifies; signing is for tests and clients (feature `signing`).

use ecdsa::signature::Signer;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Digest, Sha512};

use super::crypto::{Curve, PublicMaterial};

/// A key that can sign, built from the fields of an OpenSSH private key.
pub(crate) enum SigningMaterial {
    Ed25519(ed25519_compact::KeyPair),
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl SigningMaterial {
    /// ssh2 keeps only the 32-byte seed of an Ed25519 key and derives the rest.
    pub(crate) fn ed25519(seed: &[u8]) -> Result<Self, String> {
        let seed = ed25519_compact::Seed::from_slice(seed)
            .map_err(|_| "the Ed25519 seed is not 32 bytes".to_owned())?;
        ed25519_compact::KeyPair::try_from_seed(seed)
            .map(SigningMaterial::Ed25519)
            .map_err(|_| "the Ed25519 seed is all zeros".to_owned())
    }

    pub(crate) fn rsa(n: &[u8], e: &[u8], d: &[u8], p: &[u8], q: &[u8]) -> Result<Self, String> {
        let int = BigUint::from_bytes_be;
        RsaPrivateKey::from_components(int(n), int(e), int(d), vec![int(p), int(q)])
            .map(|key| SigningMaterial::Rsa(Box::new(key)))
            .map_err(|e| format!("the RSA private key is invalid ({e})"))
    }

    /// `secret` is the SSH mpint of the private scalar (it may carry a leading zero).
    pub(crate) fn ecdsa(curve: Curve, secret: &[u8]) -> Result<Self, String> {
        let first_nonzero = secret.iter().position(|&b| b != 0).unwrap_or(secret.len());
        let secret = &secret[first_nonzero..];
        let invalid = |_| format!("the ECDSA private scalar is not valid for {}", curve.label());
        match curve {
            Curve::P256 => {
                p256::ecdsa::SigningKey::from_slice(secret).map(SigningMaterial::P256).map_err(invalid)
            }
            Curve::P384 => {
                p384::ecdsa::SigningKey::from_slice(secret).map(SigningMaterial::P384).map_err(invalid)
            }
            Curve::P521 => {
                p521::ecdsa::SigningKey::from_slice(secret).map(SigningMaterial::P521).map_err(invalid)
            }
        }
    }

    pub(crate) fn public(&self) -> PublicMaterial {
        match self {
            SigningMaterial::Ed25519(pair) => PublicMaterial::Ed25519(*pair.pk),
            SigningMaterial::Rsa(key) => PublicMaterial::Rsa { e: mpint(key.e()), n: mpint(key.n()) },
            SigningMaterial::P256(key) => {
                ecdsa_public(Curve::P256, key.verifying_key().to_encoded_point(false).as_bytes())
            }
            SigningMaterial::P384(key) => {
                ecdsa_public(Curve::P384, key.verifying_key().to_encoded_point(false).as_bytes())
            }
            SigningMaterial::P521(key) => ecdsa_public(
                Curve::P521,
                p521::ecdsa::VerifyingKey::from(key).to_encoded_point(false).as_bytes(),
            ),
        }
    }

    /// Signs deterministically, so signing the same payload twice gives the same bytes.
    pub(crate) fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            // Plain RFC 8032 signing (no added noise), byte-identical to Node's.
            SigningMaterial::Ed25519(pair) => Ok(pair.sk.sign(payload, None).to_vec()),
            SigningMaterial::Rsa(key) => rsa::pkcs1v15::SigningKey::<Sha1>::new(key.as_ref().clone())
                .try_sign(payload)
                .map(|signature| Box::<[u8]>::from(signature).into_vec())
                .map_err(|e| format!("RSA signing failed ({e})")),
            SigningMaterial::P256(key) => {
                let signature: p256::ecdsa::Signature = key.try_sign(payload).map_err(ecdsa_failed)?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            SigningMaterial::P384(key) => {
                let signature: p384::ecdsa::Signature = key.try_sign(payload).map_err(ecdsa_failed)?;
                Ok(signature.to_der().as_bytes().to_vec())
            }
            SigningMaterial::P521(key) => sign_p521(key, payload),
        }
    }
}

fn ecdsa_public(curve: Curve, point: &[u8]) -> PublicMaterial {
    PublicMaterial::Ecdsa { curve, point: point.to_vec() }
}

fn ecdsa_failed(error: ecdsa::Error) -> String {
    format!("ECDSA signing failed ({error})")
}

/// An SSH mpint body: big-endian, with a zero byte in front when the top bit is set.
fn mpint(value: &BigUint) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    match bytes.first() {
        Some(&top) if top >= 0x80 => [&[0][..], &bytes].concat(),
        _ => bytes,
    }
}

/// P-521 with SHA-512. The p521 crate offers only randomised signing, and the core
/// has no randomness, so the nonce comes from HMAC-DRBG(SHA-512) seeded with the
/// secret scalar and the digest, the construction RFC 6979 uses.
fn sign_p521(key: &p521::ecdsa::SigningKey, payload: &[u8]) -> Result<Vec<u8>, String> {
    use p521::elliptic_curve::PrimeField;

    let digest =
        ecdsa::hazmat::bits2field::<p521::NistP521>(&Sha512::digest(payload)).map_err(ecdsa_failed)?;
    let secret: &p521::Scalar = key.as_nonzero_scalar().as_ref();
    let mut drbg = rfc6979::HmacDrbg::<Sha512>::new(&key.to_bytes(), &digest, &[]);
    loop {
        let mut candidate = p521::FieldBytes::default();
        drbg.fill_bytes(&mut candidate);
        // The group order has 521 bits: keep the low 521 of the 528 drawn.
        candidate[0] &= 0x01;
        let Some(nonce) = Option::<p521::Scalar>::from(p521::Scalar::from_repr(candidate)) else {
            continue;
        };
        if bool::from(nonce.is_zero()) {
            continue;
        }
        let (signature, _) = ecdsa::hazmat::sign_prehashed::<p521::NistP521, _>(secret, nonce, &digest)
            .map_err(ecdsa_failed)?;
        return Ok(signature.to_der().as_bytes().to_vec());
    }
}

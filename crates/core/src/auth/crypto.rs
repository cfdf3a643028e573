//! Raw signatures as npm `ssh2` makes them: the signature algorithm runs over the
//! payload bytes themselves (no SSHSIG envelope, no SSH signature blob).
//!
//! | key type              | algorithm                         | signature bytes      |
//! |-----------------------|-----------------------------------|----------------------|
//! | `ssh-ed25519`         | Ed25519                           | 64 raw bytes         |
//! | `ssh-rsa`             | RSA PKCS#1 v1.5 with SHA-1        | modulus-sized        |
//! | `ecdsa-sha2-nistp256` | ECDSA P-256 with SHA-256          | DER `(r, s)`         |
//! | `ecdsa-sha2-nistp384` | ECDSA P-384 with SHA-384          | DER `(r, s)`         |
//! | `ecdsa-sha2-nistp521` | ECDSA P-521 with SHA-512          | DER `(r, s)`         |
//!
//! `ssh-dss` keys parse (so that upstream's all-or-nothing owner parsing behaves the
//! same) but never verify and cannot sign.

use ecdsa::signature::{Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha512};

use super::wire::put_string;

/// OpenSSL's largest RSA modulus for verification (`OPENSSL_RSA_MAX_MODULUS_BITS`).
const RSA_MAX_VERIFY_BITS: usize = 16384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The curve for a base key type (`ecdsa-sha2-nistp256` …).
    pub(crate) fn for_key_type(base_type: &str) -> Option<Curve> {
        match base_type {
            "ecdsa-sha2-nistp256" => Some(Curve::P256),
            "ecdsa-sha2-nistp384" => Some(Curve::P384),
            "ecdsa-sha2-nistp521" => Some(Curve::P521),
            _ => None,
        }
    }

    fn ssh_name(self) -> &'static str {
        match self {
            Curve::P256 => "nistp256",
            Curve::P384 => "nistp384",
            Curve::P521 => "nistp521",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }
}

/// The public half of a key, as ssh2 keeps it: fields are taken as read, and only
/// checked when a signature is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicMaterial {
    Ed25519([u8; 32]),
    Rsa { e: Vec<u8>, n: Vec<u8> },
    Ecdsa { curve: Curve, point: Vec<u8> },
    Dsa { blob_fields: Vec<Vec<u8>> },
}

impl PublicMaterial {
    /// Checks a raw signature over `payload`; `Err` says why it does not verify.
    pub(crate) fn verify(&self, payload: &[u8], signature: &[u8]) -> Result<(), String> {
        match self {
            PublicMaterial::Ed25519(key) => verify_ed25519(key, payload, signature),
            PublicMaterial::Rsa { e, n } => verify_rsa(e, n, payload, signature),
            PublicMaterial::Ecdsa { curve, point } => verify_ecdsa(*curve, point, payload, signature),
            PublicMaterial::Dsa { .. } => Err("DSA (ssh-dss) keys are not supported".to_owned()),
        }
    }

    /// The OpenSSH public key blob (what follows the key type in `authorized_keys`).
    pub(crate) fn to_blob(&self) -> Vec<u8> {
        let mut blob = Vec::new();
        match self {
            PublicMaterial::Ed25519(key) => {
                put_string(&mut blob, b"ssh-ed25519");
                put_string(&mut blob, key);
            }
            PublicMaterial::Rsa { e, n } => {
                put_string(&mut blob, b"ssh-rsa");
                put_string(&mut blob, e);
                put_string(&mut blob, n);
            }
            PublicMaterial::Ecdsa { curve, point } => {
                put_string(&mut blob, format!("ecdsa-sha2-{}", curve.ssh_name()).as_bytes());
                put_string(&mut blob, curve.ssh_name().as_bytes());
                put_string(&mut blob, point);
            }
            PublicMaterial::Dsa { blob_fields } => {
                put_string(&mut blob, b"ssh-dss");
                for field in blob_fields {
                    put_string(&mut blob, field);
                }
            }
        }
        blob
    }
}

fn verify_ed25519(key: &[u8; 32], payload: &[u8], signature: &[u8]) -> Result<(), String> {
    let signature = ed25519_compact::Signature::from_slice(signature).map_err(|_| {
        format!("the signature is {} bytes long, an Ed25519 signature is 64 bytes", signature.len())
    })?;
    ed25519_compact::PublicKey::new(*key)
        .verify(payload, &signature)
        .map_err(|_| "the signature does not match the payload".to_owned())
}

fn verify_rsa(e: &[u8], n: &[u8], payload: &[u8], signature: &[u8]) -> Result<(), String> {
    let key = RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(n),
        BigUint::from_bytes_be(e),
        RSA_MAX_VERIFY_BITS,
    )
    .map_err(|e| format!("the RSA key is unusable ({e})"))?;
    if signature.len() != key.size() {
        return Err(format!(
            "the signature is {} bytes long, but this {}-bit RSA key makes {}-byte signatures",
            signature.len(),
            key.n().bits(),
            key.size()
        ));
    }
    let signature = rsa::pkcs1v15::Signature::try_from(signature)
        .map_err(|_| "the signature is not an RSA signature".to_owned())?;
    rsa::pkcs1v15::VerifyingKey::<Sha1>::new(key)
        .verify(payload, &signature)
        .map_err(|_| "the signature does not match the payload (RSA PKCS#1 v1.5, SHA-1)".to_owned())
}

fn verify_ecdsa(curve: Curve, point: &[u8], payload: &[u8], signature: &[u8]) -> Result<(), String> {
    let bad_point = || format!("the key is not a point on curve {}", curve.label());
    let not_der = || "the signature is not a DER-encoded ECDSA signature".to_owned();
    let mismatch = |_| format!("the signature does not match the payload (ECDSA {})", curve.label());
    match curve {
        Curve::P256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad_point())?;
            let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| not_der())?;
            key.verify(payload, &signature).map_err(mismatch)
        }
        Curve::P384 => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad_point())?;
            let signature = p384::ecdsa::Signature::from_der(signature).map_err(|_| not_der())?;
            key.verify(payload, &signature).map_err(mismatch)
        }
        Curve::P521 => {
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| bad_point())?;
            let signature = p521::ecdsa::Signature::from_der(signature).map_err(|_| not_der())?;
            key.verify(payload, &signature).map_err(mismatch)
        }
    }
}

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

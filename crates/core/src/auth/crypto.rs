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

use ecdsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use sha1::Sha1;

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

    pub(crate) fn label(self) -> &'static str {
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

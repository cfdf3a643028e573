//! Signature authentication for unpublish, transfer and restricted package-set
//! operations (upstream `Auth.purs` and `Registry.SSH`).
//!
//! Upstream signs with npm `ssh2`: a **raw** signature over the exact UTF-8 bytes
//! of the payload string, hex-encoded. It is not an `ssh-keygen -Y sign` (SSHSIG)
//! signature. The `crypto` module lists the algorithm per key type.
//!
//! Behaviour kept from upstream:
//! - owner keys are parsed all-or-nothing: one unparsable owner key fails the whole
//!   check with ssh2's message (e.g. "Malformed OpenSSH public key");
//! - pacchettibotti (the trustee) is tried first, then every owner; any key that
//!   verifies is enough;
//! - a signature no key accepts gives
//!   "None of the owner keys are suitable to verify the payload.".
//!
//! Deliberate differences: a signature that is not hex (odd length, other
//! characters) is refused with its own message, where Node would decode a prefix and
//! fail (or, with one stray trailing digit, succeed); and a key whose material is
//! unusable (an RSA modulus that is not one, a point off the curve) simply does not
//! verify, where upstream's ssh2 returns an `Error` object that its glue code takes
//! as success.

mod container;
mod crypto;
#[cfg(feature = "signing")]
mod private_key;
mod public_key;
#[cfg(feature = "signing")]
mod signing;
mod wire;

#[cfg(feature = "signing")]
pub use private_key::PrivateKey;
pub use public_key::{PublicKey, Rejection};

use crate::location::Owner;

/// Why a key could not be read. The texts are upstream's (ssh2's and `Registry.SSH`'s).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Expected private key, but got public key of type {0}")]
    GotPublicKeyInstead(String),
    #[error("Expected public key, but this is a private key of type {0}")]
    GotPrivateKeyInstead(String),
    #[error("Encrypted private key requires a passphrase")]
    RequiresPassphrase,
    #[error("{0}")]
    Invalid(String),
}

/// Why an authenticated payload was refused, or could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// One of the keys to try (trustee or owner) could not be read.
    #[error(transparent)]
    InvalidKey(#[from] KeyError),
    #[error(
        "The signature is not valid hex: {0}. Send the raw signature bytes hex-encoded \
         (an Ed25519 signature is 128 hex digits)."
    )]
    SignatureNotHex(String),
    /// No key accepted the signature; `rejections` says why, key by key.
    #[error("None of the owner keys are suitable to verify the payload.")]
    NoKeyVerifies { rejections: Vec<Rejection> },
    #[error("Package set update requires a signature for restricted operations.")]
    MissingSignature,
    #[error("The pacchettibotti signature is not valid for this payload.")]
    TrusteeSignatureInvalid { rejection: Rejection },
    #[cfg(feature = "signing")]
    #[error("Signing failed: {0}")]
    SigningFailed(String),
}

/// Checks an authenticated payload (upstream `Auth.verifyPayload`): `hex_signature`
/// must be a signature of `raw_payload` by the trustee's key or any owner's key.
pub fn verify(
    trustee: &Owner,
    owners: &[Owner],
    raw_payload: &str,
    hex_signature: &str,
) -> Result<(), AuthError> {
    let keys =
        std::iter::once(trustee).chain(owners).map(PublicKey::from_owner).collect::<Result<Vec<_>, _>>()?;
    let signature = decode_hex(hex_signature)?;
    let mut rejections = Vec::with_capacity(keys.len());
    for key in &keys {
        match key.verify(raw_payload.as_bytes(), &signature) {
            Ok(()) => return Ok(()),
            Err(rejection) => rejections.push(rejection),
        }
    }
    Err(AuthError::NoKeyVerifies { rejections })
}

/// Checks that every owner key can be read the way a signature check reads it. One
/// unreadable owner key fails every later check of the package, the trustee's too
/// (upstream parses owners all-or-nothing), so a manifest must not bring one in.
pub fn check_owner_keys(owners: &[Owner]) -> Result<(), String> {
    for (i, owner) in owners.iter().enumerate() {
        if let Err(err) = PublicKey::from_owner(owner) {
            let label =
                owner.id.as_deref().map_or(String::new(), |id| format!(" (\"{}\")", id.escape_debug()));
            return Err(format!(
                "The public key of owner {}{label} in the manifest's \"owners\" cannot be read: {}. Give the key \
                 type (e.g. \"ssh-ed25519\") as \"keytype\" and the base64 key data (the second field of the \
                 .pub file) as \"public\".",
                i + 1,
                err.to_string().trim_end_matches('.')
            ));
        }
    }
    Ok(())
}

/// Checks a restricted package-set request, which only the trustee may sign
/// (upstream `Auth.verifyPackageSetPayload`).
pub fn verify_trustee(
    trustee: &Owner,
    raw_payload: &str,
    hex_signature: Option<&str>,
) -> Result<(), AuthError> {
    let hex_signature = hex_signature.ok_or(AuthError::MissingSignature)?;
    let key = PublicKey::from_owner(trustee)?;
    let signature = decode_hex(hex_signature)?;
    key.verify(raw_payload.as_bytes(), &signature)
        .map_err(|rejection| AuthError::TrusteeSignatureInvalid { rejection })
}

/// Signs `raw_payload` with an unencrypted OpenSSH private key and returns the hex
/// signature (upstream `Auth.signPayload`). The server only verifies; the tests and the
/// `registry` binary's GitHub commands (signing as pacchettibotti) enable `signing`.
#[cfg(feature = "signing")]
pub fn sign(private_key: &str, raw_payload: &str) -> Result<String, AuthError> {
    PrivateKey::parse(private_key, None)?.sign(raw_payload)
}

fn decode_hex(hex_signature: &str) -> Result<Vec<u8>, AuthError> {
    hex::decode(hex_signature).map_err(|error| {
        AuthError::SignatureNotHex(match error {
            hex::FromHexError::OddLength => {
                format!("it has an odd number of digits ({})", hex_signature.chars().count())
            }
            hex::FromHexError::InvalidHexCharacter { c, index } => {
                format!("character {c:?} at position {index} is not a hex digit")
            }
            other => other.to_string(),
        })
    })
}

// Signing makes the signatures these tests verify (the crate's dev-dependency on
// itself turns `signing` on for its tests).
#[cfg(all(test, feature = "signing"))]
mod tests;

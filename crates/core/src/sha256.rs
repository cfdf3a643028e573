//! SHA-256 digests in Subresource-Integrity form (`sha256-<base64>`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest;

use crate::json::{self, Codec, DecodeError, Value};

/// An SRI SHA-256 string as stored in metadata (`sha256-` + 44 base64 characters).
///
/// Upstream only checks the shape (`sha256-`, 43 characters, `=`), not the alphabet,
/// so the text is kept verbatim and printed back as read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(String);

impl Sha256 {
    pub fn parse(input: &str) -> Result<Self, String> {
        let body = input
            .strip_prefix("sha256-")
            .ok_or_else(|| format!("Expected a SHA-256 SRI hash starting with 'sha256-', got '{input}'"))?;
        if body.chars().count() != 44 || !body.ends_with('=') {
            return Err(format!(
                "Expected a SHA-256 SRI hash of the form 'sha256-' followed by 43 base64 characters and '=', got '{input}'"
            ));
        }
        Ok(Sha256(input.to_owned()))
    }

    /// Hashes raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self::from_digest(sha2::Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Sha256(format!("sha256-{}", STANDARD.encode(digest)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Codec for Sha256 {
    fn encode(&self) -> Value {
        Value::String(self.0.clone())
    }
    fn decode(value: &Value) -> Result<Self, DecodeError> {
        json::parsed(value, Self::parse)
    }
}

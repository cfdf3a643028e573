//! Public keys in OpenSSH's one-line form (`<type> <base64> <comment>`), read with
//! exactly the leniency and the error texts of npm `ssh2`'s key parser, because an
//! owner key that ssh2 refuses makes upstream refuse the whole signature check.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::KeyError;
use super::container;
use super::crypto::{Curve, PublicMaterial};
use super::wire::{Reader, decode_base64_lenient};
use crate::location::Owner;

const MALFORMED: &str = "Malformed OpenSSH public key";
const UNSUPPORTED_FORMAT: &str = "Unsupported key format";

/// A parsed public key that can check signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_type: String,
    comment: String,
    material: PublicMaterial,
}

/// Why one key did not accept a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key_type} key '{comment}': {reason}")]
pub struct Rejection {
    pub key_type: String,
    pub comment: String,
    pub reason: String,
}

impl PublicKey {
    /// Parses `<type> <base64> <comment>` (ssh2's `parseKey` followed by upstream's
    /// `parsePublicKey`): a private key, or a key without a comment, is refused.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let text = text.trim_matches(is_js_space);
        if let Some(body) = container::armored_body(text) {
            return Err(match container::parse_container(body, None) {
                Ok(key) => KeyError::GotPrivateKeyInstead(key.key_type),
                Err(KeyError::RequiresPassphrase) => KeyError::Invalid(
                    "Encrypted private OpenSSH key detected, but no passphrase given".to_owned(),
                ),
                Err(error) => error,
            });
        }
        let key =
            parse_line(text).unwrap_or_else(|| Err(KeyError::Invalid(UNSUPPORTED_FORMAT.to_owned())))?;
        if key.comment.is_empty() {
            // ssh2 parses such a key, but upstream's glue code turns it away.
            return Err(KeyError::Invalid(format!(
                "{MALFORMED}: it has no comment after the key data (for an owner: give a non-empty \"id\" or none at all)"
            )));
        }
        Ok(key)
    }

    /// The key of a package owner, written the way upstream hands it to ssh2:
    /// `"<keytype> <public> <id>"`, with the placeholder comment `id` when the owner
    /// has none (ssh2 refuses keys without a comment).
    pub fn from_owner(owner: &Owner) -> Result<PublicKey, KeyError> {
        let id = owner.id.as_deref().unwrap_or("id");
        PublicKey::parse(&format!("{} {} {}", owner.keytype, owner.public, id))
    }

    #[cfg(feature = "signing")]
    pub(crate) fn from_material(key_type: String, comment: String, material: PublicMaterial) -> PublicKey {
        PublicKey { key_type, comment, material }
    }

    /// The key type as written before the key data, e.g. `ssh-ed25519`.
    pub fn key_type(&self) -> &str {
        &self.key_type
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Checks a raw signature (not hex) over the exact payload bytes.
    pub fn verify(&self, payload: &[u8], signature: &[u8]) -> Result<(), Rejection> {
        self.material.verify(payload, signature).map_err(|reason| Rejection {
            key_type: self.key_type.clone(),
            comment: self.comment.clone(),
            reason,
        })
    }

    /// The owner entry for this key (upstream's `publicKeyToOwner`).
    pub fn to_owner(&self) -> Owner {
        Owner {
            id: Some(self.comment.clone()),
            keytype: self.key_type.clone(),
            public: STANDARD.encode(self.material.to_blob()),
        }
    }
}

/// The `authorized_keys` line: `<type> <base64> <comment>`.
impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key_type, STANDARD.encode(self.material.to_blob()))?;
        if !self.comment.is_empty() {
            write!(f, " {}", self.comment)?;
        }
        Ok(())
    }
}

/// ssh2's OpenSSH public key reader. `None` when the text is not in that form at all
/// (ssh2 then tries other formats and ends with "Unsupported key format").
pub(crate) fn parse_line(text: &str) -> Option<Result<PublicKey, KeyError>> {
    let line = split_line(text)?;
    let blob = decode_base64_lenient(line.base64);
    let mut reader = Reader::new(&blob);
    let malformed = || KeyError::Invalid(MALFORMED.to_owned());
    // ssh2 only checks that the blob's own type starts with the declared base type.
    let material = match reader.text() {
        Some(blob_type) if blob_type.starts_with(line.base_type) => {
            read_material(line.base_type, &mut reader)
        }
        _ => None,
    };
    Some(material.ok_or_else(malformed).map(|material| PublicKey {
        key_type: line.full_type.to_owned(),
        comment: line.comment.to_owned(),
        material,
    }))
}

/// The fields after the type, read as ssh2 reads them: trailing data is ignored and
/// nothing is validated until a signature is checked.
fn read_material(base_type: &str, reader: &mut Reader<'_>) -> Option<PublicMaterial> {
    match base_type {
        "ssh-ed25519" => {
            let key: [u8; 32] = reader.string()?.try_into().ok()?;
            Some(PublicMaterial::Ed25519(key))
        }
        "ssh-rsa" => {
            let e = reader.string()?.to_vec();
            let n = reader.string()?.to_vec();
            Some(PublicMaterial::Rsa { e, n })
        }
        "ssh-dss" => {
            let blob_fields =
                (0..4).map(|_| reader.string().map(<[u8]>::to_vec)).collect::<Option<Vec<_>>>()?;
            Some(PublicMaterial::Dsa { blob_fields })
        }
        _ => {
            let curve = Curve::for_key_type(base_type)?;
            reader.string()?; // the curve name, which ssh2 does not compare with the type
            let point = reader.string()?.to_vec();
            Some(PublicMaterial::Ecdsa { curve, point })
        }
    }
}

struct KeyLine<'a> {
    full_type: &'a str,
    base_type: &'static str,
    base64: &'a str,
    comment: &'a str,
}

/// The key types ssh2 reads (its Node build has Ed25519).
const BASE_TYPES: [&str; 6] = [
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// Matches ssh2's pattern
/// `^(<base type>(-cert-v0[01]@openssh.com)?) ([A-Za-z0-9/+=]+)(?:$|\s+(\S.*)?)$`
/// (JavaScript semantics: `\s` is JavaScript whitespace, `.` stops at line breaks).
fn split_line(text: &str) -> Option<KeyLine<'_>> {
    let (full_type, rest) = text.split_once(' ')?;
    let base_type = BASE_TYPES.into_iter().find(|base| {
        full_type.strip_prefix(base).is_some_and(|suffix| suffix.is_empty() || is_certificate_suffix(suffix))
    })?;
    let data_len =
        rest.bytes().take_while(|&b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b'=')).count();
    if data_len == 0 {
        return None;
    }
    let (base64, after) = rest.split_at(data_len);
    let comment = after.trim_start_matches(is_js_space);
    let separated = after.is_empty() || comment.len() < after.len();
    if !separated || comment.chars().any(is_js_line_terminator) {
        return None;
    }
    Some(KeyLine { full_type, base_type, base64, comment })
}

/// `-cert-v0[01]@openssh.com`, where ssh2's unescaped `.` matches any one character.
fn is_certificate_suffix(suffix: &str) -> bool {
    let Some(rest) =
        suffix.strip_prefix("-cert-v00@openssh").or_else(|| suffix.strip_prefix("-cert-v01@openssh"))
    else {
        return false;
    };
    let mut tail = rest.chars();
    tail.next().is_some_and(|c| !is_js_line_terminator(c)) && tail.as_str() == "com"
}

/// JavaScript's `\s` (also what `String.prototype.trim` removes): Unicode spaces plus
/// the BOM, but not U+0085.
pub(crate) fn is_js_space(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}'
}

fn is_js_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIF6B6R9yp8yFM3wYcOhGO0EyZAefKWkvsTET+KeaegY/";

    fn error(text: &str) -> String {
        PublicKey::parse(text).expect_err("the key should be refused").to_string()
    }

    #[test]
    fn reads_type_data_and_comment() {
        let key = PublicKey::parse(&format!("  ssh-ed25519 {ED25519}   me@example.com \n")).unwrap();
        assert_eq!(key.key_type(), "ssh-ed25519");
        assert_eq!(key.comment(), "me@example.com");
        assert_eq!(key.to_string(), format!("ssh-ed25519 {ED25519} me@example.com"));
    }

    #[test]
    fn owner_without_id_gets_the_placeholder_comment() {
        let owner = Owner { id: None, keytype: "ssh-ed25519".into(), public: ED25519.into() };
        let key = PublicKey::from_owner(&owner).unwrap();
        assert_eq!(key.comment(), "id");
        assert_eq!(key.to_owner(), owner, "round trip (owners compare without id)");
    }

    #[test]
    fn refusals_use_ssh2_texts() {
        assert_eq!(error(&format!("ssh-rsa {ED25519} x")), MALFORMED, "blob type differs from declared type");
        assert_eq!(error(&format!("ssh-foo {ED25519} x")), UNSUPPORTED_FORMAT);
        assert_eq!(
            error(&format!("ssh-ed25519  {ED25519} x")),
            UNSUPPORTED_FORMAT,
            "two spaces after the type"
        );
        assert_eq!(error(&format!("ssh-ed25519 {ED25519}x! y")), UNSUPPORTED_FORMAT, "junk in the key data");
        assert_eq!(
            error(&format!("ssh-ed25519 {ED25519} a\nb")),
            UNSUPPORTED_FORMAT,
            "line break in the comment"
        );
        assert_eq!(error("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAA x"), MALFORMED, "truncated key");
        assert!(error(&format!("ssh-ed25519 {ED25519}")).contains("no comment"));
    }

    #[test]
    fn certificate_types_match_like_ssh2() {
        assert!(is_certificate_suffix("-cert-v01@openssh.com"));
        assert!(is_certificate_suffix("-cert-v00@opensshXcom"), "ssh2's '.' is unescaped");
        assert!(!is_certificate_suffix("-cert-v02@openssh.com"));
        assert!(!is_certificate_suffix("-cert-v01@openssh.co"));
    }

    #[test]
    fn javascript_whitespace() {
        assert!(is_js_space('\u{feff}') && is_js_space('\u{a0}') && is_js_space('\t'));
        assert!(!is_js_space('\u{85}') && !is_js_space('x'));
    }
}

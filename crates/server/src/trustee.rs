//! pacchettibotti, the registry's trustee key (`PACCHETTIBOTTI_ED25519_PUB`).

use base64::Engine;
use registry_core::auth;
use registry_core::location::Owner;

use crate::api::SignatureCheck;

const TRUSTEE_ID: &str = "pacchettibotti@purescript.org";

/// Reads the setting: base64 of `ssh-ed25519 <key> pacchettibotti@purescript.org`,
/// as upstream requires (the key line itself is accepted too).
pub fn parse_trustee_key(setting: &str) -> Result<Owner, String> {
    let setting = setting.trim();
    let line = if setting.starts_with("ssh-") {
        setting.to_owned()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(setting)
            .map_err(|e| format!("PACCHETTIBOTTI_ED25519_PUB is not base64: {e}"))?;
        String::from_utf8(bytes)
            .map_err(|_| "PACCHETTIBOTTI_ED25519_PUB does not decode to text".to_owned())?
    };
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.as_slice() {
        ["ssh-ed25519", public, id] if *id == TRUSTEE_ID => Ok(Owner {
            id: Some(TRUSTEE_ID.to_owned()),
            keytype: "ssh-ed25519".into(),
            public: (*public).to_owned(),
        }),
        _ => Err(format!(
            "PACCHETTIBOTTI_ED25519_PUB must hold `ssh-ed25519 <key> {TRUSTEE_ID}` (base64-encoded), got `{}`",
            line.trim()
        )),
    }
}

/// Verifies restricted package-set requests against the trustee's key.
pub struct TrusteeKey(pub Owner);

impl SignatureCheck for TrusteeKey {
    fn verify(&self, raw_payload: &str, signature_hex: &str) -> bool {
        auth::verify_trustee(&self.0, raw_payload, Some(signature_hex)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_line_must_be_pacchettibottis_ed25519_key() {
        let line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN0qhG2pBVE36 pacchettibotti@purescript.org";
        let encoded = base64::engine::general_purpose::STANDARD.encode(line);
        let owner = parse_trustee_key(&encoded).unwrap();
        assert_eq!(owner.public, "AAAAC3NzaC1lZDI1NTE5AAAAIN0qhG2pBVE36");
        assert_eq!(parse_trustee_key(line).unwrap(), owner);
        assert!(parse_trustee_key("ssh-rsa AAAA pacchettibotti@purescript.org").is_err());
        assert!(parse_trustee_key("ssh-ed25519 AAAA someone@else").unwrap_err().contains("must hold"));
        assert!(parse_trustee_key("%%%").unwrap_err().contains("not base64"));
    }
}

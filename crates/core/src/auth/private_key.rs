//! Signing with OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`),
//! unencrypted or protected by a passphrase (bcrypt KDF with AES-CTR, what
//! `ssh-keygen` writes). Checks and error texts follow npm `ssh2`, which upstream
//! uses. The registry itself only verifies; this is for tests and clients (feature
//! `signing`).

use aes::cipher::{KeyIvInit, StreamCipher};

use super::AuthError;
use super::KeyError;
use super::container::{self, Cipher, PrivateFields, Unlock};
use super::public_key::{self, PublicKey, is_js_space};
use super::signing::SigningMaterial;

/// A private key that signs payloads.
pub struct PrivateKey {
    key_type: String,
    comment: String,
    material: SigningMaterial,
}

impl std::fmt::Debug for PrivateKey {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("key_type", &self.key_type)
            .field("comment", &self.comment)
            .finish()
    }
}

impl PrivateKey {
    /// Parses an OpenSSH private key; `passphrase` is needed only for encrypted keys.
    ///
    /// Supported: Ed25519, RSA and ECDSA (P-256/384/521) keys, unencrypted or
    /// encrypted with `aes128-ctr`/`aes192-ctr`/`aes256-ctr` + bcrypt. Older PEM
    /// (`BEGIN RSA PRIVATE KEY`) and PuTTY files are refused with a hint.
    pub fn parse(text: &str, passphrase: Option<&str>) -> Result<PrivateKey, KeyError> {
        let text = text.trim_matches(is_js_space);
        if let Some(body) = container::armored_body(text) {
            let unlock = passphrase.map(Passphrase);
            let key = container::parse_container(body, unlock.as_ref().map(|p| p as &dyn Unlock))?;
            let material = match key.fields {
                PrivateFields::Ed25519 { seed } => SigningMaterial::ed25519(&seed),
                PrivateFields::Rsa { n, e, d, p, q } => SigningMaterial::rsa(&n, &e, &d, &p, &q),
                PrivateFields::Ecdsa { curve, secret } => SigningMaterial::ecdsa(curve, &secret),
                PrivateFields::Dsa => {
                    Err("DSA (ssh-dss) keys are not supported; use an Ed25519 key".to_owned())
                }
            }
            .map_err(KeyError::Invalid)?;
            return Ok(PrivateKey { key_type: key.key_type, comment: key.comment, material });
        }
        if text.starts_with("-----BEGIN ") || text.starts_with("PuTTY-User-Key-File-") {
            return Err(KeyError::Invalid(
                "Unsupported private key format: only OpenSSH private keys (-----BEGIN OPENSSH PRIVATE KEY-----) are \
                 read; convert the key with `ssh-keygen -p -f <file>`"
                    .to_owned(),
            ));
        }
        match public_key::parse_line(text) {
            Some(Ok(public)) => Err(KeyError::GotPublicKeyInstead(public.key_type().to_owned())),
            Some(Err(error)) => Err(error),
            None => Err(KeyError::Invalid("Unsupported key format".to_owned())),
        }
    }

    /// The key type from the key file, e.g. `ssh-ed25519`.
    pub fn key_type(&self) -> &str {
        &self.key_type
    }

    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The matching public key (with this key's comment).
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_material(self.key_type.clone(), self.comment.clone(), self.material.public())
    }

    /// Signs the exact UTF-8 bytes of `payload` and returns the signature as lowercase
    /// hex, as upstream's `SSH.sign` does. Deterministic for every key type.
    pub fn sign(&self, payload: &str) -> Result<String, AuthError> {
        self.material.sign(payload.as_bytes()).map(hex::encode).map_err(AuthError::SigningFailed)
    }
}

/// The passphrase of an encrypted key file.
struct Passphrase<'a>(&'a str);

impl Unlock for Passphrase<'_> {
    fn key_iv(&self, cipher: Cipher, salt: &[u8], rounds: u32) -> Result<Vec<u8>, KeyError> {
        let mut key_iv = vec![0; cipher.key_len + Cipher::IV_LEN];
        bcrypt_pbkdf::bcrypt_pbkdf(self.0, salt, rounds, &mut key_iv)
            .map_err(|_| KeyError::Invalid("Failed to generate information to decrypt key".to_owned()))?;
        Ok(key_iv)
    }

    /// OpenSSH's `aesN-ctr`: a 128-bit big-endian counter starting at the IV.
    fn decrypt(&self, cipher: Cipher, key_iv: &[u8], data: &mut [u8]) {
        let (key, iv) = key_iv.split_at(cipher.key_len);
        match cipher.key_len {
            16 => apply_ctr::<ctr::Ctr128BE<aes::Aes128>>(key, iv, data),
            24 => apply_ctr::<ctr::Ctr128BE<aes::Aes192>>(key, iv, data),
            _ => apply_ctr::<ctr::Ctr128BE<aes::Aes256>>(key, iv, data),
        }
    }
}

fn apply_ctr<C: KeyIvInit + StreamCipher>(key: &[u8], iv: &[u8], data: &mut [u8]) {
    // The lengths come from `Cipher`, so this cannot fail; if it ever did, the data
    // would stay scrambled and the integrity check would report a bad passphrase.
    if let Ok(mut cipher) = C::new_from_slices(key, iv) {
        cipher.apply_keystream(data);
    }
}

//! OpenSSH private keys (`-----BEGIN OPENSSH PRIVATE KEY-----`), unencrypted or
//! protected by a passphrase (bcrypt KDF with AES-CTR, what `ssh-keygen` writes).
//! Checks and error texts follow npm `ssh2`, which upstream uses.

use aes::cipher::{KeyIvInit, StreamCipher};

use super::AuthError;
use super::KeyError;
use super::crypto::{Curve, SigningMaterial};
use super::public_key::{self, PublicKey, is_js_space};
use super::wire::{Reader, decode_base64_lenient};

const MALFORMED: &str = "Malformed OpenSSH private key";
const ARMOR_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const ARMOR_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";

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
        if let Some(body) = armored_body(text) {
            let key = parse_container(body, passphrase)?;
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

/// The base64 body between the armor lines, as ssh2's pattern
/// `^-----BEGIN …-----\r?\n([\s\S]+)\r?\n-----END …-----$` finds it.
pub(crate) fn armored_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(ARMOR_BEGIN)?;
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let body = rest.strip_suffix(ARMOR_END)?.strip_suffix('\n')?;
    (!body.is_empty()).then_some(body)
}

pub(crate) struct ContainerKey {
    pub(crate) key_type: String,
    pub(crate) comment: String,
    fields: PrivateFields,
}

enum PrivateFields {
    Ed25519 { seed: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8>, d: Vec<u8>, p: Vec<u8>, q: Vec<u8> },
    Ecdsa { curve: Curve, secret: Vec<u8> },
    Dsa,
}

/// `aes128-ctr`, `aes192-ctr` or `aes256-ctr`: the key-file ciphers `ssh-keygen`
/// offers that this module can undo (it writes `aes256-ctr` by default).
#[derive(Clone, Copy)]
struct AesCtr {
    key_len: usize,
}

impl AesCtr {
    const IV_LEN: usize = 16;
    const BLOCK_LEN: usize = 16;

    fn named(name: &str) -> Option<AesCtr> {
        let key_len = match name {
            "aes128-ctr" => 16,
            "aes192-ctr" => 24,
            "aes256-ctr" => 32,
            _ => return None,
        };
        Some(AesCtr { key_len })
    }

    /// `key_iv` is the KDF output: key then IV.
    fn decrypt(self, key_iv: &[u8], data: &mut [u8]) {
        let (key, iv) = key_iv.split_at(self.key_len);
        match self.key_len {
            16 => apply_ctr::<ctr::Ctr128BE<aes::Aes128>>(key, iv, data),
            24 => apply_ctr::<ctr::Ctr128BE<aes::Aes192>>(key, iv, data),
            _ => apply_ctr::<ctr::Ctr128BE<aes::Aes256>>(key, iv, data),
        }
    }
}

/// OpenSSH's `aesN-ctr`: a 128-bit big-endian counter starting at the IV.
fn apply_ctr<C: KeyIvInit + StreamCipher>(key: &[u8], iv: &[u8], data: &mut [u8]) {
    // The lengths come from `AesCtr`, so this cannot fail; if it ever did, the data
    // would stay scrambled and the integrity check would report a bad passphrase.
    if let Ok(mut cipher) = C::new_from_slices(key, iv) {
        cipher.apply_keystream(data);
    }
}

fn malformed() -> KeyError {
    KeyError::Invalid(MALFORMED.to_owned())
}

fn invalid(message: String) -> KeyError {
    KeyError::Invalid(message)
}

/// Reads the `openssh-key-v1` container (PROTOCOL.key in OpenSSH), checking what
/// ssh2 checks, in the same order, so the same file fails with the same message.
pub(crate) fn parse_container(body: &str, passphrase: Option<&str>) -> Result<ContainerKey, KeyError> {
    let data = decode_base64_lenient(body);
    // ssh2's minimum: the magic plus the shortest possible fields.
    if data.len() < 31 {
        return Err(malformed());
    }
    if &data[..MAGIC.len()] != MAGIC {
        let magic = String::from_utf8_lossy(&data[..MAGIC.len()]);
        return Err(invalid(format!("Unsupported OpenSSH key magic: {magic}")));
    }
    let mut reader = Reader::new(&data[MAGIC.len()..]);

    let cipher_name = reader.text().ok_or_else(malformed)?;
    let cipher = match cipher_name.as_str() {
        "none" => None,
        name => Some(
            AesCtr::named(name)
                .ok_or_else(|| invalid(format!("Unsupported cipher for OpenSSH key: {name}")))?,
        ),
    };
    let kdf_name = reader.text().ok_or_else(malformed)?;
    let encrypted = match (kdf_name.as_str(), cipher) {
        ("none", None) => None,
        ("none", Some(_)) | (_, None) => return Err(malformed()),
        ("bcrypt", Some(cipher)) => Some((cipher, passphrase.ok_or(KeyError::RequiresPassphrase)?)),
        (kdf, Some(_)) => return Err(invalid(format!("Unsupported kdf name for OpenSSH key: {kdf}"))),
    };
    let kdf_options = reader.string().ok_or_else(malformed)?;
    let decryption = match encrypted {
        None if kdf_options.is_empty() => None,
        Some(_) if kdf_options.is_empty() => return Err(malformed()),
        None => return Err(malformed()),
        Some((cipher, passphrase)) => {
            let mut options = Reader::new(kdf_options);
            let salt = options.string().ok_or_else(malformed)?;
            let rounds = options.u32().ok_or_else(malformed)?;
            let mut key_iv = vec![0; cipher.key_len + AesCtr::IV_LEN];
            bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut key_iv)
                .map_err(|_| invalid("Failed to generate information to decrypt key".to_owned()))?;
            Some((cipher, key_iv))
        }
    };

    let key_count = reader.u32().ok_or_else(malformed)?;
    if key_count == 0 {
        return Err(invalid(format!("{MALFORMED}: the file holds no key")));
    }
    for _ in 0..key_count {
        let public = reader.string().ok_or_else(malformed)?;
        Reader::new(public).string().ok_or_else(malformed)?;
    }
    let mut private = reader.string().ok_or_else(malformed)?.to_vec();
    if let Some((cipher, key_iv)) = &decryption {
        if private.len() < AesCtr::BLOCK_LEN || private.len() % AesCtr::BLOCK_LEN != 0 {
            return Err(malformed());
        }
        cipher.decrypt(key_iv, &mut private);
    }
    if !reader.is_at_end() {
        return Err(malformed());
    }
    parse_private_section(&private, key_count, decryption.is_some())
}

/// The (decrypted) private section: two equal check words, the keys with their
/// comments, then padding bytes 1, 2, 3, …. Only the first key is kept, like ssh2.
fn parse_private_section(section: &[u8], key_count: u32, decrypted: bool) -> Result<ContainerKey, KeyError> {
    let mut reader = Reader::new(section);
    let (Some(check1), Some(check2)) = (reader.u32(), reader.u32()) else {
        return Err(malformed());
    };
    if check1 != check2 {
        let hint = if decrypted { " -- bad passphrase?" } else { "" };
        return Err(invalid(format!("OpenSSH key integrity check failed{hint}")));
    }
    let mut first = None;
    for _ in 0..key_count {
        let key = read_private_key(&mut reader)?;
        first.get_or_insert(key);
    }
    let padding_ok = reader.rest().iter().zip(1u32..).all(|(&byte, n)| u32::from(byte) == n % 255);
    match first {
        Some(key) if padding_ok => Ok(key),
        _ => Err(malformed()),
    }
}

fn read_private_key(reader: &mut Reader<'_>) -> Result<ContainerKey, KeyError> {
    let key_type = reader.text().ok_or_else(malformed)?;
    let mut field = || reader.string().map(<[u8]>::to_vec).ok_or_else(malformed);
    let fields = match key_type.as_str() {
        "ssh-rsa" => {
            let (n, e, d, _iqmp, p, q) = (field()?, field()?, field()?, field()?, field()?, field()?);
            PrivateFields::Rsa { n, e, d, p, q }
        }
        "ssh-dss" => {
            for _ in 0..5 {
                field()?;
            }
            PrivateFields::Dsa
        }
        "ssh-ed25519" => {
            let public = field()?;
            let pair = field()?;
            if public.len() != 32 || pair.len() != 64 {
                return Err(malformed());
            }
            // The pair is seed ‖ public key; like ssh2, keep the seed and derive the rest.
            PrivateFields::Ed25519 { seed: pair[..32].to_vec() }
        }
        other => {
            let Some(curve) = Curve::for_key_type(other) else {
                return Err(invalid(format!("Unsupported OpenSSH private key type: {other}")));
            };
            let (_curve_name, _point, secret) = (field()?, field()?, field()?);
            PrivateFields::Ecdsa { curve, secret }
        }
    };
    let comment = reader.text().ok_or_else(malformed)?;
    Ok(ContainerKey { key_type, comment, fields })
}

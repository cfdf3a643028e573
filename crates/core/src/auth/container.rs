//! The OpenSSH private key container (`-----BEGIN OPENSSH PRIVATE KEY-----`), read
//! as npm `ssh2` reads it, with its checks and error texts. A signature check reads
//! one only to refuse it with ssh2's message (a private key given as an owner key);
//! opening an encrypted one is signing's business (`Unlock`, in `private_key`).

use super::KeyError;
use super::crypto::Curve;
use super::wire::{Reader, decode_base64_lenient};

const MALFORMED: &str = "Malformed OpenSSH private key";
const ARMOR_BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const ARMOR_END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// `aes128-ctr`, `aes192-ctr` or `aes256-ctr`: the key-file ciphers `ssh-keygen`
/// offers that can be undone (it writes `aes256-ctr` by default). Known here, so
/// an unknown cipher is refused with ssh2's message whether or not a passphrase is
/// given.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) struct Cipher {
    pub(crate) key_len: usize,
}

impl Cipher {
    #[cfg_attr(not(feature = "signing"), allow(dead_code))]
    pub(crate) const IV_LEN: usize = 16;
    const BLOCK_LEN: usize = 16;

    fn named(name: &str) -> Option<Cipher> {
        let key_len = match name {
            "aes128-ctr" => 16,
            "aes192-ctr" => 24,
            "aes256-ctr" => 32,
            _ => return None,
        };
        Some(Cipher { key_len })
    }
}

/// Opens an encrypted private section: a passphrase, for signing. Without one the
/// container is refused with `RequiresPassphrase` as soon as its KDF is read.
pub(crate) trait Unlock {
    /// The cipher's key then IV, from the bcrypt KDF's salt and rounds.
    fn key_iv(&self, cipher: Cipher, salt: &[u8], rounds: u32) -> Result<Vec<u8>, KeyError>;
    fn decrypt(&self, cipher: Cipher, key_iv: &[u8], data: &mut [u8]);
}

/// The base64 body between the armor lines, as ssh2's pattern
/// `^-----BEGIN …-----\r?\n([\s\S]+)\r?\n-----END …-----$` finds it.
pub(crate) fn armored_body(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(ARMOR_BEGIN)?;
    let rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n'))?;
    let body = rest.strip_suffix(ARMOR_END)?.strip_suffix('\n')?;
    (!body.is_empty()).then_some(body)
}

// Refusing a private key given as a public one needs only its type; the rest is
// for signing.
#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) struct ContainerKey {
    pub(crate) key_type: String,
    pub(crate) comment: String,
    pub(crate) fields: PrivateFields,
}

#[cfg_attr(not(feature = "signing"), allow(dead_code))]
pub(crate) enum PrivateFields {
    Ed25519 { seed: Vec<u8> },
    Rsa { n: Vec<u8>, e: Vec<u8>, d: Vec<u8>, p: Vec<u8>, q: Vec<u8> },
    Ecdsa { curve: Curve, secret: Vec<u8> },
    Dsa,
}

fn malformed() -> KeyError {
    KeyError::Invalid(MALFORMED.to_owned())
}

fn invalid(message: String) -> KeyError {
    KeyError::Invalid(message)
}

/// Reads the `openssh-key-v1` container (PROTOCOL.key in OpenSSH), checking what
/// ssh2 checks, in the same order, so the same file fails with the same message.
pub(crate) fn parse_container(body: &str, unlock: Option<&dyn Unlock>) -> Result<ContainerKey, KeyError> {
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
            Cipher::named(name)
                .ok_or_else(|| invalid(format!("Unsupported cipher for OpenSSH key: {name}")))?,
        ),
    };
    let kdf_name = reader.text().ok_or_else(malformed)?;
    let encrypted = match (kdf_name.as_str(), cipher) {
        ("none", None) => None,
        ("none", Some(_)) | (_, None) => return Err(malformed()),
        ("bcrypt", Some(cipher)) => Some((cipher, unlock.ok_or(KeyError::RequiresPassphrase)?)),
        (kdf, Some(_)) => return Err(invalid(format!("Unsupported kdf name for OpenSSH key: {kdf}"))),
    };
    let kdf_options = reader.string().ok_or_else(malformed)?;
    let decryption = match encrypted {
        None if kdf_options.is_empty() => None,
        Some(_) if kdf_options.is_empty() => return Err(malformed()),
        None => return Err(malformed()),
        Some((cipher, unlock)) => {
            let mut options = Reader::new(kdf_options);
            let salt = options.string().ok_or_else(malformed)?;
            let rounds = options.u32().ok_or_else(malformed)?;
            let key_iv = unlock.key_iv(cipher, salt, rounds)?;
            Some((cipher, unlock, key_iv))
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
    if let Some((cipher, unlock, key_iv)) = &decryption {
        if private.len() < Cipher::BLOCK_LEN || private.len() % Cipher::BLOCK_LEN != 0 {
            return Err(malformed());
        }
        unlock.decrypt(*cipher, key_iv, &mut private);
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

//! Round trips per key type, interop with signatures made by npm `ssh2`, and the
//! refusals (tampered, malformed, unreadable keys).

mod test_keys;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use test_keys::*;

use super::*;

/// One key of each type this module signs with, with ssh2's signature of `PAYLOAD`.
struct KeyCase {
    private: &'static str,
    public: &'static str,
    ssh2_signature: &'static str,
    /// Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic, so ours must equal ssh2's.
    same_bytes_as_ssh2: bool,
}

const CASES: [KeyCase; 5] = [
    KeyCase {
        private: ED25519_PRIVATE,
        public: ED25519_PUBLIC,
        ssh2_signature: ED25519_SSH2_SIGNATURE,
        same_bytes_as_ssh2: true,
    },
    KeyCase {
        private: RSA_PRIVATE,
        public: RSA_PUBLIC,
        ssh2_signature: RSA_SSH2_SIGNATURE,
        same_bytes_as_ssh2: true,
    },
    KeyCase {
        private: P256_PRIVATE,
        public: P256_PUBLIC,
        ssh2_signature: P256_SSH2_SIGNATURE,
        same_bytes_as_ssh2: false,
    },
    KeyCase {
        private: P384_PRIVATE,
        public: P384_PUBLIC,
        ssh2_signature: P384_SSH2_SIGNATURE,
        same_bytes_as_ssh2: false,
    },
    KeyCase {
        private: P521_PRIVATE,
        public: P521_PUBLIC,
        ssh2_signature: P521_SSH2_SIGNATURE,
        same_bytes_as_ssh2: false,
    },
];

/// An owner entry from an `authorized_keys` line.
fn owner(public_line: &str) -> Owner {
    let mut parts = public_line.splitn(3, ' ');
    let mut next = || parts.next().expect("type, key and comment").to_owned();
    let (keytype, public, id) = (next(), next(), next());
    Owner { id: Some(id), keytype, public }
}

fn private(text: &str) -> PrivateKey {
    PrivateKey::parse(text, None).expect("test key parses")
}

fn rejections(result: Result<(), AuthError>) -> Vec<Rejection> {
    match result {
        Err(AuthError::NoKeyVerifies { rejections }) => rejections,
        other => panic!("expected NoKeyVerifies, got {other:?}"),
    }
}

/// The hex signature with its last byte changed.
fn tampered(hex_signature: &str) -> String {
    let mut bytes = hex::decode(hex_signature).unwrap();
    *bytes.last_mut().unwrap() ^= 0x01;
    hex::encode(bytes)
}

#[test]
fn private_keys_give_the_public_key_ssh_keygen_wrote() {
    for case in &CASES {
        assert_eq!(private(case.private).public_key().to_string(), case.public);
        assert_eq!(PublicKey::parse(case.public).unwrap(), private(case.private).public_key());
    }
}

#[test]
fn sign_then_verify_round_trip_for_every_key_type() {
    let trustee = owner(ED25519_PUBLIC);
    for case in &CASES {
        let key = private(case.private);
        let signature = key.sign(PAYLOAD).unwrap();
        assert_eq!(key.sign(PAYLOAD).unwrap(), signature, "{}: signing is deterministic", key.key_type());
        verify(&trustee, &[owner(case.public)], PAYLOAD, &signature)
            .unwrap_or_else(|e| panic!("{}: own signature refused: {e:?}", key.key_type()));
    }
}

#[test]
fn signatures_interoperate_with_ssh2() {
    for case in &CASES {
        let key = PublicKey::parse(case.public).unwrap();
        let ssh2_signature = hex::decode(case.ssh2_signature).unwrap();
        key.verify(PAYLOAD.as_bytes(), &ssh2_signature)
            .unwrap_or_else(|e| panic!("ssh2's {} signature refused: {e}", key.key_type()));
        if case.same_bytes_as_ssh2 {
            assert_eq!(private(case.private).sign(PAYLOAD).unwrap(), case.ssh2_signature);
        }
    }
}

#[test]
fn tampered_signature_or_payload_fails() {
    let trustee = owner(ED25519_PUBLIC);
    for case in &CASES {
        let signature = private(case.private).sign(PAYLOAD).unwrap();
        let owners = [owner(case.public)];
        let refused = verify(&trustee, &owners, PAYLOAD, &tampered(&signature)).unwrap_err();
        assert_eq!(refused.to_string(), "None of the owner keys are suitable to verify the payload.");
        let changed = PAYLOAD.replace("héllo", "hello");
        let reasons = rejections(verify(&trustee, &owners, &changed, &signature));
        assert!(
            reasons[1].reason.contains("does not match"),
            "{case_type}: {reasons:?}",
            case_type = reasons[1].key_type
        );
    }
}

#[test]
fn odd_length_hex_is_a_clear_error() {
    let signature = &ED25519_SSH2_SIGNATURE[..127];
    let error = verify(&owner(ED25519_PUBLIC), &[], PAYLOAD, signature).unwrap_err();
    assert!(matches!(error, AuthError::SignatureNotHex(_)));
    assert_eq!(
        error.to_string(),
        "The signature is not valid hex: it has an odd number of digits (127). Send the raw signature bytes \
         hex-encoded (an Ed25519 signature is 128 hex digits)."
    );
    let not_hex = format!("{}zz", &ED25519_SSH2_SIGNATURE[..126]);
    let error = verify(&owner(ED25519_PUBLIC), &[], PAYLOAD, &not_hex).unwrap_err();
    assert!(error.to_string().contains("character 'z' at position 126 is not a hex digit"), "{error}");
}

#[test]
fn wrong_signature_length_is_explained_per_key() {
    let short = &ED25519_SSH2_SIGNATURE[..126];
    let reasons = rejections(verify(&owner(ED25519_PUBLIC), &[owner(RSA_PUBLIC)], PAYLOAD, short));
    assert_eq!(
        reasons[0].to_string(),
        "ssh-ed25519 key 'ed@test': the signature is 63 bytes long, an Ed25519 signature is 64 bytes"
    );
    assert_eq!(
        reasons[1].to_string(),
        "ssh-rsa key 'rsa@test': the signature is 63 bytes long, but this 2048-bit RSA key makes 256-byte signatures"
    );
    let reasons = rejections(verify(&owner(P256_PUBLIC), &[], PAYLOAD, "00"));
    assert_eq!(reasons[0].reason, "the signature is not a DER-encoded ECDSA signature");
}

#[test]
fn any_listed_key_is_enough_and_only_listed_keys_count() {
    let trustee = owner(ED25519_PUBLIC);
    let owners = [owner(RSA_PUBLIC), owner(P256_PUBLIC)];
    for signer in [ED25519_PRIVATE, RSA_PRIVATE, P256_PRIVATE] {
        let signature = private(signer).sign(PAYLOAD).unwrap();
        assert_eq!(verify(&trustee, &owners, PAYLOAD, &signature), Ok(()));
    }
    let outsider = private(P384_PRIVATE).sign(PAYLOAD).unwrap();
    assert_eq!(rejections(verify(&trustee, &owners, PAYLOAD, &outsider)).len(), 3);
}

#[test]
fn one_unreadable_owner_key_fails_the_whole_check() {
    let signature = private(P256_PRIVATE).sign(PAYLOAD).unwrap();
    let mut broken = owner(ED25519_PUBLIC);
    broken.keytype = "ssh-rsa".into();
    let error =
        verify(&owner(ED25519_PUBLIC), &[owner(P256_PUBLIC), broken], PAYLOAD, &signature).unwrap_err();
    assert_eq!(error, AuthError::InvalidKey(KeyError::Invalid("Malformed OpenSSH public key".into())));
    assert_eq!(error.to_string(), "Malformed OpenSSH public key");
}

#[test]
fn encrypted_key_needs_the_right_passphrase() {
    assert_eq!(PrivateKey::parse(ENC_PRIVATE, None).unwrap_err(), KeyError::RequiresPassphrase);
    assert_eq!(
        PrivateKey::parse(ENC_PRIVATE, Some("wrong")).unwrap_err().to_string(),
        "OpenSSH key integrity check failed -- bad passphrase?"
    );
    let key = PrivateKey::parse(ENC_PRIVATE, Some(ENCRYPTED_PASSPHRASE)).unwrap();
    assert_eq!(key.public_key().to_string(), ENC_PUBLIC);
    assert_eq!(key.sign(PAYLOAD).unwrap(), ENC_SSH2_SIGNATURE);
    assert_eq!(
        sign(ENC_PRIVATE, PAYLOAD).unwrap_err().to_string(),
        "Encrypted private key requires a passphrase"
    );
}

#[test]
fn dsa_keys_parse_but_never_verify_or_sign() {
    // A DSA owner must not spoil the all-or-nothing parse for the other owners.
    let signature = private(ED25519_PRIVATE).sign(PAYLOAD).unwrap();
    assert_eq!(
        verify(&owner(P256_PUBLIC), &[owner(DSA_PUBLIC), owner(ED25519_PUBLIC)], PAYLOAD, &signature),
        Ok(())
    );
    let reasons = rejections(verify(&owner(DSA_PUBLIC), &[], PAYLOAD, DSA_SSH2_SIGNATURE));
    assert_eq!(reasons[0].reason, "DSA (ssh-dss) keys are not supported");
    let error = PrivateKey::parse(DSA_PRIVATE, None).unwrap_err().to_string();
    assert!(error.contains("DSA (ssh-dss) keys are not supported"), "{error}");
}

#[test]
fn trustee_only_check_for_package_sets() {
    let trustee = owner(ED25519_PUBLIC);
    let signature = private(ED25519_PRIVATE).sign(PAYLOAD).unwrap();
    assert_eq!(verify_trustee(&trustee, PAYLOAD, Some(&signature)), Ok(()));
    assert_eq!(
        verify_trustee(&trustee, PAYLOAD, None).unwrap_err().to_string(),
        "Package set update requires a signature for restricted operations."
    );
    let owner_signature = private(RSA_PRIVATE).sign(PAYLOAD).unwrap();
    assert_eq!(
        verify_trustee(&trustee, PAYLOAD, Some(&owner_signature)).unwrap_err().to_string(),
        "The pacchettibotti signature is not valid for this payload."
    );
}

#[test]
fn key_kind_mixups_and_unknown_formats_are_refused() {
    assert_eq!(
        PrivateKey::parse(ED25519_PUBLIC, None).unwrap_err().to_string(),
        "Expected private key, but got public key of type ssh-ed25519"
    );
    assert_eq!(
        PublicKey::parse(ED25519_PRIVATE).unwrap_err().to_string(),
        "Expected public key, but this is a private key of type ssh-ed25519"
    );
    assert_eq!(
        PublicKey::parse(ENC_PRIVATE).unwrap_err().to_string(),
        "Encrypted private OpenSSH key detected, but no passphrase given"
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
    assert!(PrivateKey::parse(pem, None).unwrap_err().to_string().contains("ssh-keygen -p -f"));
    assert_eq!(PrivateKey::parse("hello", None).unwrap_err().to_string(), "Unsupported key format");
}

/// Re-armors an edited copy of a private key file.
fn edited_private_key(text: &str, edit: impl FnOnce(&mut Vec<u8>)) -> String {
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut data = STANDARD.decode(body).unwrap();
    edit(&mut data);
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----",
        STANDARD.encode(data)
    )
}

#[test]
fn damaged_private_key_files_get_ssh2_messages() {
    let message = |text: &str| PrivateKey::parse(text, None).unwrap_err().to_string();
    // Layout of an unencrypted Ed25519 file: magic 15, two "none" 16, empty KDF
    // options 4, key count 4, public blob 4 + 51, private length 4, then check words.
    let first_check_word = 15 + 16 + 4 + 4 + 4 + 51 + 4;
    assert_eq!(
        message(&edited_private_key(ED25519_PRIVATE, |d| d[first_check_word] ^= 1)),
        "OpenSSH key integrity check failed"
    );
    assert_eq!(
        message(&edited_private_key(ED25519_PRIVATE, |d| d[0] = b'X')),
        "Unsupported OpenSSH key magic: Xpenssh-key-v1\0"
    );
    assert_eq!(
        message(&edited_private_key(ED25519_PRIVATE, |d| d.truncate(60))),
        "Malformed OpenSSH private key"
    );
    assert_eq!(
        message(&edited_private_key(ED25519_PRIVATE, |d| *d.last_mut().unwrap() = 9)),
        "Malformed OpenSSH private key"
    );
}

#[test]
fn owner_keys_that_cannot_be_read_are_named() {
    let good = owner(ED25519_PUBLIC);
    let cases = CASES.iter().map(|c| owner(c.public)).collect::<Vec<_>>();
    assert_eq!(check_owner_keys(&cases), Ok(()), "every supported key type is accepted");
    let mut truncated = good.clone();
    truncated.public.truncate(20);
    truncated.id = Some("half@example.org".into());
    let message = check_owner_keys(&[good.clone(), truncated.clone()]).unwrap_err();
    assert!(
        message.starts_with(
            "The public key of owner 2 (\"half@example.org\") in the manifest's \"owners\" cannot be read: "
        ),
        "{message}"
    );
    assert!(!message.contains(".."), "{message}");
    // The same key then blocks every signature check, the trustee's included.
    assert!(verify(&good, &[truncated], PAYLOAD, ED25519_SSH2_SIGNATURE).is_err());
    let empty_id = Owner { id: Some(String::new()), ..good };
    assert!(check_owner_keys(&[empty_id]).unwrap_err().contains("owner 1"));
}

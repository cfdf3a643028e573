//! Transfer jobs end to end with real SSH keys (made by `ssh-keygen`), a seeded
//! registry repository, and READONLY over the same job.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

struct Setup {
    _dir: tempfile::TempDir,
    registry: Registry,
    owner: Key,
    trustee: Key,
    stranger: Key,
}

/// A registry whose repository holds metadata for `aff`, owned by `owner`.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let owner = keygen(dir.path(), "owner", "owner@example.org");
    let trustee = keygen(dir.path(), "trustee", "pacchettibotti@purescript.org");
    let stranger = keygen(dir.path(), "stranger", "stranger@example.org");
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(seed.join("metadata")).unwrap();
    let public = owner.public_line.split_whitespace().nth(1).unwrap();
    let metadata = serde_json::json!({
        "location": {"githubOwner": "old-owner", "githubRepo": "purescript-aff"},
        "owners": [{"id": "owner@example.org", "keytype": "ssh-ed25519", "public": public}],
        "published": {},
        "unpublished": {}
    });
    std::fs::write(
        seed.join("metadata/aff.json"),
        format!("{}\n", serde_json::to_string_pretty(&metadata).unwrap()),
    )
    .unwrap();
    // Another package, published from a location a transfer could try to take.
    let taken = serde_json::json!({
        "location": {"githubOwner": "taken-owner", "githubRepo": "purescript-aff"},
        "published": {},
        "unpublished": {}
    });
    std::fs::write(
        seed.join("metadata/taken.json"),
        format!("{}\n", serde_json::to_string_pretty(&taken).unwrap()),
    )
    .unwrap();
    let registry = Registry { dir: tempfile::tempdir().unwrap() };
    std::fs::create_dir_all(registry.markers()).unwrap();
    let out = Command::new(BIN)
        .args(["init", "--data-dir"])
        .arg(registry.data())
        .arg("--seed")
        .arg(&seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Setup { _dir: dir, registry, owner, trustee, stranger }
}

fn signed_transfer(key: &Key, name: &str, new_owner: &str) -> String {
    let payload = format!(
        r#"{{"name":"{name}","newLocation":{{"githubOwner":"{new_owner}","githubRepo":"purescript-{name}"}}}}"#
    );
    let signature = registry_core::auth::sign(&key.private, &payload).unwrap();
    serde_json::json!({"payload": payload, "signature": signature}).to_string()
}

fn bare(registry: &Registry) -> PathBuf {
    registry.data().join("git/registry.git")
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(repo).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn serve(setup: &Setup, env: &[(&str, &str)]) -> Server {
    let mut env = env.to_vec();
    env.push(("PACCHETTIBOTTI_ED25519_PUB", setup.trustee.public_line.as_str()));
    setup.registry.serve_env(&[], &env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_and_the_trustee_can_transfer_and_strangers_cannot() {
    let setup = setup();
    let server = serve(&setup, &[]).await;

    let id = server.submit("/api/v1/transfer", &signed_transfer(&setup.owner, "aff", "new-owner")).await;
    let job = server.wait_finished(&id, Duration::from_secs(20)).await;
    assert_eq!(job["success"], true, "{job}");
    let stored = git(&bare(&setup.registry), &["show", "main:metadata/aff.json"]);
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored["location"],
        serde_json::json!({"githubOwner": "new-owner", "githubRepo": "purescript-aff"})
    );
    assert_eq!(stored["owners"][0]["id"], "owner@example.org", "the rest of the metadata is kept");
    let message = git(&bare(&setup.registry), &["log", "-1", "--format=%B", "main"]);
    assert_eq!(message.trim_end(), format!("Update metadata for aff\n\nJob ID: {id}"));
    assert!(messages(&job).iter().any(|m| m.contains("Transferred aff from")), "{job}");

    let refs_before = git(&bare(&setup.registry), &["for-each-ref"]);
    let stranger = server.submit("/api/v1/transfer", &signed_transfer(&setup.stranger, "aff", "thief")).await;
    let failed = server.wait_finished(&stranger, Duration::from_secs(20)).await;
    assert_eq!(failed["success"], false);
    assert!(
        messages(&failed).last().unwrap().contains("Failed to authenticate the transfer of aff"),
        "{failed}"
    );
    assert_eq!(git(&bare(&setup.registry), &["for-each-ref"]), refs_before);

    // A location another package is published from is refused, even for an owner.
    let clash = server.submit("/api/v1/transfer", &signed_transfer(&setup.owner, "aff", "taken-owner")).await;
    let clash = server.wait_finished(&clash, Duration::from_secs(20)).await;
    assert_eq!(clash["success"], false);
    let last = messages(&clash).last().unwrap().clone();
    assert!(last.contains("the package taken is already published from that location"), "{clash}");
    assert_eq!(git(&bare(&setup.registry), &["for-each-ref"]), refs_before);

    let trustee =
        server.submit("/api/v1/transfer", &signed_transfer(&setup.trustee, "aff", "trustee-choice")).await;
    assert_eq!(server.wait_finished(&trustee, Duration::from_secs(20)).await["success"], true);

    let unknown = server.submit("/api/v1/transfer", &signed_transfer(&setup.owner, "zzz", "x")).await;
    let unknown = server.wait_finished(&unknown, Duration::from_secs(20)).await;
    assert!(messages(&unknown).last().unwrap().contains("has no metadata"), "{unknown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn restricted_package_set_updates_need_the_trustee_signature() {
    let setup = setup();
    let server = serve(&setup, &[]).await;
    let payload = r#"{"compiler":"0.15.16","packages":{"aff":null}}"#;
    let by_trustee = registry_core::auth::sign(&setup.trustee.private, payload).unwrap();
    let answer = server.post("/api/v1/package-sets", &package_set_body(payload, Some(&by_trustee))).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let by_owner = registry_core::auth::sign(&setup.owner.private, payload).unwrap();
    let refused = server.post("/api/v1/package-sets", &package_set_body(payload, Some(&by_owner))).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "The pacchettibotti signature is not valid for this payload.");
}

#[tokio::test(flavor = "multi_thread")]
async fn readonly_transfer_changes_no_remote_and_logs_the_skipped_commit() {
    let setup = setup();
    let refs_before = git(&bare(&setup.registry), &["for-each-ref"]);
    let server = serve(&setup, &[("READONLY", "1")]).await;
    assert!(server.log().contains("READONLY MODE"));
    let id = server.submit("/api/v1/transfer", &signed_transfer(&setup.owner, "aff", "new-owner")).await;
    let job = server.wait_finished(&id, Duration::from_secs(20)).await;
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(git(&bare(&setup.registry), &["for-each-ref"]), refs_before, "nothing pushed");
    let notices = server.get(&format!("/api/v1/jobs/{id}?level=NOTICE")).await.json();
    let skipped =
        messages(&notices).into_iter().find(|m| m.starts_with("READONLY: would commit")).unwrap_or_default();
    assert!(
        skipped.contains("registry repository at")
            && skipped.contains(&format!("Update metadata for aff\n\nJob ID: {id}")),
        "{notices}"
    );
    assert!(skipped.contains("write metadata/aff.json ("), "{skipped}");
}

fn signed_payload(key: &Key, payload: &str) -> String {
    let signature = registry_core::auth::sign(&key.private, payload).unwrap();
    serde_json::json!({"payload": payload, "signature": signature}).to_string()
}

/// A signed transfer is carried out once: resending it later (payloads are public in
/// `GET /api/v1/jobs`) is refused, naming the job that used it; the owner moves the
/// package again with a fresh payload, which may carry an extra field such as a nonce.
#[tokio::test(flavor = "multi_thread")]
async fn a_used_transfer_signature_cannot_be_replayed() {
    let setup = setup();
    let server = serve(&setup, &[]).await;
    let location = |owner: &str| format!(r#"{{"githubOwner":"{owner}","githubRepo":"purescript-aff"}}"#);
    let away = format!(r#"{{"name":"aff","newLocation":{}}}"#, location("new-owner"));
    let moved = server.submit("/api/v1/transfer", &signed_payload(&setup.owner, &away)).await;
    assert_eq!(server.wait_finished(&moved, Duration::from_secs(20)).await["success"], true);
    let back = format!(r#"{{"name":"aff","newLocation":{}}}"#, location("old-owner"));
    let returned = server.submit("/api/v1/transfer", &signed_payload(&setup.owner, &back)).await;
    assert_eq!(server.wait_finished(&returned, Duration::from_secs(20)).await["success"], true);
    let refs = git(&bare(&setup.registry), &["for-each-ref"]);

    // Someone resends the first transfer, byte for byte (or with upper-case hex).
    let replay = server.post("/api/v1/transfer", &signed_payload(&setup.owner, &away)).await;
    assert_eq!(replay.status, 400, "{}", replay.text);
    let error = replay.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains(&format!("already used by job {moved}")) && error.contains("fresh payload"),
        "{error}"
    );
    assert_eq!(replay.json()["path"], "$.signature");
    let shouted: serde_json::Value = serde_json::from_str(&signed_payload(&setup.owner, &away)).unwrap();
    let shouted = serde_json::json!({"payload": shouted["payload"], "signature": shouted["signature"].as_str().unwrap().to_uppercase()});
    assert_eq!(server.post("/api/v1/transfer", &shouted.to_string()).await.status, 400);
    assert_eq!(git(&bare(&setup.registry), &["for-each-ref"]), refs, "nothing moved");

    // The owner really wants to move it again: a fresh payload (upstream's shape plus a nonce).
    let again =
        format!(r#"{{"name":"aff","newLocation":{},"nonce":"2026-02-01T10:00:00Z"}}"#, location("new-owner"));
    let id = server.submit("/api/v1/transfer", &signed_payload(&setup.owner, &again)).await;
    let job = server.wait_finished(&id, Duration::from_secs(20)).await;
    assert_eq!(job["success"], true, "{job}");
    let stored: serde_json::Value =
        serde_json::from_str(&git(&bare(&setup.registry), &["show", "main:metadata/aff.json"])).unwrap();
    assert_eq!(stored["location"]["githubOwner"], "new-owner");
}

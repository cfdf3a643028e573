//! Publish and unpublish end to end over HTTP: the real binary, packages generated
//! by the workload crate in local git repositories (the GitHub base URL points at
//! them), and the stand-in compiler installed as `purs-0_15_15`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use registry_core::Manifest;
use registry_core::json::Codec;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::{Value, json};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);

/// The stand-in compiler, built next to the registry binary (`cargo test --workspace` builds it).
fn standin() -> PathBuf {
    let path = Path::new(BIN).parent().unwrap().join("purs-standin");
    assert!(path.is_file(), "{} is missing: run `cargo build -p purs-standin` first", path.display());
    path
}

fn manifest(name: &str, version: &str, deps: Value, owner: &Key) -> Manifest {
    let public = owner.public_line.split_whitespace().nth(1).unwrap();
    Manifest::decode(&json!({
        "name": name,
        "version": version,
        "license": "MIT",
        "location": {"githubOwner": "test", "githubRepo": format!("purescript-{name}")},
        "ref": format!("v{version}"),
        "owners": [{"id": "owner@example.org", "keytype": "ssh-ed25519", "public": public}],
        "dependencies": deps,
    }))
    .unwrap()
}

fn publish_request(name: &str, version: &str, with_location: bool) -> String {
    let mut body =
        json!({"name": name, "ref": format!("v{version}"), "version": version, "compiler": "0.15.15"});
    if with_location {
        body["location"] = json!({"githubOwner": "test", "githubRepo": format!("purescript-{name}")});
    }
    body.to_string()
}

fn unpublish_request(key: &Key, name: &str, version: &str) -> String {
    let payload = format!(r#"{{"name":"{name}","version":"{version}","reason":"Published by mistake."}}"#);
    let signature = registry_core::auth::sign(&key.private, &payload).unwrap();
    json!({"payload": payload, "signature": signature}).to_string()
}

/// Commits `files` to a package repository and tags the commit.
fn commit_tag(repo: &Path, files: &std::collections::BTreeMap<String, Vec<u8>>, tag: &str) {
    std::fs::remove_dir_all(repo.join("src")).unwrap();
    registry_workload::write_files(repo, files).unwrap();
    for args in [&["add", "-A"][..], &["commit", "-q", "-m", tag], &["tag", "-f", tag]] {
        let out = Command::new("git")
            .current_dir(repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@localhost")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@localhost")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn git_log(bare: &Path) -> Vec<String> {
    let out =
        Command::new("git").current_dir(bare).args(["log", "--format=%B%x00", "main"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect()
}

fn git_show(bare: &Path, path: &str) -> Option<String> {
    let out = Command::new("git").current_dir(bare).args(["show", &format!("main:{path}")]).output().unwrap();
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last log line at NOTICE or above: what the submitter is told.
async fn verdict(server: &Server, id: &str) -> (String, String) {
    let job = server.get(&format!("/api/v1/jobs/{id}?level=NOTICE")).await.json();
    let last = job["logs"].as_array().unwrap().last().cloned().unwrap_or_default();
    (last["level"].as_str().unwrap_or("").to_owned(), last["message"].as_str().unwrap_or("").to_owned())
}

async fn run(server: &Server, path: &str, body: &str) -> (String, Value) {
    let id = server.submit(path, body).await;
    let job = server.wait_finished(&id, WITHIN).await;
    (id, job)
}

#[tokio::test(flavor = "multi_thread")]
async fn packages_publish_fail_with_a_reason_retry_and_unpublish_over_http() {
    let registry = Registry::init();
    let root = registry.dir.path().to_path_buf();
    let owner = keygen(&root, "owner", "owner@example.org");
    let trustee = keygen(&root, "trustee", "pacchettibotti@purescript.org");
    let stranger = keygen(&root, "stranger", "stranger@example.org");
    let compilers = root.join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    std::os::unix::fs::symlink(standin(), compilers.join("purs-0_15_15")).unwrap();

    let alpha = manifest("alpha", "1.0.0", json!({}), &owner);
    let beta = manifest("beta", "1.0.0", json!({"alpha": ">=1.0.0 <2.0.0"}), &owner);
    let beta11 = manifest("beta", "1.1.0", json!({"alpha": ">=1.0.0 <2.0.0"}), &owner);
    let repo = |name: &str| root.join(format!("github/test/purescript-{name}.git"));
    let who = GitIdentity::default();
    write_git_repo(&repo("alpha"), &[(&alpha, Variant::Normal)], &who).unwrap();
    write_git_repo(&repo("beta"), &[(&beta, Variant::Normal), (&beta11, Variant::Broken)], &who).unwrap();

    let github = format!("file://{}", root.join("github").display());
    let server = registry
        .serve_env(
            &["--compilers", compilers.to_str().unwrap()],
            &[
                ("GITHUB_URL", github.as_str()),
                ("PURSUIT_API_URL", "http://127.0.0.1:9"),
                ("PACCHETTIBOTTI_ED25519_PUB", trustee.public_line.as_str()),
            ],
        )
        .await;
    let data = registry.data();
    let (registry_git, index_git) = (data.join("git/registry.git"), data.join("git/registry-index.git"));

    // A chain publishes.
    let mut first_ids = Vec::new();
    for (name, version) in [("alpha", "1.0.0"), ("beta", "1.0.0")] {
        let (id, job) = run(&server, "/api/v1/publish", &publish_request(name, version, true)).await;
        first_ids.push(id.clone());
        assert_eq!(job["success"], true, "{job}\n{}", server.log());
        assert!(job["finishedAt"].is_string());
        assert_eq!(
            verdict(&server, &id).await,
            ("NOTICE".into(), format!("Published {name}@{version} with compiler 0.15.15."))
        );
        assert!(data.join(format!("storage/{name}/{version}.tar.gz")).is_file());
        assert_eq!(git_log(&index_git)[0], format!("Update manifest for {name}@{version}\n\nJob ID: {id}"));
        assert_eq!(git_log(&registry_git)[0], format!("Update metadata for {name}\n\nJob ID: {id}"));
    }
    // The tarball is served like the storage host serves it.
    let served = server.get("/beta/1.0.0.tar.gz").await;
    assert_eq!(served.status, 200);

    // A version that does not compile fails with the file and line…
    let broken_body = publish_request("beta", "1.1.0", false);
    let (broken, job) = run(&server, "/api/v1/publish", &broken_body).await;
    assert_eq!(job["success"], false, "{job}");
    let (level, message) = verdict(&server, &broken).await;
    assert_eq!(level, "ERROR");
    assert!(
        message.contains("beta@1.1.0 does not compile with 0.15.15: error ModuleNotFound in file src/"),
        "{message}"
    );
    assert!(message.contains(" at line ") && message.contains("Fix the code"), "{message}");
    assert!(!data.join("storage/beta/1.1.0.tar.gz").exists());

    // …and once fixed, the same request starts a new job that succeeds.
    write_git_repo(&repo("beta"), &[(&beta11, Variant::Normal)], &who).unwrap();
    let resubmitted = server.post("/api/v1/publish", &broken_body).await;
    assert_eq!(resubmitted.header("registry-duplicate-job"), None);
    let retry = resubmitted.json()["jobId"].as_str().unwrap().to_owned();
    assert_ne!(retry, broken);
    assert_eq!(server.wait_finished(&retry, WITHIN).await["success"], true);

    // Each failure class ends the job with one line saying what to fix.
    let beta2 = manifest("beta", "2.0.0", json!({"alpha": ">=1.0.0 <2.0.0"}), &owner);
    let base = registry_workload::package_files(&beta2, Variant::Normal);
    let with_manifest = |value: Value| {
        let mut files = base.clone();
        files.insert("purs.json".into(), value.to_string().into_bytes());
        files
    };
    let mut no_licence = beta2.encode();
    no_licence.as_object_mut().unwrap().remove("license");
    let mut wrong_version = beta2.encode();
    wrong_version["version"] = "2.0.1".into();
    let mut unused = beta2.encode();
    unused["dependencies"]["gamma"] = ">=1.0.0 <2.0.0".into();
    let mut large = base.clone();
    large.insert("src/blob.bin".into(), registry_workload::incompressible_bytes(2_100_000));
    let cases = [
        ("no-licence", with_manifest(no_licence), "purs.json at ref 'no-licence' has no 'license' field"),
        (
            "wrong-version",
            with_manifest(wrong_version),
            "has version 2.0.1, but the request is for version 2.0.0",
        ),
        ("unused", with_manifest(unused), "Unused dependencies (gamma)"),
        ("too-large", large, "more than the limit of 2000000 bytes"),
    ];
    let gamma = manifest("gamma", "1.0.0", json!({}), &owner);
    write_git_repo(&repo("gamma"), &[(&gamma, Variant::Normal)], &who).unwrap();
    let (_, job) = run(&server, "/api/v1/publish", &publish_request("gamma", "1.0.0", true)).await;
    assert_eq!(job["success"], true, "{job}");
    for (tag, files, expected) in cases {
        commit_tag(&repo("beta"), &files, tag);
        let body = json!({"name": "beta", "ref": tag, "version": "2.0.0", "compiler": "0.15.15"}).to_string();
        let (id, job) = run(&server, "/api/v1/publish", &body).await;
        assert_eq!(job["success"], false, "{tag}: {job}");
        let (level, message) = verdict(&server, &id).await;
        assert_eq!(level, "ERROR", "{tag}");
        assert!(message.contains(expected), "{tag}: {message}");
    }
    let (id, job) = run(&server, "/api/v1/publish", &publish_request("newcomer", "1.0.0", false)).await;
    assert_eq!(job["success"], false);
    assert!(verdict(&server, &id).await.1.contains("did not include a 'location' field"));
    assert!(!data.join("storage/beta/2.0.0.tar.gz").exists());

    // Asking again for a published version runs a new job (it would publish missing
    // documentation); here the documentation site cannot be reached, so it says so.
    let (twice, job) = run(&server, "/api/v1/publish", &publish_request("alpha", "1.0.0", true)).await;
    assert_ne!(twice, first_ids[0]);
    assert_eq!(job["success"], false, "{job}");
    let (_, message) = verdict(&server, &twice).await;
    assert!(
        message.contains(&format!("alpha@1.0.0 has already been published by job {}", first_ids[0])),
        "{message}"
    );

    // Unpublishing: refused while another package needs the version, or when
    // signed by a stranger; an owner's signature removes it everywhere.
    let (needed, _) = run(&server, "/api/v1/unpublish", &unpublish_request(&owner, "alpha", "1.0.0")).await;
    let (_, message) = verdict(&server, &needed).await;
    assert!(
        message.contains("Cannot unpublish alpha@1.0.0: beta@1.0.0, beta@1.1.0 depend on it"),
        "{message}"
    );
    let (strange, _) =
        run(&server, "/api/v1/unpublish", &unpublish_request(&stranger, "beta", "1.1.0")).await;
    assert!(
        verdict(&server, &strange).await.1.contains("Failed to authenticate the unpublishing of beta@1.1.0")
    );
    let index_commits = git_log(&index_git).len();

    let (unpublished, job) =
        run(&server, "/api/v1/unpublish", &unpublish_request(&owner, "beta", "1.1.0")).await;
    assert_eq!(job["success"], true, "{job}");
    assert!(!data.join("storage/beta/1.1.0.tar.gz").exists());
    assert!(data.join("storage/beta/1.0.0.tar.gz").exists());
    let entry = git_show(&index_git, "be/ta/beta").unwrap();
    assert_eq!(entry.lines().count(), 1, "{entry}");
    assert!(entry.contains(r#""version":"1.0.0""#));
    let metadata: Value =
        serde_json::from_str(&git_show(&registry_git, "metadata/beta.json").unwrap()).unwrap();
    assert!(metadata["published"]["1.1.0"].is_null());
    assert_eq!(metadata["unpublished"]["1.1.0"]["reason"], "Published by mistake.");
    assert_eq!(git_log(&index_git).len(), index_commits + 1);
    assert_eq!(
        git_log(&index_git)[0],
        format!("Remove manifest entry for beta@1.1.0\n\nJob ID: {unpublished}")
    );

    // Publishing the unpublished version again is a new job that says why it cannot be,
    // not the old successful one.
    let (again, job) = run(&server, "/api/v1/publish", &publish_request("beta", "1.1.0", false)).await;
    assert_eq!(job["success"], false, "{job}");
    let (level, message) = verdict(&server, &again).await;
    assert!(level == "ERROR" && message.contains("unpublished"), "{level}: {message}");
    assert_eq!(git_log(&index_git).len(), index_commits + 1, "nothing was written");
}

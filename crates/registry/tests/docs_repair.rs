//! Documentation repair over HTTP, as upstream: a publish request for a version that
//! is published but whose documentation the docs site lacks runs a new job, which
//! uploads it; once the documentation is there, the request is refused.

mod support;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use registry_core::Manifest;
use registry_core::json::Codec;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::{Value, json};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);

use support::docs_site::DocsSite as Pursuit;

fn messages_of(job: &Value) -> String {
    messages(job).join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_request_for_a_version_without_docs_uploads_them_over_http() {
    let registry = Registry::init();
    let root = registry.dir.path().to_path_buf();
    let compilers = root.join("compilers");
    std::fs::create_dir_all(&compilers).unwrap();
    std::os::unix::fs::symlink(standin(), compilers.join("purs-0_15_15")).unwrap();
    let alpha = Manifest::decode(&json!({
        "name": "alpha", "version": "1.0.0", "license": "MIT",
        "location": {"githubOwner": "test", "githubRepo": "purescript-alpha"},
        "ref": "v1.0.0", "dependencies": {},
    }))
    .unwrap();
    let repo: PathBuf = root.join("github/test/purescript-alpha.git");
    write_git_repo(&repo, &[(&alpha, Variant::Normal)], &GitIdentity::default()).unwrap();

    let pursuit = Pursuit::default();
    pursuit.down.store(true, Ordering::SeqCst);
    let docs_url = pursuit.start().await;
    let github = format!("file://{}", root.join("github").display());
    let server = registry
        .serve_env(
            &["--compilers", compilers.to_str().unwrap()],
            &[("GITHUB_URL", github.as_str()), ("PURSUIT_API_URL", docs_url.as_str())],
        )
        .await;
    let body = json!({"name": "alpha", "ref": "v1.0.0", "version": "1.0.0", "compiler": "0.15.15",
        "location": {"githubOwner": "test", "githubRepo": "purescript-alpha"}})
    .to_string();

    // Published, but the docs site refused the documentation.
    let first = server.submit("/api/v1/publish", &body).await;
    let job = server.wait_finished(&first, WITHIN).await;
    assert_eq!(job["success"], true, "{job}");
    assert!(messages_of(&job).contains("documentation of alpha@1.0.0 was not published"), "{job}");
    let tarball = std::fs::read(registry.data().join("storage/alpha/1.0.0.tar.gz")).unwrap();

    // The same request again: a new job (not the finished one as a duplicate) repairs it.
    pursuit.down.store(false, Ordering::SeqCst);
    let again = server.post("/api/v1/publish", &body).await;
    assert_eq!(again.header("registry-duplicate-job"), None);
    let repair = again.json()["jobId"].as_str().unwrap().to_owned();
    assert_ne!(repair, first);
    // While it is pending or running, a third request is answered with it.
    let pending = server.post("/api/v1/publish", &body).await;
    if pending.header("registry-duplicate-job") == Some("true") {
        assert_eq!(pending.json()["jobId"], repair.as_str());
    }
    let job = server.wait_finished(&repair, WITHIN).await;
    assert_eq!(job["success"], true, "{job}\n{}", server.log());
    let text = messages_of(&job);
    assert!(
        text.contains(&format!(
            "alpha@1.0.0 has already been published by job {first}, but its documentation is missing"
        )),
        "{text}"
    );
    assert!(text.contains("Published the missing documentation of alpha@1.0.0"), "{text}");
    assert_eq!(pursuit.uploads(), [("alpha".to_owned(), "1.0.0".to_owned())]);
    assert_eq!(std::fs::read(registry.data().join("storage/alpha/1.0.0.tar.gz")).unwrap(), tarball);

    // Documentation present: refused, saying so.
    let (last, job) = {
        let id = server.submit("/api/v1/publish", &body).await;
        let job = server.wait_finished(&id, WITHIN).await;
        (id, job)
    };
    assert_ne!(last, repair);
    assert_eq!(job["success"], false, "{job}");
    let text = messages_of(&job);
    assert!(text.contains("alpha@1.0.0 has already been published by job"), "{text}");
    assert!(text.contains("and its documentation is on documentation site at"), "{text}");
    assert_eq!(pursuit.uploads().len(), 1);
}

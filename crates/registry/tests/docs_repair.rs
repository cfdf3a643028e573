//! Documentation repair over HTTP, as upstream: a publish request for a version that
//! is published but whose documentation the docs site lacks runs a new job, which
//! uploads it; once the documentation is there, the request is refused.

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use registry_core::Manifest;
use registry_core::json::Codec;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::{Value, json};
use support::*;

const WITHIN: Duration = Duration::from_secs(60);

/// A Pursuit-like docs site on loopback: refuses uploads with 503 while `down`,
/// records them otherwise and lists them in `available-versions`.
#[derive(Clone, Default)]
struct Pursuit {
    uploads: Arc<Mutex<Vec<(String, String)>>>,
    down: Arc<AtomicBool>,
}

impl Pursuit {
    async fn start(&self) -> String {
        use axum::routing::{get, post};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (upload, list) = (self.clone(), self.clone());
        let app = axum::Router::new()
            .route("/packages", post(move |body: axum::body::Bytes| upload.clone().upload(body)))
            .route(
                "/packages/{package}/available-versions",
                get(move |axum::extract::Path(package): axum::extract::Path<String>| {
                    let list = list.clone();
                    async move { list.available(&package) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    async fn upload(self, body: axum::body::Bytes) -> (axum::http::StatusCode, String) {
        if self.down.load(Ordering::SeqCst) {
            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down for maintenance".into());
        }
        let mut text = String::new();
        flate2::read::GzDecoder::new(body.as_ref()).read_to_string(&mut text).unwrap();
        let docs: Value = serde_json::from_str(&text).unwrap();
        let repo = docs["github"][1].as_str().unwrap();
        let name = repo.strip_prefix("purescript-").unwrap().to_owned();
        self.uploads.lock().unwrap().push((name, docs["version"].as_str().unwrap().to_owned()));
        (axum::http::StatusCode::CREATED, "{}".into())
    }

    fn available(&self, package: &str) -> String {
        let name = package.strip_prefix("purescript-").unwrap_or(package);
        let versions: Vec<Value> = self
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| json!([v, format!("https://pursuit.test/{name}/{v}")]))
            .collect();
        Value::Array(versions).to_string()
    }
}

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
    assert_eq!(pursuit.uploads.lock().unwrap().clone(), [("alpha".to_owned(), "1.0.0".to_owned())]);
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
    assert_eq!(pursuit.uploads.lock().unwrap().len(), 1);
}

//! Documentation is generated from exactly what ships, in a clean repository,
//! whatever the author's checkout looks like after the registry worked in it.

mod support;

use std::sync::Arc;

use registry_workload::Variant;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn docs_publish_when_the_author_tracks_a_purs_json_the_registry_rewrites() {
    let reg = TestRegistry::new();
    let docs = Arc::new(RecordingDocs::default());
    reg.set_docs(docs.clone());

    // The author's purs.json is compact JSON: the registry writes it back pretty
    // printed, which leaves the author's checkout with a modified tracked file.
    let alpha = manifest("alpha", "1.0.0", &[]);
    let mut files = files(&alpha, Variant::Normal);
    let compact = registry_core::json::print_compact(&registry_core::json::Codec::encode(&alpha));
    files.insert("purs.json".into(), compact.into_bytes());
    reg.commit_source("alpha", &files, "v1.0.0");
    // Committed long ago, so the tag time cannot be confused with the time of the run.
    let git_at = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(reg.source_repo("alpha"))
            .env("GIT_AUTHOR_DATE", "@1600000000 +0000")
            .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    git_at(&["commit", "--quiet", "--amend", "--no-edit"]);
    git_at(&["tag", "-f", "v1.0.0"]);

    let published = reg.publish(&request(&alpha, true)).await;
    published.ok();
    assert!(
        !published.log.iter().any(|(_, m)| m.contains("documentation of alpha@1.0.0 was not published")),
        "{}",
        published.printed()
    );
    let sent = docs.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (id, json) = &sent[0];
    assert_eq!(id, "alpha@1.0.0");
    assert_eq!(json["versionTag"], "v1.0.0");
    assert_eq!(json["version"], "1.0.0");
    // tagTime is the author's commit time, not the moment the registry ran.
    assert_eq!(json["tagTime"], "2020-09-13T12:26:40+0000", "{json}");
    let modules: Vec<&str> =
        json["modules"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert!(!modules.is_empty() && modules.iter().all(|m| m.starts_with("Alpha")), "{modules:?}");
}

/// A documentation site that refuses uploads while `down`, and otherwise records them.
#[derive(Default)]
struct FlakyDocs {
    inner: RecordingDocs,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl registry_adapters::DocsSite for FlakyDocs {
    fn describe(&self) -> String {
        "flaky documentation site".into()
    }

    async fn publish(
        &self,
        name: &registry_core::PackageName,
        version: &registry_core::Version,
        docs_json: &[u8],
        log: &dyn registry_adapters::ActivityLog,
    ) -> Result<(), registry_adapters::DocsError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(registry_adapters::DocsError::Unreachable {
                url: "http://docs.invalid".into(),
                reason: "connection refused".into(),
            });
        }
        self.inner.publish(name, version, docs_json, log).await
    }

    async fn published_versions(
        &self,
        name: &registry_core::PackageName,
    ) -> Result<Vec<registry_core::Version>, registry_adapters::DocsError> {
        self.inner.published_versions(name).await
    }
}

/// Upstream's documentation repair: publishing a published version whose docs are
/// missing uploads them; once they are there, the request is refused as a duplicate
/// publication.
#[tokio::test(flavor = "multi_thread")]
async fn resubmitting_a_published_version_without_docs_publishes_them() {
    let reg = TestRegistry::new();
    let docs = Arc::new(FlakyDocs::default());
    docs.down.store(true, std::sync::atomic::Ordering::SeqCst);
    reg.set_docs(docs.clone());
    let alpha = manifest("alpha", "1.0.0", &[]);
    reg.commit_source("alpha", &files(&alpha, Variant::Normal), "v1.0.0");

    let (_, first) = reg.publish_as("job-1", &request(&alpha, true)).await;
    first.ok();
    assert!(
        first.printed().contains("documentation of alpha@1.0.0 was not published"),
        "{}",
        first.printed()
    );
    let stored = reg.stored("alpha", "1.0.0").unwrap();

    // Still down: the repair fails, saying so; the publication is untouched.
    let (_, down) = reg.publish_as("job-2", &request(&alpha, true)).await;
    assert!(
        down.printed().contains("but its documentation is missing from flaky documentation site"),
        "{}",
        down.printed()
    );
    assert!(down.error().contains("missing documentation could not be published"), "{}", down.printed());

    docs.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let (repaired, up) = reg.publish_as("job-3", &request(&alpha, true)).await;
    up.ok();
    assert_eq!(repaired.unwrap().version.to_string(), "1.0.0");
    assert!(
        up.printed()
            .contains("Published the missing documentation of alpha@1.0.0 to flaky documentation site"),
        "{}",
        up.printed()
    );
    let sent = docs.inner.0.lock().unwrap().clone();
    assert_eq!(sent.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["alpha@1.0.0"]);
    assert_eq!(sent[0].1["versionTag"], "v1.0.0");
    assert_eq!(reg.stored("alpha", "1.0.0").unwrap(), stored, "the tarball is never rewritten");

    let (_, again) = reg.publish_as("job-4", &request(&alpha, true)).await;
    assert!(
        again
            .error()
            .contains("alpha@1.0.0 has already been published by job job-1 and its documentation is on"),
        "{}",
        again.printed()
    );
    assert_eq!(docs.inner.0.lock().unwrap().len(), 1);
}

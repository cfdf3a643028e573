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

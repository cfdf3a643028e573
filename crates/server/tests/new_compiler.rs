//! The start-up check for a new compiler against a seeded registry (git
//! repositories made by `init`) and the job queue (SQLite, or Postgres with REGISTRY_TEST_DATABASE=postgres): it queues exactly the
//! indexed versions without dependencies, once, however often the server starts.

mod support;

use std::path::Path;

use registry_core::job::{JobDetails, JobType};
use registry_core::json::Codec;
use registry_core::manifest_index::entry_path;
use registry_core::{Manifest, Metadata, PackageName, Timestamp, Version};
use registry_queue::{JobStore, JobsQuery, Order};
use registry_server::app::build_adapters;
use registry_server::config::defaults_for;
use registry_server::handlers::matrix::enqueue_new_compiler_jobs;

const PACKAGES: [(&str, &str, &[&str]); 5] = [
    ("prelude", "1.0.0", &[]),
    ("prelude", "2.0.0", &[]),
    ("console", "1.0.0", &[]),
    ("effect", "1.0.0", &["prelude"]),
    ("aff", "1.0.0", &["effect", "prelude"]),
];

/// Metadata and index for `PACKAGES`, every version verified with `compilers`.
fn seed(dir: &Path, compilers: &[&str]) {
    for (name, _, _) in PACKAGES {
        let versions: Vec<_> = PACKAGES.iter().filter(|(n, _, _)| *n == name).collect();
        let mut entry = String::new();
        let mut published = serde_json::Map::new();
        for (_, version, deps) in &versions {
            let deps: serde_json::Map<_, _> =
                deps.iter().map(|d| (d.to_string(), serde_json::json!(">=1.0.0 <3.0.0"))).collect();
            let manifest = Manifest::decode(&serde_json::json!({
                "name": name, "version": version, "license": "MIT",
                "location": {"githubOwner": "o", "githubRepo": name},
                "ref": format!("v{version}"), "dependencies": deps,
            }))
            .unwrap();
            entry.push_str(&manifest.to_compact());
            entry.push('\n');
            published.insert(
                version.to_string(),
                serde_json::json!({
                    "bytes": 100, "compilers": compilers,
                    "hash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
                    "publishedTime": "2024-01-01T00:00:00.000Z", "ref": "",
                }),
            );
        }
        let path = dir.join("index").join(entry_path(&PackageName::parse(name).unwrap()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, entry).unwrap();
        let metadata = Metadata::decode(&serde_json::json!({
            "location": {"githubOwner": "o", "githubRepo": name},
            "published": published, "unpublished": {},
        }))
        .unwrap();
        std::fs::create_dir_all(dir.join("metadata")).unwrap();
        std::fs::write(dir.join(format!("metadata/{name}.json")), metadata.to_pretty()).unwrap();
    }
}

async fn matrix_jobs(store: &dyn JobStore) -> Vec<String> {
    let query = JobsQuery {
        since: Timestamp::from_unix_millis(0),
        until: Timestamp::parse_iso("9999-12-31T23:59:59.999Z").unwrap(),
        order: Order::Asc,
        include_completed: true,
    };
    let (jobs, skipped) = store.jobs(&query).await.unwrap();
    assert!(skipped.is_empty());
    let mut found: Vec<String> = jobs
        .iter()
        .filter_map(|job| match &job.details {
            JobDetails::Matrix { package_name, package_version, compiler_version, payload } => {
                assert!(payload.is_empty(), "start-up jobs have an empty build plan: {payload:?}");
                Some(format!("{package_name}@{package_version} with {compiler_version}"))
            }
            _ => None,
        })
        .collect();
    found.sort();
    found
}

/// Starts the check `starts` times against a registry verified with `verified`.
async fn check(verified: &[&str], installed: &[&str], starts: usize) -> (Vec<usize>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    seed(&dir.path().join("seed"), verified);
    let data = dir.path().join("data");
    registry_server::init::init(&data, Some(&dir.path().join("seed"))).unwrap();
    let settings = defaults_for(&data);
    let adapters = build_adapters(&settings).unwrap();
    let store = support::job_store(&settings).await;
    let installed: Vec<Version> = installed.iter().map(|v| Version::parse(v).unwrap()).collect();
    let mut added = Vec::new();
    for _ in 0..starts {
        added.push(
            enqueue_new_compiler_jobs(&adapters, store.as_ref(), &Default::default(), &installed)
                .await
                .unwrap(),
        );
    }
    // Nothing but matrix jobs is queued.
    let counts = store.pending_counts().await.unwrap();
    let queued: Vec<JobType> = counts.iter().filter(|(_, n)| **n > 0).map(|(k, _)| *k).collect();
    assert_eq!(queued, if added[0] > 0 { vec![JobType::Matrix] } else { vec![] });
    (added, matrix_jobs(store.as_ref()).await)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_compiler_queues_every_version_without_dependencies_once() {
    let (added, jobs) = check(&["0.15.14"], &["0.15.14", "0.15.15"], 3).await;
    assert_eq!(added, [3, 0, 0]);
    assert_eq!(
        jobs,
        ["console@1.0.0 with 0.15.15", "prelude@1.0.0 with 0.15.15", "prelude@2.0.0 with 0.15.15"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_already_verified_with_the_newest_compiler_queues_nothing() {
    let (added, jobs) = check(&["0.15.14", "0.15.15"], &["0.15.14", "0.15.15"], 1).await;
    assert_eq!(added, [0]);
    assert!(jobs.is_empty());
    // Installed compilers older than the registry's are not new either.
    let (added, _) = check(&["0.15.15"], &["0.15.14"], 1).await;
    assert_eq!(added, [0]);
}

//! `registry package-set daily` against a data directory seeded with metadata whose
//! `publishedTime`s are relative to the test's clock, and a running `registry serve`
//! whose package-set jobs never finish (so the submitted job stays pending).

mod support;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;

use registry_core::json::Codec;
use registry_core::manifest_index::entry_path;
use registry_core::{Manifest, PackageName, Timestamp};
use support::{BIN, Registry};

const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `(package, version, dependencies, published this long before now (ms))`.
type Release = (&'static str, &'static str, &'static [&'static str], i64);

/// The set 0.1.0 holds prelude@1.0.0, alpha@1.0.0 and gamma@2.0.0. Recent uploads:
/// prelude@1.1.0 (an upgrade), delta@1.0.0 and delta@1.1.0 (new; the higher one
/// wins), beta@0.1.0 (new, but needs zeta, which is not in the set), gamma@1.5.0
/// (lower than the set's). alpha@1.0.1 is 30 hours old.
const RELEASES: [Release; 10] = [
    ("prelude", "1.0.0", &[], 400 * HOUR),
    ("prelude", "1.1.0", &[], HOUR),
    ("alpha", "1.0.0", &["prelude"], 400 * HOUR),
    ("alpha", "1.0.1", &["prelude"], 30 * HOUR),
    ("gamma", "1.5.0", &["prelude"], 2 * HOUR),
    ("gamma", "2.0.0", &["prelude"], 400 * HOUR),
    ("delta", "1.0.0", &["prelude"], 3 * HOUR),
    ("delta", "1.1.0", &["prelude"], 2 * HOUR),
    ("beta", "0.1.0", &["prelude", "zeta"], HOUR),
    ("zeta", "1.0.0", &[], 400 * HOUR),
];

fn manifest(name: &str, version: &str, deps: &[&str]) -> Manifest {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\":\">=0.0.0 <100.0.0\"")).collect();
    Manifest::from_json_str(&format!(
        r#"{{"name":"{name}","version":"{version}","license":"MIT","location":{{"githubOwner":"o","githubRepo":"{name}"}},"ref":"v{version}","dependencies":{{{}}}}}"#,
        deps.join(",")
    ))
    .unwrap()
}

/// `registry init --seed` with `releases`, each published `age` ms before `now`.
fn seeded(releases: &[Release], now: i64) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    std::fs::create_dir_all(seed.join("metadata")).unwrap();
    std::fs::create_dir_all(seed.join("package-sets")).unwrap();
    let names: std::collections::BTreeSet<&str> = releases.iter().map(|r| r.0).collect();
    for name in names {
        let mine: Vec<&Release> = releases.iter().filter(|r| r.0 == name).collect();
        let entry: String = mine.iter().map(|(n, v, d, _)| manifest(n, v, d).to_compact() + "\n").collect();
        let path = seed.join("index").join(entry_path(&PackageName::parse(name).unwrap()));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, entry).unwrap();
        let published: Vec<String> = mine
            .iter()
            .map(|(_, v, _, age)| {
                format!(
                    r#""{v}":{{"bytes":1,"compilers":["0.15.15"],"hash":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","publishedTime":"{}","ref":""}}"#,
                    Timestamp::from_unix_millis(now - age)
                )
            })
            .collect();
        let metadata = format!(
            r#"{{"location":{{"githubOwner":"o","githubRepo":"{name}"}},"published":{{{}}},"unpublished":{{}}}}"#,
            published.join(",")
        );
        std::fs::write(seed.join(format!("metadata/{name}.json")), metadata).unwrap();
    }
    std::fs::write(
        seed.join("package-sets/0.1.0.json"),
        r#"{"version":"0.1.0","compiler":"0.15.15","published":"2024-01-01","packages":{"alpha":"1.0.0","gamma":"2.0.0","prelude":"1.0.0"}}"#,
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["init", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--seed")
        .arg(&seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::create_dir_all(dir.path().join("markers")).unwrap();
    Registry { dir }
}

fn daily(data: &Path, args: &[impl AsRef<OsStr>]) -> Output {
    Command::new(BIN)
        .args(["package-set", "daily", "--data-dir"])
        .arg(data)
        .args(args)
        .env_remove("READONLY")
        .env_remove("REGISTRY_COMPILERS")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const REPORT: &str = "\
Latest package set: 0.1.0 (compiler 0.15.15)
Published in the last 24 hours but not higher than the set's version:
  - gamma@1.5.0: the set has 2.0.0
Passed over for a higher version published meanwhile:
  - delta@1.0.0
Some packages uploaded in the last 24 hours are not eligible for the automated package sets.
Cannot be added or updated:
  - beta@0.1.0: Missing dependencies (zeta)
Found package versions eligible for inclusion in package set:
  - delta@1.1.0
  - prelude@1.1.0
";

#[test]
fn a_dry_run_prints_the_recent_candidates_and_why_others_are_left_out() {
    let registry = seeded(&RELEASES, now_ms());
    let out = daily(&registry.data(), &["--dry-run"]);
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), format!("{REPORT}Dry run: nothing submitted (from package set 0.1.0).\n"));
}

#[test]
fn nothing_recent_means_nothing_to_submit() {
    // Every release 25 hours older: the same data, just outside the window.
    let registry = seeded(&RELEASES, now_ms() - 25 * HOUR);
    // An address nobody listens on: a request would fail the command.
    let out = daily(&registry.data(), &["--submit", "http://127.0.0.1:9"]);
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out),
        "Latest package set: 0.1.0 (compiler 0.15.15)\n\
         No eligible additions, updates, or removals to produce a new package set.\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_queues_one_package_set_job_and_a_second_run_finds_it_pending() {
    let registry = seeded(&RELEASES, now_ms());
    let slow = registry.script("slow.sh", "sleep 60");
    let server = registry.serve(&[&format!("--job-command=packageset={}", slow.display())]).await;

    let run = |args: Vec<String>| {
        let data = registry.data();
        async move { tokio::task::spawn_blocking(move || daily(&data, &args)).await.unwrap() }
    };
    let first = run(vec!["--submit".into(), server.url.clone()]).await;
    assert!(first.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&first), stderr(&first));
    let text = stdout(&first);
    let rest = text.strip_prefix(REPORT).unwrap_or_else(|| panic!("unexpected report:\n{text}"));
    let job_id = rest
        .strip_prefix("Submitted package-set job ")
        .and_then(|r| r.strip_suffix(".\n"))
        .unwrap_or_else(|| panic!("no job id in:\n{text}"))
        .to_owned();

    let jobs = server.get("/api/v1/jobs").await.json();
    let package_set_jobs: Vec<&serde_json::Value> =
        jobs.as_array().unwrap().iter().filter(|j| j["jobType"] == "packageset").collect();
    assert_eq!(package_set_jobs.len(), 1, "{jobs}");
    assert_eq!(package_set_jobs[0]["jobId"], job_id.as_str());
    assert_eq!(
        package_set_jobs[0]["payload"],
        serde_json::json!({"packages": {"delta": "1.1.0", "prelude": "1.1.0"}}),
        "{jobs}"
    );
    assert!(package_set_jobs[0].get("finishedAt").is_none(), "{jobs}");

    // The same request while the job is pending: the server's duplicate answer.
    let second = run(vec!["--submit".into(), format!("{}/", server.url)]).await;
    assert!(second.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&second), stderr(&second));
    assert_eq!(
        stdout(&second),
        format!("{REPORT}The same request is already queued as package-set job {job_id}.\n")
    );
    let jobs = server.get("/api/v1/jobs").await.json();
    assert_eq!(jobs.as_array().unwrap().iter().filter(|j| j["jobType"] == "packageset").count(), 1);

    // A server answering with an error: the command fails with the server's reason.
    let refused = run(vec!["--submit".into(), format!("{}/elsewhere", server.url)]).await;
    assert!(!refused.status.success(), "stdout:\n{}", stdout(&refused));
    let err = stderr(&refused);
    assert!(err.contains("refused the request (404 Not Found)"), "{err}");
    assert!(err.contains("No such route: POST /elsewhere/api/v1/package-sets"), "{err}");
}

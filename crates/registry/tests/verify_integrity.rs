//! `registry verify-integrity` on a real data directory (bare git repositories, local
//! storage with real tarballs, the SQLite job database): clean, then with one planted
//! fault of each kind.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use registry_core::Timestamp;
use registry_core::json::{Codec, parse, print_pretty};
use registry_core::operation::PublishData;
use registry_queue::{JobStore, NewJob, SqliteStore};
use support::BIN;

struct Checked {
    ok: bool,
    out: String,
}

fn verify(data: &Path) -> Checked {
    let out = Command::new(BIN)
        .args(["verify-integrity", "--data-dir"])
        .arg(data)
        .env_remove("READONLY")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Checked { ok: out.status.success(), out: text }
}

/// A registry seeded with the four-package fixture, its tarballs in local storage.
fn small_registry(dir: &Path) -> PathBuf {
    let seed = dir.join("seed");
    let data = dir.join("data");
    registry_workload::write_small_registry(&seed, &data.join("storage")).unwrap();
    let out =
        Command::new(BIN).args(["init", "--data-dir"]).arg(&data).arg("--seed").arg(&seed).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    data
}

fn git(args: &[&str], cwd: &Path) {
    let out = Command::new("git").args(args).current_dir(cwd).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Clones a bare repository of the data directory, lets `edit` change it, pushes.
fn commit_to(data: &Path, bare: &str, edit: impl FnOnce(&Path)) {
    let work = data.join(format!("edit-{bare}"));
    let _ = std::fs::remove_dir_all(&work);
    git(&["clone", "--quiet", data.join("git").join(bare).to_str().unwrap(), work.to_str().unwrap()], data);
    edit(&work);
    git(&["add", "--all"], &work);
    git(&["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "--quiet", "-m", "planted"], &work);
    git(&["push", "--quiet", "origin", "HEAD:main"], &work);
    std::fs::remove_dir_all(&work).unwrap();
}

/// Removes the lines of an index entry that contain `needle`.
fn drop_line(entry: &Path, needle: &str) {
    let text = std::fs::read_to_string(entry).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains(needle)).collect();
    std::fs::write(entry, kept.join("\n") + "\n").unwrap();
}

fn problems(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("PROBLEM: ")).collect()
}

#[test]
fn a_clean_registry_passes_with_its_counts() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let checked = verify(&data);
    assert!(checked.ok, "{}", checked.out);
    for line in [
        "checked 4 metadata files",
        "checked 12 published versions",
        "checked 12 index lines",
        "checked 12 tarballs hashed",
        "checked 1 package sets",
        "note: the job database has no jobs",
        "verify-integrity: no problems",
    ] {
        assert!(checked.out.contains(line), "missing {line:?}:\n{}", checked.out);
    }

    // A fresh registry (only the initial empty package set) is clean too.
    let fresh = dir.path().join("fresh");
    let out = Command::new(BIN).args(["init", "--data-dir"]).arg(&fresh).output().unwrap();
    assert!(out.status.success());
    let checked = verify(&fresh);
    assert!(checked.ok, "{}", checked.out);
}

#[test]
fn each_planted_storage_index_metadata_and_package_set_fault_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let storage = data.join("storage");

    // A flipped byte in a tarball, a missing tarball, an orphan tarball.
    let flipped = storage.join("alpha/1.1.0.tar.gz");
    let mut bytes = std::fs::read(&flipped).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&flipped, &bytes).unwrap();
    std::fs::remove_file(storage.join("beta/2.0.0.tar.gz")).unwrap();
    std::fs::copy(storage.join("gamma/1.0.0.tar.gz"), storage.join("gamma/9.9.9.tar.gz")).unwrap();

    // An index line without metadata, a metadata version without its index line; an
    // unpublished version still in storage.
    commit_to(&data, "registry-index.git", |work| {
        let entry = work.join("ga/mm/gamma");
        let mut text = std::fs::read_to_string(&entry).unwrap();
        text.push_str(
            &text.lines().next().unwrap().replace("\"version\":\"1.0.0\"", "\"version\":\"3.0.0\""),
        );
        text.push('\n');
        std::fs::write(&entry, text).unwrap();
        drop_line(&work.join("be/ta/beta"), "\"1.1.0\"");
        drop_line(&work.join("pr/el/prelude"), "\"2.0.0\"");
    });
    commit_to(&data, "registry.git", |work| {
        let file = work.join("metadata/prelude.json");
        let mut meta = parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let published = meta["published"]["2.0.0"].take();
        meta["published"].as_object_mut().unwrap().remove("2.0.0");
        meta["unpublished"]["2.0.0"] = serde_json::json!({
            "publishedTime": published["publishedTime"],
            "reason": "Committed credentials.",
            "unpublishedTime": "2024-02-01T00:00:00.000Z",
        });
        std::fs::write(&file, print_pretty(&meta)).unwrap();
        // A package set naming a version that was never published.
        let set = work.join("package-sets/0.1.0.json");
        let mut newer = parse(&std::fs::read_to_string(&set).unwrap()).unwrap();
        newer["version"] = "0.2.0".into();
        newer["packages"]["alpha"] = "7.0.0".into();
        std::fs::write(work.join("package-sets/0.2.0.json"), print_pretty(&newer)).unwrap();
    });

    let checked = verify(&data);
    assert!(!checked.ok, "{}", checked.out);
    let found = problems(&checked.out);
    let expect = [
        "alpha@1.1.0: the tarball in storage has",
        "beta@2.0.0 is published but its tarball beta/2.0.0.tar.gz is missing from storage",
        "the tarball gamma/9.9.9.tar.gz in storage belongs to no published version",
        "the index entry ga/mm/gamma has a line for gamma@3.0.0 but metadata/gamma.json does not list it",
        "beta@1.1.0 is published in metadata/beta.json but has no line in the index",
        "prelude@2.0.0 is unpublished but its tarball prelude/2.0.0.tar.gz is still in storage",
        "package set 0.2.0 names alpha@7.0.0, which was never published",
    ];
    for want in expect {
        assert!(found.iter().any(|p| p.contains(want)), "missing problem {want:?}:\n{}", checked.out);
    }
    assert_eq!(found.len(), expect.len(), "unexpected problems:\n{}", checked.out);
    assert!(
        checked.out.contains(&format!("verify-integrity: {} problem(s)", expect.len())),
        "{}",
        checked.out
    );
    assert!(
        found.iter().all(|p| p.contains(": ") && p.len() > 60),
        "each problem says what to do:\n{}",
        checked.out
    );
}

#[tokio::test]
async fn jobs_are_checked_against_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let data = small_registry(dir.path());
    let store = SqliteStore::open(&data.join("db/registry.sqlite3")).unwrap();
    let at = |iso: &str| Timestamp::parse_iso(iso).unwrap();
    let publish = |name: &str, version: &str| {
        NewJob::Publish(
            PublishData::from_json_str(&format!(
                r#"{{"name":"{name}","ref":"v{version}","version":"{version}","compiler":"0.15.15"}}"#
            ))
            .unwrap(),
        )
    };
    // The fixture's versions were published in 2023, before the first job: exempt.
    for (name, version, success) in [("ghost", "1.0.0", true), ("alpha", "5.0.0", false)] {
        let job = store.enqueue(publish(name, version), at("2024-01-01T00:00:00.000Z")).await.unwrap();
        let claimed = store
            .claim_next(&[registry_core::job::JobType::Publish], at("2024-01-01T00:00:01.000Z"))
            .await
            .unwrap();
        assert_eq!(claimed.unwrap().info.job_id, job.job_id);
        store.finish(&job.job_id, success, at("2024-01-01T00:00:02.000Z")).await.unwrap();
    }
    let checked = verify(&data);
    assert!(!checked.ok, "{}", checked.out);
    let found = problems(&checked.out);
    assert_eq!(found.len(), 1, "{}", checked.out);
    assert!(
        found[0].contains("published ghost@1.0.0 successfully, but metadata/ghost.json does not list it"),
        "{}",
        checked.out
    );
    assert!(checked.out.contains("12 versions published before the first recorded job"), "{}", checked.out);

    // A version written after the registry started recording jobs, with no job.
    commit_to(&data, "registry.git", |work| {
        let file = work.join("metadata/beta.json");
        let mut meta = parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
        meta["published"]["1.1.0"]["publishedTime"] = "2024-06-01T00:00:00.000Z".into();
        std::fs::write(&file, print_pretty(&meta)).unwrap();
    });
    let checked = verify(&data);
    let found = problems(&checked.out);
    assert_eq!(found.len(), 2, "{}", checked.out);
    assert!(
        found.iter().any(|p| p.contains("beta@1.1.0 was published at 2024-06-01T00:00:00.000Z")
            && p.contains("no successful publish job names it")),
        "{}",
        checked.out
    );
}

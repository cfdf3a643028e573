//! Publishing packages whose authors attack the server through the repository's
//! contents: links to server files and devices, link fan-out, packages that
//! could never be installed, expanding manifests, over-long paths. Each job must
//! end with a clear outcome, and nothing from outside the package may reach the
//! job log.

mod support;

use std::path::Path;

use registry_core::Manifest;
use registry_core::json::Codec;
use registry_workload::Variant;
use support::*;

/// A secret of the server's: its text must never appear in a job's log or failure.
const MARKER: &str = "SERVER-SECRET-4711";

/// Commits `manifest`'s normal files plus whatever `prepare` adds to the source
/// repository (links, big files), tagged with the manifest's ref.
fn commit_hostile(reg: &TestRegistry, manifest: &Manifest, prepare: impl FnOnce(&Path)) {
    let repo = reg.source_repo(manifest.name.as_str());
    reg.commit_source(manifest.name.as_str(), &files(manifest, Variant::Normal), &manifest.git_ref);
    prepare(&repo);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "hostile"]);
    git(&repo, &["tag", "-f", &manifest.git_ref]);
}

/// A file outside the package holding [`MARKER`] (and text that is not a module header).
fn secret_file(reg: &TestRegistry) -> std::path::PathBuf {
    let path = reg.root().join("server-secret");
    std::fs::write(&path, format!("{MARKER}:*:20228:0:99999:7:::\n")).unwrap();
    path
}

fn assert_no_marker(outcome: &Outcome) {
    assert!(!outcome.printed().contains(MARKER), "the secret reached the log:\n{}", outcome.printed());
    if let Err(failure) = &outcome.result {
        assert!(!failure.0.contains(MARKER), "the secret reached the failure: {failure}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_linking_to_a_server_file_is_never_read() {
    let reg = TestRegistry::new();
    let secret = secret_file(&reg);
    let m = manifest("leaky", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        std::os::unix::fs::symlink(&secret, repo.join("src/Secret.purs")).unwrap();
        std::os::unix::fs::symlink("/proc/self/environ", repo.join("src/Environ.purs")).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert_no_marker(&outcome);
    outcome.ok();
    assert!(
        outcome.log.iter().any(|(_, line)| line.contains("lead outside the package directory")
            && line.contains("src/Secret.purs")
            && line.contains("src/Environ.purs")),
        "{}",
        outcome.printed()
    );
    let stored = unpacked(&reg.stored("leaky", "1.0.0").unwrap());
    assert!(!stored.iter().any(|(p, c)| p.contains("Secret") || String::from_utf8_lossy(c).contains(MARKER)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_licence_linking_outside_is_ignored_and_the_log_says_so() {
    let reg = TestRegistry::new();
    let outside = reg.root().join("gpl.txt");
    std::fs::write(&outside, format!("GNU GENERAL PUBLIC LICENSE\n   Version 3, 29 June 2007\n{MARKER}\n"))
        .unwrap();
    let m = manifest("licensed", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        let _ = std::fs::remove_file(repo.join("LICENSE"));
        std::os::unix::fs::symlink(&outside, repo.join("LICENSE")).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert_no_marker(&outcome);
    // Read through the link, the GPL text would contradict the manifest's MIT.
    outcome.ok();
    assert!(
        outcome.log.iter().any(|(_, line)| line.starts_with("LICENSE leads outside the package directory")
            && line.contains("not checked against the manifest's licence")),
        "{}",
        outcome.printed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_and_modules_linking_to_dev_zero_fail_with_their_reason() {
    let reg = TestRegistry::new();
    let m = manifest("zero", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        std::fs::remove_file(repo.join("purs.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", repo.join("purs.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", repo.join("src/Zero.purs")).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(
        outcome
            .error()
            .starts_with("purs.json at ref 'v1.0.0' is a link leading outside the package directory"),
        "{}",
        outcome.error()
    );

    // A manifest that is simply too large names the file and the limit.
    let m = manifest("zero", "1.0.1", &[]);
    commit_hostile(&reg, &m, |repo| {
        let mut text = m.to_pretty();
        text.push_str(&" ".repeat(1_100_000));
        std::fs::remove_file(repo.join("purs.json")).unwrap();
        std::fs::write(repo.join("purs.json"), text).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(outcome.error().contains("purs.json at ref 'v1.0.1' is"), "{}", outcome.error());
    assert!(outcome.error().contains("more than the limit of 1000000 bytes"), "{}", outcome.error());
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_links_are_not_followed() {
    let reg = TestRegistry::new();
    let m = manifest("fanout", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        // Followed, these make 2^depth paths below src.
        for name in ["a", "b", "c", "d"] {
            std::os::unix::fs::symlink(".", repo.join("src").join(name)).unwrap();
        }
        std::os::unix::fs::symlink("..", repo.join("src/up")).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    outcome.ok();
    assert!(
        outcome.log.iter().any(|(_, line)| line.contains("links point to directories")
            && line.contains("src/a, src/b, src/c, src/d, src/up")),
        "{}",
        outcome.printed()
    );
    let listing = tar_listing(&reg.stored("fanout", "1.0.0").unwrap());
    assert!(!listing.iter().any(|p| p.starts_with("fanout-1.0.0/src/a")), "{listing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_with_more_entries_than_installation_accepts_is_refused() {
    let reg = TestRegistry::new();
    let m = manifest("crowded", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        let dir = repo.join("src/data");
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..20_001 {
            std::fs::write(dir.join(format!("f{i}.txt")), "").unwrap();
        }
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(
        outcome.error().contains("more than the 20000 a package may hold when it is installed"),
        "{}",
        outcome.error()
    );
    assert!(reg.stored("crowded", "1.0.0").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compression_bomb_is_refused_before_upload() {
    let reg = TestRegistry::new();
    let m = manifest("bomb", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| write_zeros(&repo.join("src/zero.bin"), 200 << 20));
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(
        outcome.error().starts_with("src/zero.bin is 209715200 bytes, more than the 67108864 bytes a file"),
        "{}",
        outcome.error()
    );
    assert!(reg.stored("bomb", "1.0.0").is_none());
    assert!(!reg.metadata_has("bomb", "1.0.0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn expanding_manifests_fail_with_their_reason() {
    let reg = TestRegistry::new();
    // Billion laughs: nine levels of nine aliases.
    let m = manifest("laughs", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        std::fs::remove_file(repo.join("purs.json")).unwrap();
        std::fs::write(repo.join("spago.yaml"), yaml_bomb()).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(outcome.error().starts_with("spago.yaml at ref 'v1.0.0' cannot be read"), "{}", outcome.error());
    assert!(outcome.error().contains("too large once its aliases are expanded"), "{}", outcome.error());

    let m = manifest("nested", "1.0.0", &[]);
    commit_hostile(&reg, &m, |repo| {
        std::fs::write(repo.join("purs.json"), "[".repeat(500_000) + &"]".repeat(500_000)).unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(
        outcome
            .error()
            .contains("is not valid JSON (Invalid JSON: arrays and objects are nested more than 128"),
        "{}",
        outcome.error()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_too_long_path_is_reported_as_too_long() {
    let reg = TestRegistry::new();
    let m = manifest("deep", "1.0.0", &[]);
    let segments: Vec<String> = (0..10).map(|i| format!("{i}{}", "x".repeat(199))).collect();
    commit_hostile(&reg, &m, |repo| {
        let dir = segments.iter().fold(repo.join("src"), |p, s| p.join(s));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Deep.js"), "export const x = 1;\n").unwrap();
    });
    let outcome = reg.publish(&request(&m, true)).await;
    assert!(outcome.error().starts_with("The path 'src/0xxx"), "{}", outcome.error());
    assert!(outcome.error().contains("bytes long, more than the limit of 1024 bytes"), "{}", outcome.error());
    assert!(!outcome.printed().contains("outside"), "{}", outcome.printed());
}

pub fn yaml_bomb() -> String {
    let mut text = String::from(
        "lol: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let (prev, name) = (pair[0], pair[1]);
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text.push_str("package:\n  name: laughs\n  dependencies: []\n  extra: *i\n");
    text
}

fn write_zeros(path: &Path, bytes: usize) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..bytes / chunk.len() {
        file.write_all(&chunk).unwrap();
    }
}

/// The stored tarball's files and their contents.
fn unpacked(tarball: &[u8]) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let extracted =
        registry_tarball::extract_tarball(tarball, dir.path(), None, &registry_tarball::Limits::default())
            .unwrap();
    let top = dir.path().join(&extracted.top_dir);
    extracted
        .files
        .iter()
        .map(|f| (format!("{}/{f}", extracted.top_dir), std::fs::read(top.join(f)).unwrap()))
        .collect()
}

fn tar_listing(tarball: &[u8]) -> Vec<String> {
    unpacked(tarball).into_iter().map(|(p, _)| p).collect()
}

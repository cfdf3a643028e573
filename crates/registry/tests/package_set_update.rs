//! `registry package-set update` on a seeded data directory (real SQLite, git, local
//! storage, the stand-in compiler), its output read as a non-terminal.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use registry_core::json::Codec;
use registry_core::{PackageName, PackageSet, Version};

const BIN: &str = env!("CARGO_BIN_EXE_registry");

fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("purs-standin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo).args(["build", "-q", "-p", "purs-standin"]).status().unwrap();
    assert!(status.success() && path.exists(), "building purs-standin failed");
    path
}

/// A data directory made by `registry init` from a seed: index, metadata and package
/// set 0.1.0 (every package at 1.0.0), tarballs of 1.0.0 and 1.1.0 (normal) and 2.0.0
/// (drops an export its dependants use) in local storage; the stand-in as purs 0.15.15.
struct Seeded {
    dir: tempfile::TempDir,
}

impl Seeded {
    fn new() -> Seeded {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        let storage = dir.path().join("storage");
        registry_workload::write_small_registry(&seed, &storage).unwrap();

        let data = dir.path().join("data");
        let out = Command::new(BIN)
            .args(["init", "--data-dir"])
            .arg(&data)
            .arg("--seed")
            .arg(&seed)
            .output()
            .unwrap();
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::remove_dir_all(data.join("storage")).unwrap();
        std::fs::rename(&storage, data.join("storage")).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(standin(), bin.join("purs-0_15_15")).unwrap();
        Seeded { dir }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["package-set", "update", "--data-dir"])
            .arg(self.data())
            .arg("--compilers")
            .arg(self.dir.path().join("bin"))
            .args(args)
            .env_remove("READONLY")
            .env_remove("REGISTRY_COMPILERS")
            .stdin(Stdio::null());
        cmd
    }

    fn update(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.data().join("git/registry.git"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn committed_sets(&self) -> Vec<String> {
        self.git(&["ls-tree", "--name-only", "main", "package-sets/"]).lines().map(str::to_owned).collect()
    }
}

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `(i, n)` of every `compiling module i of n: M` line.
fn module_counts(stderr: &str) -> Vec<(usize, usize)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("compiling module ")?;
            let (counts, _) = rest.split_once(':')?;
            let (i, n) = counts.split_once(" of ")?;
            Some((i.parse().ok()?, n.parse().ok()?))
        })
        .collect()
}

#[test]
fn an_update_prints_its_phases_and_commits_the_changes_that_compile() {
    let registry = Seeded::new();
    let out = registry.update(&["--update", "alpha@2.0.0", "--update", "beta@1.1.0"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    for phase in [
        "Latest package set: 0.1.0 (compiler 0.15.15)",
        "Building 4 packages with 2 changes using purs 0.15.15",
        "Attempt 1: building the set unchanged",
        "Attempt 2: building the set with 2 changes",
        "Installed ",
        "1 culprit found (alpha); 1 change accepted",
        "warning: alpha was not added to the set: compilation fails",
        "Released package set 0.2.0.",
    ] {
        assert!(stderr.contains(phase), "no {phase:?} in:\n{stderr}");
    }
    // Every compile's progress counts 1.. up to its total, and reaches it.
    let counts = module_counts(&stderr);
    assert!(!counts.is_empty(), "{stderr}");
    for (i, n) in &counts {
        assert!(1 <= *i && i <= n, "{counts:?}");
    }
    let first_total = counts[0].1;
    assert!(counts.contains(&(first_total, first_total)), "{counts:?}");
    let announced = stderr.lines().find_map(|l| {
        let rest = l.strip_prefix("Compiling: ")?;
        rest.split_once(" modules)")?.0.rsplit_once('(')?.1.parse::<usize>().ok()
    });
    assert_eq!(
        announced,
        Some(first_total),
        "the first compile rebuilds every module it announced:\n{stderr}"
    );
    assert!(stderr.lines().any(|l| l.starts_with("  installing package 1 of ")), "{stderr}");

    assert!(stdout.starts_with("Released package set 0.2.0 (commit "), "{stdout}");
    assert!(stdout.contains("Accepted (1):\n  beta 1.0.0 -> 1.1.0\n"), "{stdout}");
    assert!(stdout.contains("Rejected (1):\n  alpha@2.0.0: compilation fails in "), "{stdout}");

    assert_eq!(registry.committed_sets(), ["package-sets/0.1.0.json", "package-sets/0.2.0.json"]);
    let shown = registry.git(&["show", "main:package-sets/0.2.0.json"]);
    let set = PackageSet::from_json_str(&shown).unwrap();
    assert_eq!(set.packages[&PackageName::parse("beta").unwrap()], Version::new(1, 1, 0));
    assert_eq!(set.packages[&PackageName::parse("alpha").unwrap()], Version::new(1, 0, 0));
    let message = registry.git(&["log", "-1", "--format=%B", "main"]);
    assert!(message.starts_with("Release 0.2.0 package set.\n"), "{message}");
    assert!(!message.contains("Job ID"), "no job, no job id: {message}");
    // Mirrored to the legacy package-sets repository like a job's set. Upstream refuses a
    // second set of one compiler on one day (its tag exists): the tags go before the next.
    let legacy = registry.data().join("git/package-sets.git");
    let git_legacy = |args: &[&str]| Command::new("git").args(args).current_dir(&legacy).output().unwrap();
    let mirrored =
        String::from_utf8_lossy(&git_legacy(&["log", "-1", "--format=%s", "main"]).stdout).into_owned();
    assert_eq!(mirrored.trim_end(), "Update to the 0.2.0 package set.");
    assert!(
        git_legacy(&["tag", "-d", &format!("psc-0.15.15-{}", set.published.to_string().replace('-', ""))])
            .status
            .success()
    );

    // The next update starts from 0.2.0, reusing the working directory; a removal
    // needs no signature.
    let out = registry.update(&["--remove", "gamma"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("Latest package set: 0.2.0"), "{stderr}");
    // A removal is a major bump.
    assert!(stdout.starts_with("Released package set 1.0.0 "), "{stdout}");
    assert!(stdout.contains("Accepted (1):\n  gamma 1.0.0 removed\n"), "{stdout}");
    let set = PackageSet::from_json_str(&registry.git(&["show", "main:package-sets/1.0.0.json"])).unwrap();
    assert!(!set.packages.contains_key(&PackageName::parse("gamma").unwrap()));
}

#[test]
fn failed_updates_exit_non_zero_with_the_reason_and_commit_nothing() {
    let registry = Seeded::new();

    let out = registry.update(&["--update", "gamma@9.9.9"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let reason = stderr.split_once("error: the package-set update failed: ").map_or("", |(_, r)| r);
    assert!(reason.contains("gamma@9.9.9: No manifest entry exists in the registry index."), "{stderr}");

    let out = registry.update(&["--update", "alpha@2.0.0"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("warning: alpha was not added to the set: compilation fails"), "{stderr}");
    assert!(
        stderr.contains(
            "error: the package-set update failed: No packages could be added to the set: every change failed to compile."
        ),
        "{stderr}"
    );
    assert_eq!(stdout, "");

    let out = registry.update(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("nothing to update"), "{:?}", text(&out));

    assert_eq!(registry.committed_sets(), ["package-sets/0.1.0.json"]);
}

#[test]
fn readonly_builds_the_set_without_committing_it() {
    let registry = Seeded::new();
    let out = registry.update(&["--update", "beta@1.1.0", "--readonly"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.starts_with("Package set 0.2.0 built (read-only: not committed)"), "{stdout}");
    assert!(stderr.contains("READONLY: would commit"), "{stderr}");
    assert_eq!(registry.committed_sets(), ["package-sets/0.1.0.json"]);
}

#[test]
fn an_update_waits_for_the_one_running_on_the_same_data_directory() {
    let registry = Seeded::new();
    let root = registry.data().join("scratch/package-set-builds");
    std::fs::create_dir_all(&root).unwrap();
    // Stands in for a server's package-set job holding the update lock.
    let held = std::fs::File::create(root.join("update.lock")).unwrap();
    held.lock().unwrap();
    let log = registry.dir.path().join("stderr.log");
    let mut child = registry
        .command(&["--update", "beta@1.1.0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap().contains("waiting for it to finish") {
        assert!(Instant::now() < deadline, "no waiting message: {}", std::fs::read_to_string(&log).unwrap());
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited early: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "it must wait while the lock is held");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("Latest package set"), "nothing read yet");
    drop(held);
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Released package set 0.2.0."), "{stderr}");
}

#[test]
fn the_help_says_who_may_run_it_and_what_a_running_server_means() {
    let out = Command::new(BIN).args(["package-set", "update", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for part in [
        "--update <NAME@VERSION>",
        "--remove <NAME>",
        "--compiler <X.Y.Z>",
        "trustee",
        "server running on the same data directory",
    ] {
        assert!(help.contains(part), "no {part:?} in:\n{help}");
    }
}

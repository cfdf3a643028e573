//! The server's peak memory while publishing hostile packages: links to
//! `/dev/zero`, an alias bomb, files far beyond the installation limits. This is
//! its own test binary with a single test, so the process's high-water mark
//! (`VmHWM`) is this job's alone.

mod support;

use std::path::Path;

use registry_workload::Variant;
use support::*;

/// The most this test process may ever hold. Reading any of these packages
/// whole would take hundreds of megabytes (or, for `/dev/zero`, everything).
const PEAK_BOUND_BYTES: u64 = 64 << 20;

fn peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/self/status");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn write_zeros(path: &Path, bytes: usize) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..bytes / chunk.len() {
        file.write_all(&chunk).unwrap();
    }
}

/// A package name and what makes its repository hostile.
type Case = (&'static str, Box<dyn Fn(&Path)>);

#[tokio::test(flavor = "multi_thread")]
async fn publishing_hostile_packages_keeps_the_server_small() {
    let reg = TestRegistry::new();
    let mut failures = Vec::new();
    let cases: Vec<Case> = vec![
        (
            "zero-purs-json",
            Box::new(|repo| {
                std::fs::remove_file(repo.join("purs.json")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", repo.join("purs.json")).unwrap();
            }),
        ),
        (
            "zero-spago-yaml",
            Box::new(|repo| {
                std::fs::remove_file(repo.join("purs.json")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", repo.join("spago.yaml")).unwrap();
            }),
        ),
        (
            "zero-module",
            Box::new(|repo| std::os::unix::fs::symlink("/dev/zero", repo.join("src/Z.purs")).unwrap()),
        ),
        ("big-module", Box::new(|repo| write_zeros(&repo.join("src/Big.purs"), 100 << 20))),
        ("zero-file", Box::new(|repo| write_zeros(&repo.join("src/zero.bin"), 200 << 20))),
        (
            "incompressible",
            Box::new(|repo| {
                std::fs::write(repo.join("src/noise.bin"), registry_workload::incompressible_bytes(40 << 20))
                    .unwrap()
            }),
        ),
        (
            "laughs",
            Box::new(|repo| {
                std::fs::remove_file(repo.join("purs.json")).unwrap();
                std::fs::write(repo.join("spago.yaml"), yaml_bomb()).unwrap();
            }),
        ),
    ];
    for (name, prepare) in &cases {
        let m = manifest(name, "1.0.0", &[]);
        let repo = reg.source_repo(name);
        reg.commit_source(name, &files(&m, Variant::Normal), "v1.0.0");
        prepare(&repo);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "hostile"]);
        git(&repo, &["tag", "-f", "v1.0.0"]);
    }
    // What the test itself allocated to build the repositories is not the jobs' peak.
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting VmHWM needs Linux 4.0 or later");
    let before = peak_bytes();
    let mut peak = before;
    for (name, _) in &cases {
        let m = manifest(name, "1.0.0", &[]);
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let outcome = reg.publish(&request(&m, true)).await;
        let job_peak = peak_bytes();
        eprintln!("{name}: peak {} KiB", job_peak >> 10);
        peak = peak.max(job_peak);
        if *name == "zero-module" {
            // The link is dropped, never read; the rest of the package is fine.
            outcome.ok();
            continue;
        }
        assert!(reg.stored(name, "1.0.0").is_none(), "{name} was published:\n{}", outcome.printed());
        failures.push(format!("{name}: {}", outcome.error()));
    }
    eprintln!(
        "peak memory: {} MiB before the jobs, {} MiB after\n{}",
        before >> 20,
        peak >> 20,
        failures.join("\n")
    );
    assert!(peak < PEAK_BOUND_BYTES, "the process peaked at {peak} bytes, more than {PEAK_BOUND_BYTES}");
}

fn yaml_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{refs}]\n", name = pair[1]));
    }
    text
}

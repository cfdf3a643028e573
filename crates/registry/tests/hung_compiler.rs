//! A compiler that hangs on `compile` never outlives its publish job: not after the
//! job's timeout, not after SIGTERM, and not after a crash (the restarted server
//! kills the old process group before the job runs again, so two compilers never
//! share an output directory). The real binary, a package in a local git
//! repository, and a `purs-0_15_15` wrapper that hangs on `compile` after starting
//! a grandchild (the stand-in answers every other command).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use registry_core::Manifest;
use registry_core::json::Codec;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use serde_json::json;
use support::*;

/// One `compile` run of the wrapper: its pid (the group), its grandchild, and the
/// output directory it was given.
#[derive(Debug)]
struct Compile {
    leader: i32,
    grandchild: i32,
    output: String,
}

struct Setup {
    registry: Registry,
    compilers: PathBuf,
    github: String,
}

impl Setup {
    fn new() -> Setup {
        let registry = Registry::init();
        let root = registry.dir.path().to_path_buf();
        let standin = standin();
        let real = root.join("real/purs-0_15_15");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&standin, &real).unwrap();
        let compilers = root.join("compilers");
        std::fs::create_dir_all(&compilers).unwrap();
        // On `compile`: note any earlier compiler still alive on the same output
        // directory, start a grandchild, record the run, hang.
        let wrapper = format!(
            r#"case "$1" in compile) ;; *) exec {real} "$@" ;; esac
out=""; prev=""
for a in "$@"; do [ "$prev" = "--output" ] && out="$a"; prev="$a"; done
if [ -f "$MARKERS/compiles" ]; then
  while read leader grandchild dir; do
    [ "$dir" = "$out" ] || continue
    for p in $leader $grandchild; do
      state=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)
      if [ -n "$state" ] && [ "$state" != Z ]; then echo "$p $dir" >> "$MARKERS/overlap"; fi
    done
  done < "$MARKERS/compiles"
fi
sleep 1000 &
echo "$$ $! $out" >> "$MARKERS/compiles"
exec sleep 1000"#,
            real = real.display()
        );
        let path = registry.script("purs-wrapper.sh", &wrapper);
        std::fs::rename(path, compilers.join("purs-0_15_15")).unwrap();

        let alpha = Manifest::decode(&json!({
            "name": "alpha",
            "version": "1.0.0",
            "license": "MIT",
            "location": {"githubOwner": "test", "githubRepo": "purescript-alpha"},
            "ref": "v1.0.0",
            "dependencies": {},
        }))
        .unwrap();
        let repo = root.join("github/test/purescript-alpha.git");
        write_git_repo(&repo, &[(&alpha, Variant::Normal)], &GitIdentity::default()).unwrap();
        let github = format!("file://{}", root.join("github").display());
        Setup { registry, compilers, github }
    }

    async fn serve(&self, timeouts: &str) -> Server {
        let mut env = vec![("GITHUB_URL", self.github.as_str()), ("PURSUIT_API_URL", "http://127.0.0.1:9")];
        if !timeouts.is_empty() {
            env.push(("REGISTRY_JOB_TIMEOUTS", timeouts));
        }
        self.registry.serve_env(&["--compilers", self.compilers.to_str().unwrap()], &env).await
    }

    fn compiles(&self) -> Vec<Compile> {
        std::fs::read_to_string(self.registry.marker("compiles"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let mut parts = line.split_whitespace();
                Compile {
                    leader: parts.next().unwrap().parse().unwrap(),
                    grandchild: parts.next().unwrap().parse().unwrap(),
                    output: parts.next().unwrap_or("").to_owned(),
                }
            })
            .collect()
    }

    /// Waits until the wrapper has recorded `n` compile runs; returns the last.
    async fn compile_started(&self, n: usize) -> Compile {
        wait_until(Duration::from_secs(60), "the compiler to start", || self.compiles().len() >= n).await;
        self.compiles().pop().unwrap()
    }

    fn overlaps(&self) -> String {
        std::fs::read_to_string(self.registry.marker("overlap")).unwrap_or_default()
    }
}

fn publish_request() -> String {
    json!({"name": "alpha", "ref": "v1.0.0", "version": "1.0.0", "compiler": "0.15.15",
           "location": {"githubOwner": "test", "githubRepo": "purescript-alpha"}})
    .to_string()
}

/// Live (not zombie) processes of group `pgid`.
fn live_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
        })
        .collect()
}

fn group_dead(compile: &Compile) -> bool {
    live_members(compile.leader).is_empty() && process_gone(compile.grandchild as u32)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_publish_kills_its_hung_compiler() {
    let setup = Setup::new();
    let server = setup.serve("publish=5s").await;
    let id = server.submit("/api/v1/publish", &publish_request()).await;
    let compile = setup.compile_started(1).await;
    assert!(!group_dead(&compile));
    let job = server.wait_finished(&id, Duration::from_secs(30)).await;
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(messages(&job).last().map(String::as_str), Some("Job timed out after 5 seconds."), "{job}");
    assert!(group_dead(&compile), "the compiler's group outlived the timed-out job: {compile:?}");
    let records = setup.registry.data().join("scratch/process-groups");
    wait_until(Duration::from_secs(5), "the group's record to be removed", || {
        std::fs::read_dir(&records).unwrap().count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_hung_compile_exits_promptly_and_kills_it() {
    let setup = Setup::new();
    let server = setup.serve("").await;
    server.submit("/api/v1/publish", &publish_request()).await;
    let compile = setup.compile_started(1).await;
    let stopping = Instant::now();
    let status = server.terminate().await;
    let took = stopping.elapsed();
    eprintln!("SIGTERM to exit during a hung compile: {took:?}");
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    assert!(group_dead(&compile), "the compiler's group outlived the server: {compile:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_crash_the_old_compiler_is_killed_before_the_job_runs_again() {
    let setup = Setup::new();
    let server = setup.serve("").await;
    let id = server.submit("/api/v1/publish", &publish_request()).await;
    let first = setup.compile_started(1).await;
    server.crash().await;
    // SIGKILL gives the server no chance to clean up: the group survives it…
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!group_dead(&first), "the compiler died with the server: nothing to test");

    // …until the next start, before the job runs again on the same output directory.
    let server = setup.serve("").await;
    let second = setup.compile_started(2).await;
    assert!(group_dead(&first), "the old compiler survived the restart: {first:?}");
    assert_eq!(second.output, first.output, "the re-run compiles into the same directory");
    assert_eq!(setup.overlaps(), "", "two compilers were alive on one output directory");
    let job = server.job(&id).await;
    assert!(job.get("finishedAt").is_none(), "{job}");
    let status = server.terminate().await;
    assert!(status.success());
    assert!(group_dead(&second));
}

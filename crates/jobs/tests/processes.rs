//! A publish job's child processes die with the job: when the job's task is
//! aborted (what the executor does on a timeout or at shutdown), no process of
//! the compiler's, `dhall-to-json`'s or `git`'s process group is left alive.
//! The children are real hanging programs that also start a grandchild.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use registry_adapters::process::live_members;
use registry_workload::Variant;
use support::*;

/// Runs a test body on its own runtime that, unlike `#[tokio::test]`'s, does not
/// wait for blocking threads at the end: without the fix a hung compile keeps one
/// busy forever, and the test must fail, not hang.
fn in_runtime(test: impl std::future::Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcome = runtime.block_on(runtime.spawn(test));
    runtime.shutdown_background();
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// A program that starts a grandchild, records `<its pid> <grandchild pid>` in
/// `pids`, and hangs.
fn hang_recording(pids: &Path) -> String {
    format!("sleep 1000 &\necho \"$$ $!\" >> {}\nexec sleep 1000", pids.display())
}

/// Waits until `pids` holds a line and returns the pids of its first line.
async fn started(pids: &Path) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(pids).unwrap_or_default();
        if let Some(line) = text.lines().next() {
            return line.split_whitespace().map(|p| p.parse().unwrap()).collect();
        }
        assert!(Instant::now() < deadline, "the hanging program never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether a process is alive (zombies count as dead).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"))
}

/// Publishes `name@1.0.0` in a task, waits until the hanging program recorded
/// itself in `pids`, aborts the task as the executor does, and checks that the
/// program's whole group is dead once the aborted task has been awaited.
async fn abort_while_hung(reg: TestRegistry, name: &str, pids: &Path) {
    let reg = std::sync::Arc::new(reg);
    let alpha = manifest(name, "1.0.0", &[]);
    let job = {
        let reg = reg.clone();
        tokio::spawn(async move { reg.publish(&request(&alpha, true)).await.result.err() })
    };
    let hung = started(pids).await;
    let (leader, grandchild) = (hung[0], hung[1]);
    assert!(alive(leader) && alive(grandchild));
    assert!(!job.is_finished(), "the job ended while its child hangs: {:?}", job.await);
    job.abort();
    let _ = job.await;
    assert_eq!(live_members(leader), Vec::<i32>::new(), "processes of the group survived the job");
    assert!(!alive(leader) && !alive(grandchild));
}

#[test]
fn a_hung_compiler_dies_with_its_job() {
    in_runtime(async {
        let reg = TestRegistry::new();
        let root = reg.root().to_path_buf();
        // purs-0_15_15 hangs on `compile`; the stand-in (under the same name, which
        // tells it the version to play) answers everything else.
        let real = root.join("real/purs-0_15_15");
        std::fs::create_dir_all(real.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(standin(), &real).unwrap();
        let pids = root.join("compiler.pids");
        let wrapper = root.join("compilers/purs-0_15_15");
        std::fs::remove_file(&wrapper).unwrap();
        script(
            &wrapper,
            &format!(
                "case \"$1\" in compile) ;; *) exec {} \"$@\" ;; esac\n{}",
                real.display(),
                hang_recording(&pids)
            ),
        );
        let alpha = manifest("alpha", "1.0.0", &[]);
        reg.commit_source("alpha", &files(&alpha, Variant::Normal), "v1.0.0");
        abort_while_hung(reg, "alpha", &pids).await;
    });
}

#[test]
fn a_hung_dhall_to_json_dies_with_its_job() {
    in_runtime(async {
        let mut reg = TestRegistry::new();
        let pids = reg.root().join("dhall.pids");
        let program: PathBuf = reg.root().join("bin/dhall-to-json");
        script(&program, &hang_recording(&pids));
        reg.publisher = reg.publisher.clone().with_dhall_to_json(&program);
        let dhall = manifest("dhall", "1.0.0", &[]);
        let mut sources = files(&dhall, Variant::Normal);
        sources.remove("purs.json");
        sources.insert("spago.dhall".into(), b"{ name = \"dhall\", dependencies = [] : List Text }".to_vec());
        sources.insert("packages.dhall".into(), b"{=}".to_vec());
        reg.commit_source("dhall", &sources, "v1.0.0");
        abort_while_hung(reg, "dhall", &pids).await;
    });
}

/// The pids of live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            alive(*pid)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

#[test]
fn a_hung_git_clone_dies_with_its_job() {
    in_runtime(async {
        // A "GitHub" that accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let reg = std::sync::Arc::new(TestRegistry::new());
        let (mut env, _log) = reg.job_env();
        env.sources = std::sync::Arc::new(registry_adapters::GitSourceFetcher::new(&url));
        let alpha = manifest("alpha", "1.0.0", &[]);
        let job = {
            let reg = reg.clone();
            tokio::spawn(async move { reg.publisher.run(&env, &request(&alpha, true)).await.err() })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let clone = loop {
            let found = processes_mentioning(&url);
            if !found.is_empty() {
                break found;
            }
            assert!(Instant::now() < deadline, "git never started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // Let git start its remote helper too.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let clone: Vec<i32> = clone.into_iter().chain(processes_mentioning(&url)).collect();
        assert!(!job.is_finished(), "the clone ended: {:?}", job.await);
        job.abort();
        let _ = job.await;
        let survivors: Vec<i32> = clone.iter().copied().filter(|p| alive(*p)).collect();
        assert_eq!(survivors, Vec::<i32>::new(), "git processes survived the job");
        assert_eq!(processes_mentioning(&url), Vec::<i32>::new());
        held.abort();
    });
}

//! The driver against small shell-script compilers: retries on the JSON race, stream
//! choice per version, timeouts that take the whole process group down.

#[path = "common/purs_cases.rs"]
mod purs_cases;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use registry_compiler::process::{self, RunError};
use registry_compiler::{CompilerFailure, CompilerLocator, Purs};
use registry_core::Version;

use purs_cases::TempDir;

fn script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const REPORT: &str = r#"{"warnings":[],"errors":[{"position":{"startLine":1,"startColumn":1,"endLine":1,"endColumn":2},"message":"  Unable to parse module:\n  Unexpected token '<'\n","errorCode":"ErrorParsingModule","errorLink":"https://github.com/purescript/documentation/blob/master/errors/ErrorParsingModule.md","filename":"x.purs","moduleName":null,"suggestion":null,"allSpans":[]}]}"#;

/// Processes of the group that are still alive (zombies waiting for a reaper do not count).
fn live_members(pgid: i32) -> Vec<i32> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2].parse::<i32>() == Ok(pgid) && fields[0] != "Z" {
            live.push(pid);
        }
    }
    live
}

fn wait_until_gone(pgid: i32) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let live = live_members(pgid);
        if live.is_empty() || Instant::now() > deadline {
            return live;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let started = Instant::now();
    let result = process::run(
        Command::new("sh").args(["-c", "sleep 60 & sleep 60 & echo started; sleep 60"]),
        Some(Duration::from_millis(400)),
    );
    let Err(RunError::TimedOut { stdout, pgid, .. }) = result else {
        panic!("expected a timeout: {result:?}")
    };
    assert_eq!(stdout, "started\n");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_eq!(wait_until_gone(pgid), Vec::<i32>::new(), "processes of group {pgid} survived");
}

#[test]
fn helpers_left_behind_by_a_finished_compiler_are_killed_too() {
    let finished = process::run(Command::new("sh").args(["-c", "sleep 60 & echo done"]), None).unwrap();
    assert!(finished.status.success());
    assert_eq!(wait_until_gone(finished.pgid), Vec::<i32>::new());
}

#[test]
fn timeouts_are_reported_as_such_by_the_driver() {
    let bin = TempDir::new("timeout-bin");
    script(&bin.0, "purs-0_15_15", "echo '[1 of 9] Compiling A' >&2\nexec sleep 60");
    let purs = Purs::new(CompilerLocator::only_in(&bin.0)).with_timeout(Duration::from_millis(300));
    let result = purs.compile(Some(Version::new(0, 15, 15)), None, vec!["x".into()], None);
    match result {
        Err(CompilerFailure::TimedOut { limit, output }) => {
            assert_eq!(limit, Duration::from_millis(300));
            assert!(output.contains("[1 of 9] Compiling A"), "{output}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn the_json_race_is_retried_up_to_three_attempts() {
    let bin = TempDir::new("race-bin");
    let counter = bin.0.join("attempts");
    let counter = counter.display();
    // Fails with the race twice, then succeeds.
    script(
        &bin.0,
        "purs-0_15_15",
        &format!(
            "n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}\nif [ $n -lt 3 ]; then echo 'JSON: Unexpected end of JSON input' >&2; exit 1; fi\necho '{{\"warnings\":[],\"errors\":[]}}'"
        ),
    );
    let purs = Purs::new(CompilerLocator::only_in(&bin.0));
    let ok = purs.compile(Some(Version::new(0, 15, 15)), None, vec!["x".into()], None);
    assert_eq!(ok, Ok("{\"warnings\":[],\"errors\":[]}".to_owned()));
    assert_eq!(std::fs::read_to_string(bin.0.join("attempts")).unwrap().trim(), "3");

    // Always racing: the third failure is returned.
    std::fs::write(bin.0.join("attempts"), "-100").unwrap();
    let failed = purs.compile(Some(Version::new(0, 15, 15)), None, vec!["x".into()], None);
    assert!(matches!(&failed, Err(f) if f.is_race_condition()), "{failed:?}");
    assert_eq!(std::fs::read_to_string(bin.0.join("attempts")).unwrap().trim(), "-97");
}

#[test]
fn error_reports_are_read_from_the_stream_of_the_version() {
    let bin = TempDir::new("streams-bin");
    let report = bin.0.join("report.json");
    std::fs::write(&report, format!("{REPORT}\n")).unwrap();
    let report = report.display();
    // Every script puts the report on one stream and noise on the other.
    script(&bin.0, "purs-0_13_8", &format!("echo 'Compiling X'\ncat {report} >&2\nexit 1"));
    script(&bin.0, "purs-0_14_0", &format!("echo 'Compiling X' >&2\ncat {report}\nexit 1"));
    script(&bin.0, "purs", &format!("cat {report}\nexit 1"));
    script(&bin.0, "purs-0_15_0", "echo 'Compiling X' >&2\necho '{\"warnings\":[],\"errors\":[]}'\nexit 1");
    script(&bin.0, "purs-0_15_1", "echo 'purs: internal error' >&2\nexit 1");
    let purs = Purs::new(CompilerLocator::only_in(&bin.0));
    let compile = |v: Option<Version>| purs.compile(v, None, vec!["x.purs".into()], None);
    for version in [Some(Version::new(0, 13, 8)), Some(Version::new(0, 14, 0)), None] {
        match compile(version) {
            Err(CompilerFailure::CompilationError(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].error_code, "ErrorParsingModule");
                assert_eq!(errors[0].module_name, None);
            }
            other => panic!("{version:?}: expected compilation errors, got {other:?}"),
        }
    }
    assert_eq!(
        compile(Some(Version::new(0, 15, 0))),
        Err(CompilerFailure::UnknownError("Non-normal exit code, but no errors reported.".into()))
    );
    match compile(Some(Version::new(0, 15, 1))) {
        Err(CompilerFailure::UnknownError(text)) => assert!(text.contains("purs: internal error"), "{text}"),
        other => panic!("expected an unknown error, got {other:?}"),
    }
    assert_eq!(compile(Some(Version::new(0, 12, 0))), Err(CompilerFailure::MissingCompiler));
}

#[test]
fn publish_gives_the_last_stdout_line() {
    let bin = TempDir::new("publish-bin");
    script(
        &bin.0,
        "purs-0_15_15",
        "echo '[1 of 1] Compiling documentation for A'\necho '{\"version\":\"1.0.0\"}'",
    );
    let purs = Purs::new(CompilerLocator::only_in(&bin.0));
    let json = purs.publish(Some(Version::new(0, 15, 15)), bin.0.clone(), bin.0.join("resolutions.json"));
    assert_eq!(json, Ok("{\"version\":\"1.0.0\"}".to_owned()));
}

//! Compile progress observed while the stand-in compiler runs (contract §2.2 progress
//! lines), and that observing it leaves the error reading unchanged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use registry_compiler::{CompileProgress, CompilerFailure, CompilerLocator, Purs};
use registry_core::Version;

fn standin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("purs-standin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status =
        std::process::Command::new(cargo).args(["build", "-q", "-p", "purs-standin"]).status().unwrap();
    assert!(status.success() && path.exists(), "building purs-standin failed");
    path
}

/// A project A ← B ← C, A ← D, and a compilers directory with the stand-in as `purs-<v>`.
fn project(versions: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for v in versions {
        std::os::unix::fs::symlink(standin(), bin.join(format!("purs-{}", v.replace('.', "_")))).unwrap();
    }
    write(dir.path(), "src/A.purs", "module A where\n\nfoo :: Int\nfoo = 1\n");
    write(dir.path(), "src/B.purs", "module B where\n\nimport A (foo)\n\nbar = foo\n");
    write(dir.path(), "src/C.purs", "module C where\n\nimport B (bar)\n\nbaz = bar\n");
    write(dir.path(), "src/D.purs", "module D where\n\nimport A\n\nqux = 1\n");
    dir
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Compiles `src/**/*.purs` in `dir` with compiler `version`, collecting progress.
fn compile(dir: &Path, version: &str) -> (Result<String, CompilerFailure>, Vec<CompileProgress>) {
    let seen: Arc<Mutex<Vec<CompileProgress>>> = Arc::default();
    let sink = seen.clone();
    let purs = Purs::new(CompilerLocator::only_in(dir.join("bin")))
        .with_progress(Arc::new(move |p| sink.lock().unwrap().push(p)));
    let result = purs.compile(
        Some(Version::parse(version).unwrap()),
        Some(dir.to_path_buf()),
        vec!["src/**/*.purs".into()],
        None,
    );
    let seen = seen.lock().unwrap().clone();
    (result, seen)
}

fn modules(progress: &[CompileProgress]) -> Vec<&str> {
    progress.iter().map(|p| p.module.as_str()).collect()
}

#[test]
fn the_callback_hears_each_rebuilt_module_once_numbered_1_to_n() {
    let dir = project(&["0.15.15"]);
    let (result, first) = compile(dir.path(), "0.15.15");
    assert!(result.is_ok(), "{result:?}");
    let mut names = modules(&first);
    let position = |m: &str| names.iter().position(|n| *n == m).unwrap();
    assert!(position("A") < position("B") && position("B") < position("C") && position("A") < position("D"));
    names.sort();
    assert_eq!(names, ["A", "B", "C", "D"]);
    assert_eq!(first.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(first.iter().all(|p| p.total == Some(4)), "{first:?}");

    // Only the changed module and its dependant are rebuilt: n is the rebuilt count.
    write(dir.path(), "src/B.purs", "module B where\n\nimport A (foo)\n\nbar = foo\n\nmore = 2\n");
    let (result, second) = compile(dir.path(), "0.15.15");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(
        second,
        [
            CompileProgress { index: 1, total: Some(2), module: "B".into() },
            CompileProgress { index: 2, total: Some(2), module: "C".into() },
        ]
    );

    let (result, nothing) = compile(dir.path(), "0.15.15");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(nothing, []);
}

#[test]
fn errors_are_read_from_stdout_as_before_while_progress_comes_from_stderr() {
    let dir = project(&["0.15.15"]);
    write(dir.path(), "src/D.purs", "module D where\n\nimport A (missing)\n\nqux = 1\n");
    let (result, progress) = compile(dir.path(), "0.15.15");
    let Err(CompilerFailure::CompilationError(errors)) = result else {
        panic!("expected compilation errors, got {result:?}")
    };
    assert_eq!(errors.iter().map(|e| e.filename.as_str()).collect::<Vec<_>>(), ["src/D.purs"]);
    let mut names = modules(&progress);
    names.sort();
    assert_eq!(names, ["A", "B", "C", "D"], "every module started, the failing one too");
}

#[test]
fn unnumbered_progress_of_older_compilers_is_counted() {
    for version in ["0.14.5", "0.13.8"] {
        let dir = project(&[version]);
        let (result, progress) = compile(dir.path(), version);
        // 0.13 prints its progress on stdout, which is what a successful call returns.
        assert!(result.is_ok(), "{version}: {result:?}");
        assert_eq!(progress.iter().map(|p| p.index).collect::<Vec<_>>(), [1, 2, 3, 4], "{version}");
        assert!(progress.iter().all(|p| p.total.is_none()), "{version}: {progress:?}");
        let mut names = modules(&progress);
        names.sort();
        assert_eq!(names, ["A", "B", "C", "D"], "{version}");
    }
}

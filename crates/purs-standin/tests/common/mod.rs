//! A throwaway project directory with the stand-in installed as `bin/purs-X_Y_Z`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

pub const STANDIN: &str = env!("CARGO_BIN_EXE_purs-standin");

static NEXT: AtomicUsize = AtomicUsize::new(0);

pub struct Project {
    pub root: PathBuf,
}

/// What one run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Module names from `[i of n] Compiling M` / `Compiling M` lines on either stream.
    pub fn compiled(&self) -> Vec<String> {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter_map(|l| l.split_once("Compiling ").map(|(_, m)| m.to_owned()))
            .collect()
    }

    pub fn errors_json(&self) -> serde_json::Value {
        let line = self.stdout.lines().last().unwrap_or_else(|| panic!("no stdout: {self:?}"));
        serde_json::from_str(line).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    pub fn error_codes(&self) -> Vec<String> {
        self.errors_json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["errorCode"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Project {
    pub fn new(label: &str) -> Project {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("standin-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("bin")).unwrap();
        Project { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// The stand-in installed under the name of `version` (`purs-0_15_15`), or as `purs`.
    pub fn install(&self, version: Option<&str>) -> PathBuf {
        let name = version.map_or("purs".to_owned(), |v| format!("purs-{}", v.replace('.', "_")));
        let link = self.root.join("bin").join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(STANDIN, &link).unwrap();
        }
        link
    }

    pub fn run(&self, version: &str, args: &[&str]) -> Run {
        self.run_with_env(version, args, &[])
    }

    pub fn run_with_env(&self, version: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let purs = self.install(Some(version));
        let output = Command::new(purs)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("PURS_STANDIN_VERSION")
            .current_dir(&self.root)
            .output()
            .unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn compile(&self, args: &[&str]) -> Run {
        let mut all = vec!["compile", "src/**/*.purs"];
        all.extend_from_slice(args);
        self.run("0.15.15", &all)
    }

    pub fn cache_db(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("output/cache-db.json")).unwrap()
    }

    pub fn mtime(&self, rel: &str) -> SystemTime {
        std::fs::metadata(self.path(rel)).unwrap().modified().unwrap()
    }

    pub fn set_mtime(&self, rel: &str, time: SystemTime) {
        let file = std::fs::OpenOptions::new().write(true).open(self.path(rel)).unwrap();
        file.set_modified(time).unwrap();
    }

    /// Moves a file's mtime by `secs` (forward or back).
    pub fn shift_mtime(&self, rel: &str, secs: i64) {
        let now = self.mtime(rel);
        let moved = if secs >= 0 {
            now + Duration::from_secs(secs as u64)
        } else {
            now - Duration::from_secs(secs.unsigned_abs())
        };
        self.set_mtime(rel, moved);
    }

    pub fn inode(&self, rel: &str) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(self.path(rel)).unwrap().ino()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

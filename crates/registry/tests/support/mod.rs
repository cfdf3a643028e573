//! Drives the real `registry` binary: a temporary data directory, a server on a
//! loopback port, an HTTP client, and job programs written as shell scripts.

#![allow(dead_code)]

pub mod docs_site;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use registry_core::json::Codec;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_registry");

/// The stand-in compiler built next to the `registry` binary.
#[allow(dead_code)]
pub fn standin() -> PathBuf {
    let standin = std::path::Path::new(BIN).parent().unwrap().join("purs-standin");
    assert!(standin.is_file(), "{} is missing: run `cargo build -p purs-standin` first", standin.display());
    standin
}

/// A data directory made by `registry init`, plus a folder for scripts and markers.
pub struct Registry {
    pub dir: tempfile::TempDir,
}

impl Registry {
    pub fn init() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(BIN)
            .args(["init", "--data-dir"])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(dir.path().join("markers")).unwrap();
        Registry { dir }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn markers(&self) -> PathBuf {
        self.dir.path().join("markers")
    }

    pub fn marker(&self, name: &str) -> PathBuf {
        self.markers().join(name)
    }

    /// Writes an executable job program.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let status = std::process::Command::new("chmod").arg("+x").arg(&path).status().unwrap();
        assert!(status.success());
        path
    }

    pub async fn serve(&self, args: &[&str]) -> Server {
        self.serve_env(args, &[]).await
    }

    pub async fn serve_env(&self, args: &[&str], env: &[(&str, &str)]) -> Server {
        let stderr_path = self.dir.path().join(format!(
            "server-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(self.data())
            .args(args)
            .env("MARKERS", self.markers())
            .env_remove("READONLY")
            .env_remove("REGISTRY_JOB_COMMANDS")
            .env_remove("REGISTRY_JOB_TIMEOUTS")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .kill_on_drop(true);
        if let Some(url) = test_database_url(&self.data()) {
            cmd.env("DATABASE_URL", url);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Duration::from_secs(20);
        let url = tokio::time::timeout(deadline, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("Listening on ") {
                    return Some(url.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!("the server did not start: {}", std::fs::read_to_string(&stderr_path).unwrap_or_default())
        });
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        registry_adapters::install_tls_provider();
        Server { child: Some(child), url, client: reqwest::Client::new(), stderr_path }
    }
}

pub use registry_test_support::test_database_url;

pub struct Server {
    child: Option<Child>,
    pub url: String,
    pub client: reqwest::Client,
    pub stderr_path: PathBuf,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Stops the server gracefully (its jobs' processes are killed with it); falls back
/// to SIGKILL after a few seconds.
impl Drop for Server {
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Server {
    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Answer { status, headers, text }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Answer {
        self.request("POST", path, Some(body)).await
    }

    /// Submits and returns the job id (asserting 200).
    pub async fn submit(&self, path: &str, body: &str) -> String {
        let answer = self.post(path, body).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        answer.json()["jobId"].as_str().unwrap().to_owned()
    }

    pub async fn job(&self, id: &str) -> Value {
        let answer = self.get(&format!("/api/v1/jobs/{id}?level=DEBUG")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }

    /// Polls until `check` holds for the job (DEBUG logs included), or panics.
    pub async fn wait_job(&self, id: &str, within: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let job = self.job(id).await;
            if check(&job) {
                return job;
            }
            if start.elapsed() > within {
                panic!(
                    "job {id} did not reach the expected state in {within:?}: {job}\nserver log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_finished(&self, id: &str, within: Duration) -> Value {
        self.wait_job(id, within, |j| j.get("finishedAt").is_some()).await
    }

    pub async fn wait_started(&self, id: &str, within: Duration) -> Value {
        self.wait_job(id, within, |j| j.get("startedAt").is_some()).await
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id().unwrap()
    }

    /// SIGKILL, as a crash.
    pub async fn crash(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().await.unwrap();
    }

    /// SIGTERM, then the exit status.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let pid = child.id().unwrap().to_string();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        tokio::time::timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("no exit after SIGTERM")
            .unwrap()
    }
}

/// Whether a process is gone (or a zombie).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) == Some("Z"),
    }
}

pub async fn wait_until(within: Duration, what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < within, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path).unwrap().trim().parse().unwrap()
}

pub fn messages(job: &Value) -> Vec<String> {
    job["logs"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap().to_owned()).collect()
}

pub fn publish_body(name: &str, version: &str) -> String {
    format!(r#"{{"name":"{name}","ref":"v{version}","version":"{version}","compiler":"0.15.15"}}"#)
}

pub fn transfer_body(name: &str) -> String {
    let payload = format!(
        r#"{{"name":"{name}","newLocation":{{"githubOwner":"new-owner","githubRepo":"purescript-{name}"}}}}"#
    );
    serde_json::json!({"payload": payload, "signature": "00"}).to_string()
}

pub fn unpublish_body(name: &str, version: &str) -> String {
    let payload = format!(r#"{{"name":"{name}","version":"{version}","reason":"Committed credentials."}}"#);
    serde_json::json!({"payload": payload, "signature": "00"}).to_string()
}

pub fn package_set_body(payload: &str, signature: Option<&str>) -> String {
    match signature {
        Some(sig) => serde_json::json!({"payload": payload, "signature": sig}).to_string(),
        None => serde_json::json!({ "payload": payload }).to_string(),
    }
}

/// An Ed25519 key pair made by `ssh-keygen` (installed by scripts/setup.sh).
pub struct Key {
    /// The OpenSSH private key file.
    pub private: String,
    /// `ssh-ed25519 <base64> <comment>`.
    pub public_line: String,
}

pub fn keygen(dir: &Path, name: &str, comment: &str) -> Key {
    let path = dir.join(name);
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen is needed for this test");
    assert!(status.success());
    Key {
        private: std::fs::read_to_string(&path).unwrap(),
        public_line: std::fs::read_to_string(path.with_extension("pub")).unwrap().trim().to_owned(),
    }
}

/// The manifest of GitHub repository `test/purescript-<name>` at `v<version>`, MIT
/// licensed, each dependency in `>=1.0.0 <2.0.0`.
pub fn chain_manifest(name: &str, version: &str, deps: &[&str]) -> registry_core::Manifest {
    let deps: serde_json::Map<String, Value> =
        deps.iter().map(|d| (d.to_string(), Value::String(">=1.0.0 <2.0.0".into()))).collect();
    registry_core::Manifest::decode(&serde_json::json!({
        "name": name,
        "version": version,
        "license": "MIT",
        "location": {"githubOwner": "test", "githubRepo": format!("purescript-{name}")},
        "ref": format!("v{version}"),
        "dependencies": deps,
    }))
    .unwrap()
}

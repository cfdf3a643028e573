//! The dashboard in headless Chromium against a real `registry serve` seeded with the
//! real registry snapshot: the jobs list shows a submitted job and filters it, a
//! running job's page shows new log lines without a reload, a package page lists
//! versions and compilers, the package search filters as one types. A screenshot of
//! every page goes to `target/dashboard-screenshots/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use e2e_browser::{Browser, find_browser, http};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

fn shared() -> Option<PathBuf> {
    let dir = match std::env::var_os("REGISTRY_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    dir.join("data/registry-snapshot").is_dir().then_some(dir)
}

/// target/<profile>, where the test binary's own folder (`deps`) lives.
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

/// Cargo exposes only a package's own binaries to its tests: `registry` is built here
/// (a no-op when up to date).
fn registry_bin() -> PathBuf {
    let dir = target_profile_dir();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args(["build", "-q", "-p", "registry"]);
    if dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success(), "building registry failed");
    dir.join("registry")
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `registry serve` on a free loopback port; publish jobs run `program`.
fn serve(bin: &Path, data: &Path, program: &Path) -> Server {
    let mut child = Command::new(bin)
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(data)
        .arg("--job-command")
        .arg(format!("publish={}", program.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server exited before listening").unwrap();
        if let Some(addr) = line.strip_prefix("Listening on http://") {
            break addr.trim().to_owned();
        }
    };
    // The rest of its output is not needed, but a full pipe would block it.
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

/// A publish "job program" that logs one line, then waits for `gate-1` before its
/// second line and for `gate-2` before it ends: the test decides when the job moves.
fn gated_program(dir: &Path) -> PathBuf {
    let path = dir.join("publish-job.sh");
    let gate = dir.display();
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho 'first line of the job'\nwhile [ ! -e '{gate}/gate-1' ]; do sleep 0.1; done\n\
             echo 'NOTICE: second line, written while the page was open'\n\
             while [ ! -e '{gate}/gate-2' ]; do sleep 0.1; done\necho 'last line'\n"
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

fn shot(browser: &Browser, name: &str) {
    let path =
        target_profile_dir().parent().unwrap().join("dashboard-screenshots").join(format!("{name}.png"));
    browser.screenshot(&path).unwrap();
    eprintln!("screenshot: {}", path.display());
}

fn count(browser: &Browser, selector: &str) -> u64 {
    browser
        .run("return document.querySelectorAll(arguments[0]).length;", vec![json!(selector)])
        .unwrap()
        .as_u64()
        .unwrap()
}

#[test]
fn the_dashboard_works_in_chromium() {
    let (chromium, chromedriver) = match find_browser() {
        Ok(found) => found,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let Some(shared) = shared() else {
        println!("SKIPPED: ../shared/data/registry-snapshot is absent (set REGISTRY_SHARED_DIR)");
        return;
    };
    let bin = registry_bin();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = Command::new(&bin)
        .args(["init", "--data-dir"])
        .arg(&data)
        .arg("--seed")
        .arg(shared.join("data/registry-snapshot"))
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let program = gated_program(dir.path());
    let server = serve(&bin, &data, &program);
    let base = format!("http://{}", server.addr);
    let browser = Browser::start(&chromium, &chromedriver).unwrap();

    // A job submitted through the API while the list is open shows up in it (the list
    // refreshes itself), and the filters narrow it.
    browser.goto(&format!("{base}/")).unwrap();
    browser.run("window.stillTheSamePage = true;", vec![]).unwrap();
    let body = r#"{"name":"prelude","ref":"v6.0.9","version":"6.0.9","compiler":"0.15.15"}"#;
    let (status, answer) = http(&server.addr, "POST", "/api/v1/publish", Some(body)).unwrap();
    assert_eq!(status, 200, "{answer}");
    let job_id =
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()["jobId"].as_str().unwrap().to_owned();
    browser
        .wait_for("the submitted job in the list", WAIT, |b| {
            Ok(b.text("#live")?.contains("publish prelude@6.0.9"))
        })
        .unwrap();
    assert_eq!(
        browser.run("return window.stillTheSamePage === true;", vec![]).unwrap(),
        json!(true),
        "the list refreshed without reloading the page"
    );
    shot(&browser, "jobs");
    browser
        .run(
            "document.querySelector('select[name=type]').value = 'matrix'; document.querySelector('form.filters').submit();",
            vec![],
        )
        .unwrap();
    browser.wait_for("the filtered URL", WAIT, |b| Ok(b.url()?.contains("type=matrix"))).unwrap();
    browser
        .wait_for("the page to load", WAIT, |b| {
            Ok(b.text("#live")?.contains("Jobs") || b.text("#live")?.contains("No jobs"))
        })
        .unwrap();
    assert!(
        !browser.text("#live").unwrap().contains("publish prelude@6.0.9"),
        "type=matrix still lists the publish job"
    );
    assert_eq!(
        browser.run("return document.querySelector('select[name=type]').value;", vec![]).unwrap(),
        json!("matrix"),
        "the form shows the filter the URL holds"
    );
    browser.goto(&format!("{base}/?type=publish&package=prelude")).unwrap();
    assert!(browser.text("#live").unwrap().contains("publish prelude@6.0.9"));

    // The running job's page gains lines without a reload.
    browser.goto(&format!("{base}/jobs/{job_id}")).unwrap();
    browser
        .wait_for("the job's first line", WAIT, |b| Ok(b.text("#logs")?.contains("first line of the job")))
        .unwrap();
    browser.run("window.stillTheSamePage = true;", vec![]).unwrap();
    std::fs::write(dir.path().join("gate-1"), "").unwrap();
    browser
        .wait_for("the second line to appear", WAIT, |b| {
            Ok(b.text("#logs")?.contains("second line, written while the page was open"))
        })
        .unwrap();
    assert_eq!(
        browser.run("return window.stillTheSamePage === true;", vec![]).unwrap(),
        json!(true),
        "the page reloaded"
    );
    assert!(browser.text("#job-state").unwrap().contains("running for"));
    shot(&browser, "job-running");
    std::fs::write(dir.path().join("gate-2"), "").unwrap();
    browser
        .wait_for("the job to succeed", WAIT, |b| Ok(b.text("#job-state")?.contains("succeeded")))
        .unwrap();
    assert!(browser.text("#logs").unwrap().contains("last line"));
    assert_eq!(browser.run("return window.stillTheSamePage === true;", vec![]).unwrap(), json!(true));

    // A package page: versions with their compilers.
    browser.goto(&format!("{base}/packages/prelude")).unwrap();
    browser
        .wait_for("prelude's versions", WAIT, |b| {
            Ok(b.text("h1")? == "prelude" && count(b, "table.versions tbody tr") > 10)
        })
        .unwrap();
    let row = browser.text("tr[data-version='6.0.1']").unwrap();
    assert!(row.contains("6.0.1") && row.contains("0.15.15"), "{row}");
    assert!(browser.text("main").unwrap().contains("Dependants"));
    shot(&browser, "package");

    // The packages list filters as one types.
    browser.goto(&format!("{base}/packages")).unwrap();
    let all = count(&browser, "#packages tbody tr:not([hidden])");
    assert!(all > 1000, "{all} packages listed");
    browser.run("document.getElementById('package-search').focus();", vec![]).unwrap();
    browser.keys("prelu").unwrap();
    browser
        .wait_for("the search to filter", WAIT, |b| Ok(count(b, "#packages tbody tr:not([hidden])") < 20))
        .unwrap();
    assert!(browser.text("#packages").unwrap().contains("prelude"));
    shot(&browser, "packages");

    for (path, name) in [("/package-sets", "package-sets"), ("/package-sets/50.2.0", "package-set")] {
        browser.goto(&format!("{base}{path}")).unwrap();
        browser.wait_for(path, WAIT, |b| Ok(b.text("h1")?.contains("Package set"))).unwrap();
        shot(&browser, name);
    }
    assert!(browser.text("main").unwrap().contains("The compiler changed from 0.15.14 to 0.15.15."));

    // Keyboard: the first Tab lands on the skip link. On a loaded machine Chromium can drop a
    // key sent before the new page takes input (CI saw the focus stay on <body>), so a Tab that
    // moved nothing is sent again; a Tab that moved focus anywhere is the one judged.
    browser.goto(&format!("{base}/")).unwrap();
    browser
        .wait_for("the page to load", WAIT, |b| {
            Ok(b.run("return document.readyState;", vec![])? == json!("complete"))
        })
        .unwrap();
    let focused =
        "return document.activeElement === document.body ? null : document.activeElement.textContent;";
    let mut landed = Value::Null;
    for _ in 0..3 {
        browser.keys("\u{E004}").unwrap();
        let moved = browser.wait_for("the Tab to move focus", Duration::from_secs(2), |b| {
            Ok(!b.run(focused, vec![])?.is_null())
        });
        landed = browser.run(focused, vec![]).unwrap();
        if moved.is_ok() {
            break;
        }
    }
    assert_eq!(landed, json!("Skip to content"), "the first Tab on / focused this (null: nothing)");

    // Phone width: nothing wider than the screen but tables, which scroll in their box.
    browser.resize(390, 844).unwrap();
    for (path, name) in [
        ("/", "jobs-phone"),
        ("/packages/prelude", "package-phone"),
        (&format!("/jobs/{job_id}") as &str, "job-phone"),
    ] {
        browser.goto(&format!("{base}{path}")).unwrap();
        let overflow = browser
            .run(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                vec![],
            )
            .unwrap();
        assert!(overflow.as_i64().unwrap() <= 0, "{path} is wider than a phone by {overflow}px");
        shot(&browser, name);
    }
}

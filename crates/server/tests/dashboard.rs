//! The dashboard on a real server over loopback: the real registry snapshot in real
//! git repositories, a real job store (SQLite, or Postgres with
//! `REGISTRY_TEST_DATABASE=postgres`), jobs submitted through the API and moved
//! through their states by the store as the executor would.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use registry_core::job::{JobType, LogLevel, LogLine};
use registry_core::json::Codec;
use registry_core::{PackageName, Version};
use registry_queue::{JobStore, NewJob};
use registry_server::api::{self, ApiState, NoTrustedKey, RequestPolicy};
use registry_server::app::build_adapters;
use registry_server::config::defaults_for;
use registry_server::dashboard;
use registry_server::executor::Wakers;

struct Server {
    settings: registry_server::Settings,
    addr: String,
    store: Arc<dyn JobStore>,
    runtime: tokio::runtime::Handle,
    storage: PathBuf,
}

fn snapshot() -> Option<PathBuf> {
    let dir = match std::env::var("REGISTRY_SHARED_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
    .join("data/registry-snapshot");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED: {} is absent (set REGISTRY_SHARED_DIR to run it)", dir.display());
        None
    }
}

/// One server for every test of this file: seeding the real registry takes seconds.
fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(start_server).as_ref()
}

/// A server over a freshly seeded copy of the real registry.
fn start_server() -> Option<Server> {
    let seed = snapshot()?;
    let dir = tempfile::tempdir().unwrap().keep();
    let data = dir.join("data");
    registry_server::init::init(&data, Some(&seed)).unwrap();
    let settings = defaults_for(&data);
    let kept = settings.clone();
    let layout = settings.layout();
    let storage = layout.storage();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let store = support::job_store(&settings).await;
            let adapters = build_adapters(&settings).unwrap();
            let state = ApiState {
                store: store.clone(),
                wakers: Wakers::new(),
                storage_dir: Some(layout.storage()),
                finished_jobs: Default::default(),
                current_answers: Default::default(),
                signature_check: Arc::new(NoTrustedKey),
                policy: RequestPolicy::default(),
            };
            let router =
                dashboard::mount(api::router(state.clone()), state, dashboard::source(&adapters, &layout));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            tx.send((addr, store, tokio::runtime::Handle::current())).unwrap();
            axum::serve(listener, router).await.unwrap();
        })
    });
    let (addr, store, runtime) = rx.recv().unwrap();
    let server = Server { settings: kept, addr, store, runtime, storage };
    // The registry's files are read in the background after start-up.
    let started = Instant::now();
    while server.get("/packages").2.contains("Reading the registry") {
        assert!(started.elapsed() < Duration::from_secs(120), "the registry data never loaded");
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(server)
}

/// Pages built from the jobs index may be a moment behind the store on a shared
/// database (Postgres: re-read at most once a second); asks again until `done`, for
/// at most 5 s, and returns the last answer.
fn settled<T>(mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let started = Instant::now();
    loop {
        let answer = read();
        if done(&answer) || started.elapsed() > Duration::from_secs(5) {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    /// A plain HTTP/1.1 request: (status, head, body).
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_owned()
        };
        (status, head.to_owned(), body)
    }

    fn get(&self, path: &str) -> (u16, String, String) {
        self.request("GET", path, "")
    }

    fn page(&self, path: &str) -> String {
        let (status, head, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        assert!(head.to_ascii_lowercase().contains("content-type: text/html"), "GET {path}: {head}");
        body
    }

    fn block_on<T>(&self, f: impl Future<Output = T>) -> T {
        self.runtime.block_on(f)
    }

    fn enqueue(&self, job: NewJob) -> String {
        self.block_on(self.store.enqueue(job, registry_settings::now())).unwrap().job_id
    }

    /// Claims the next job of `kind` as the executor would.
    fn claim(&self, kind: JobType) -> String {
        self.block_on(self.store.claim_next(&[kind], registry_settings::now())).unwrap().unwrap().info.job_id
    }

    fn log(&self, job_id: &str, level: LogLevel, message: &str) {
        let line = LogLine {
            job_id: job_id.to_owned(),
            level,
            message: message.to_owned(),
            timestamp: registry_settings::now(),
        };
        self.block_on(self.store.append_logs(&[line])).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }

    fn finish(&self, job_id: &str, success: bool) {
        self.block_on(self.store.finish(job_id, success, registry_settings::now())).unwrap();
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

fn matrix(name: &str, version: &str, compiler: &str) -> NewJob {
    NewJob::Matrix {
        package_name: PackageName::parse(name).unwrap(),
        package_version: Version::parse(version).unwrap(),
        compiler_version: Version::parse(compiler).unwrap(),
        build_plan: Default::default(),
    }
}

/// Rows of the jobs table (the `<tbody>` of `#live`).
fn job_table(html: &str) -> &str {
    let live = &html[html.find("id=\"live\"").expect("the jobs region")..];
    &live[..live.find("</table>").unwrap_or(live.len())]
}

#[test]
fn the_jobs_list_shows_submitted_jobs_and_filters_them_by_the_url() {
    let Some(s) = server() else { return };
    let body = r#"{"name":"prelude","ref":"v6.0.9","version":"6.0.9","compiler":"0.15.4"}"#;
    let (status, _, answer) = s.request("POST", "/api/v1/publish", body);
    assert_eq!(status, 200, "{answer}");
    let publish_id = answer.split('"').nth(3).unwrap().to_owned();
    let matrix_id = s.enqueue(matrix("arrays", "7.3.0", "0.15.2"));

    let all = settled(|| s.page("/"), |all| job_table(all).contains(&format!("/jobs/{matrix_id}")));
    assert!(job_table(&all).contains(&format!("/jobs/{publish_id}")), "{all}");
    assert!(job_table(&all).contains("publish prelude@6.0.9"));
    assert!(job_table(&all).contains("matrix arrays@7.3.0 with purs 0.15.2"));
    assert!(all.contains("waiting for"), "plain language for a waiting job");

    let only_matrix = s.page("/?type=matrix&status=waiting&range=24h");
    assert!(job_table(&only_matrix).contains(&format!("/jobs/{matrix_id}")));
    assert!(!job_table(&only_matrix).contains(&format!("/jobs/{publish_id}")));
    // The form shows the filters the URL holds.
    assert!(only_matrix.contains("<option value=\"matrix\" selected>"));

    let by_package = s.page("/?package=prelude&version=6.0.9");
    assert!(job_table(&by_package).contains(&publish_id) && !job_table(&by_package).contains(&matrix_id));
    let by_compiler = s.page("/?compiler=0.15.2");
    assert!(job_table(&by_compiler).contains(&matrix_id) && !job_table(&by_compiler).contains(&publish_id));
    assert!(s.page("/?status=succeeded&package=arrays").contains("No jobs match."));

    // The queue panel counts the matrix lane's waiting job.
    let row = &all[all.find("data-lane=\"matrix\"").unwrap()..];
    let waiting: usize = row.split("<td>").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
    assert!(waiting >= 1, "{row}");

    let (status, _, refused) = s.request("POST", "/", "{}");
    assert_eq!(status, 405);
    assert!(refused.contains("POST / is not allowed"), "{refused}");

    let (status, _, bad) = s.get("/?status=exploded");
    assert_eq!(status, 400);
    assert!(bad.contains("waiting, running, succeeded or failed"), "{bad}");
}

#[test]
fn pages_escape_hostile_logs_payloads_and_reasons_and_say_why_a_job_failed() {
    let Some(s) = server() else { return };
    let body = r#"{"name":"aff","ref":"<script>alert('ref')</script>","version":"99.0.0"}"#;
    let (status, _, answer) = s.request("POST", "/api/v1/publish", body);
    assert_eq!(status, 200, "{answer}");
    let id = answer.split('"').nth(3).unwrap().to_owned();
    // Publishes ahead of this one are claimed first: claim until ours runs.
    let mut claimed = Vec::new();
    loop {
        let next = s.claim(JobType::Publish);
        claimed.push(next.clone());
        if next == id {
            break;
        }
    }
    s.log(&id, LogLevel::Info, "fetching <img src=x onerror=alert(1)> & \"more\"");
    let running = s.page(&format!("/jobs/{id}"));
    assert!(running.contains("running for"), "{running}");
    assert!(running.contains("id=\"following\""), "a running job's page follows its log");
    s.log(&id, LogLevel::Error, "Reason: <b>the ref</b> is not a tag\nsecond line");
    s.finish(&id, false);
    for other in claimed.iter().filter(|c| **c != id) {
        s.finish(other, true);
    }

    let page = s.page(&format!("/jobs/{id}"));
    assert!(page.contains("fetching &lt;img src=x onerror=alert(1)&gt; &amp; &quot;more&quot;"), "{page}");
    assert!(page.contains("&lt;script&gt;alert(&#39;ref&#39;)&lt;/script&gt;"), "the payload is escaped");
    for raw in ["<img src=x", "<script>alert", "<b>the ref"] {
        assert!(!page.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(page.contains("failed: Reason: &lt;b&gt;the ref&lt;/b&gt; is not a tag"), "{page}");
    assert!(!page.contains("id=\"following\""), "a finished job is not followed");

    let reason = "failed: Reason: &lt;b&gt;the ref&lt;/b&gt; is not a tag";
    let list = settled(|| s.page("/?status=failed"), |list| list.contains(reason));
    assert!(list.contains(reason));
    let panel = &list[..list.find("class=\"filters\"").unwrap()];
    assert!(panel.contains(&format!("/jobs/{id}")), "the queue panel lists the last failure");

    // Should escaping ever miss, the page's policy runs only the dashboard's own script.
    let (_, head, _) = s.get(&format!("/jobs/{id}"));
    let policy =
        head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-security-policy:")).unwrap();
    assert!(policy.contains("script-src 'sha256-") && !policy.contains("unsafe-inline"), "{policy}");

    let errors_only = s.page(&format!("/jobs/{id}?level=ERROR"));
    assert!(errors_only.contains("Reason:") && !errors_only.contains("fetching"));
    let (status, _, _) = s.get(&format!("/jobs/{id}?level=LOUD"));
    assert_eq!(status, 400);
    let (status, _, missing) = s.get("/jobs/no-such-job");
    assert_eq!(status, 404);
    assert!(missing.contains("There is no job with id no-such-job"));
}

#[test]
fn a_package_page_lists_versions_compilers_dependencies_and_dependants() {
    let Some(s) = server() else { return };
    let waiting = s.enqueue(matrix("prelude", "6.0.1", "0.15.99"));
    let page = s.page("/packages/prelude");
    for expected in [
        "<th scope=\"row\">6.0.1</th>",
        "<th scope=\"row\">4.1.1</th>",
        "/prelude/6.0.1.tar.gz",
        "compiler compiler-ok\">0.15.15</span>",
        "github.com/purescript/purescript-prelude",
        &format!("href=\"/jobs/{waiting}\">0.15.99 waiting</a>"),
        "<a href=\"/packages/arrays\">arrays</a>",
    ] {
        assert!(page.contains(expected), "missing {expected}");
    }
    let dependants: usize =
        page.split("<dt>Dependants</dt><dd>").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
    assert!(dependants > 300, "prelude has hundreds of dependants, got {dependants}");

    let list = s.page("/packages");
    assert!(list.matches("<tr data-name=").count() > 1000);
    let searched = s.page("/packages?q=prel");
    assert!(searched.contains("data-name=\"prelude\"") && !searched.contains("data-name=\"arrays\""));
    let (status, _, missing) = s.get("/packages/no-such-package");
    assert_eq!(status, 404);
    assert!(missing.contains("No package named no-such-package"));
    let (status, _, bad) = s.get("/packages/%3Cscript%3E");
    assert_eq!(status, 404);
    assert!(bad.contains("&quot;&lt;script&gt;&quot; is not a package name"), "{bad}");
}

#[test]
fn package_sets_show_what_each_set_changed() {
    let Some(s) = server() else { return };
    let list = s.page("/package-sets");
    assert!(list.contains("href=\"/package-sets/50.2.0\""));
    let set = s.page("/package-sets/50.2.0");
    assert!(set.contains("<h1>Package set 50.2.0</h1>"));
    assert!(set.contains("The compiler changed from 0.15.14 to 0.15.15."), "{set}");
    for section in ["<h2>Added (", "<h2>Updated (", "<h2>Removed ("] {
        assert!(set.contains(section));
    }
    assert_eq!(s.get("/package-sets/1.2.3.4").0, 404);
}

#[test]
fn a_new_package_set_appears_with_its_changes_and_the_job_that_made_it() {
    let Some(s) = server() else { return };
    let snapshot = snapshot().unwrap();
    // The new set is the newest set with one package less: it removed that one.
    let newest = std::fs::read_dir(snapshot.join("package-sets"))
        .unwrap()
        .filter_map(|e| Version::parse(e.ok()?.file_name().to_str()?.strip_suffix(".json")?).ok())
        .max()
        .unwrap();
    let text = std::fs::read_to_string(snapshot.join(format!("package-sets/{newest}.json"))).unwrap();
    let mut set = registry_core::PackageSet::from_json_str(&text).unwrap();
    set.version = Version::parse("99.0.0").unwrap();
    set.packages.remove(&PackageName::parse("aff").unwrap());
    let file = registry_core::json::print_pretty(&set.encode());
    // A second set of adapters over the server's own checkouts commits as a job would.
    let adapters = build_adapters(&s.settings).unwrap();
    let message =
        registry_core::commit::append_job_id("Update the package set to 99.0.0", Some("job-that-made-it"));
    s.block_on(adapters.registry.commit(
        &[registry_adapters::FileChange::write("package-sets/99.0.0.json", file)],
        &message,
        &registry_adapters::NullLog,
    ))
    .unwrap();
    let started = Instant::now();
    let page = loop {
        let (status, _, body) = s.get("/package-sets/99.0.0");
        if status == 200 {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the new set never appeared: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(page.contains("href=\"/jobs/job-that-made-it\""), "{page}");
    assert!(
        page.contains("<h2>Removed (1)</h2>") && page.contains("<a href=\"/packages/aff\">aff</a>"),
        "{page}"
    );
    assert!(page.contains("<h2>Added (0)</h2>") && page.contains("<h2>Updated (0)</h2>"));
    assert!(
        page.contains(&format!("<a href=\"/package-sets/{newest}\">{newest}</a>")),
        "the previous set is linked"
    );
    assert!(s.page("/package-sets").contains("href=\"/package-sets/99.0.0\""));
}

#[test]
fn tarballs_of_packages_named_like_pages_are_still_served() {
    let Some(s) = server() else { return };
    for name in ["jobs", "packages", "package-sets"] {
        std::fs::create_dir_all(s.storage.join(name)).unwrap();
        std::fs::write(s.storage.join(name).join("1.0.0.tar.gz"), format!("tarball of {name}")).unwrap();
        let (status, head, body) = s.get(&format!("/{name}/1.0.0.tar.gz"));
        assert_eq!((status, body.as_str()), (200, format!("tarball of {name}").as_str()), "{head}");
        assert!(head.to_ascii_lowercase().contains("application/gzip"));
        assert_eq!(s.get(&format!("/{name}/2.0.0.tar.gz")).0, 404);
    }
}

/// `name{labels} value` lines and `# HELP`/`# TYPE` comments, nothing else.
fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line:?}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unterminated labels in {line:?}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        samples.push((series.to_owned(), value));
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map_or(0.0, |(_, v)| *v)
}

#[test]
fn metrics_parse_as_prometheus_text_and_move_with_the_server() {
    let Some(s) = server() else { return };
    let (status, head, text) = s.get("/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"));
    let before = parse_metrics(&text);
    let root = "registry_http_requests_total{route=\"/\",status=\"200\"}";
    let waiting = "registry_jobs{kind=\"matrix\",status=\"waiting\"}";
    let depth = "registry_queue_depth{lane=\"matrix\",state=\"waiting\"}";

    s.page("/");
    s.page("/");
    s.enqueue(matrix("effect", "4.0.0", "0.15.77"));
    let after = settled(
        || parse_metrics(&s.get("/metrics").2),
        |after| sample(after, waiting) >= sample(&before, waiting) + 1.0,
    );
    // Other tests use the same server at the same time: counts only grow by at least ours.
    assert!(sample(&after, root) >= sample(&before, root) + 2.0);
    assert!(sample(&after, waiting) >= sample(&before, waiting) + 1.0);
    assert!(sample(&after, depth) >= sample(&before, depth) + 1.0);
    let route_count = "registry_http_request_duration_seconds_count{route=\"/\"}";
    assert!(sample(&after, route_count) >= sample(&before, route_count) + 2.0);
    assert!(after.iter().any(|(s, _)| s.starts_with("registry_job_duration_seconds_bucket{kind=\"publish\",le=\"+Inf\"}")));
    assert!(after.iter().any(|(s, _)| s == "registry_build_cache_hits_total"));
    // A package-set build's log lines are its build-cache figures.
    let hits = "registry_build_cache_hits_total";
    let misses = "registry_build_cache_misses_total";
    let modules = "registry_modules_compiled_total";
    let body = r#"{"payload":"{\"packages\":{\"aff\":\"8.0.0\"}}"}"#;
    let (status, _, answer) = s.request("POST", "/api/v1/package-sets", body);
    assert_eq!(status, 200, "{answer}");
    let set_job = s.claim(JobType::PackageSet);
    for line in [
        "Restored 7 packages from the build cache",
        "Compiling: 2 packages (31 modules) need a build",
        "Compiled 31 modules",
    ] {
        s.log(&set_job, LogLevel::Info, line);
    }
    s.finish(&set_job, true);
    let built = settled(
        || parse_metrics(&s.get("/metrics").2),
        |built| sample(built, modules) >= sample(&after, modules) + 31.0,
    );
    assert_eq!(sample(&built, hits), sample(&after, hits) + 7.0);
    assert_eq!(sample(&built, misses), sample(&after, misses) + 2.0);
    assert_eq!(sample(&built, modules), sample(&after, modules) + 31.0);
    assert_eq!(sample(&built, "registry_job_duration_seconds_count{kind=\"packageset\"}"), 1.0);

    // Unknown paths are counted under one label, not one series per path.
    s.get("/made/up/path/1");
    s.get("/made/up/path/2");
    let text = s.get("/metrics").2;
    assert!(!text.contains("made/up"));
    assert!(text.contains("route=\"unmatched\""));
}

/// Server times (the `Server-Timing` header every answer carries) for the pages the
/// issue names, on the real snapshot. Figures, not a pass/fail: the debug build and a
/// busy machine make timing assertions flaky; the header itself is checked.
#[test]
fn server_times_on_the_real_registry() {
    // Its own server: thousands of jobs would push other tests' jobs off the first page.
    let Some(s) = start_server() else { return };
    // A new compiler's matrix flood: thousands of waiting jobs, some finished.
    let jobs = 3000;
    let started = Instant::now();
    for i in 0..jobs {
        s.enqueue(matrix("prelude", &format!("{}.{}.0", 100 + i / 100, i % 100), "0.15.15"));
    }
    for _ in 0..200 {
        let id = s.claim(JobType::Matrix);
        s.finish(&id, true);
    }
    eprintln!("FIGURE queued {jobs} matrix jobs in {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(s.get("/").0, 200);
    eprintln!("FIGURE first / (jobs index built from the store): {:?} client time", started.elapsed());
    for path in [
        "/",
        "/?type=matrix&status=succeeded",
        "/packages/prelude",
        "/metrics",
        "/packages",
        "/package-sets",
        "/package-sets/50.2.0",
    ] {
        s.get(path);
        let mut server_ms: Vec<f64> = (0..21)
            .map(|_| {
                let (status, head, _) = s.get(path);
                assert_eq!(status, 200);
                let timing = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("server-timing: app;dur=").map(str::to_owned)
                    })
                    .unwrap_or_else(|| panic!("no Server-Timing header on {path}: {head}"));
                timing.trim().parse::<f64>().unwrap()
            })
            .collect();
        server_ms.sort_by(f64::total_cmp);
        eprintln!(
            "FIGURE {path}: server time median {:.2} ms, max {:.2} ms over {} requests ({jobs} jobs in the store, cached index)",
            server_ms[server_ms.len() / 2],
            server_ms[server_ms.len() - 1],
            server_ms.len()
        );
    }
    // While jobs run, every write makes the next page view re-read the unfinished jobs.
    let running = s.claim(JobType::Matrix);
    let mut after_write: Vec<f64> = (0..11)
        .map(|i| {
            s.log(&running, LogLevel::Info, &format!("line {i}"));
            let (_, head, _) = s.get("/");
            let timing = head.lines().find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("server-timing: app;dur=").map(str::to_owned)
            });
            timing.unwrap().trim().parse::<f64>().unwrap()
        })
        .collect();
    after_write.sort_by(f64::total_cmp);
    eprintln!(
        "FIGURE / after a store write: server time median {:.2} ms, max {:.2} ms ({} unfinished jobs re-read in the background)",
        after_write[after_write.len() / 2],
        after_write[after_write.len() - 1],
        jobs - 200
    );
}

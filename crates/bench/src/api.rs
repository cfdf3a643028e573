//! `registry bench api`: requests per second and latency of `GET /api/v1/jobs/{id}`
//! on loopback while jobs run. A benchmark, not a test: it prints figures.
//!
//! It initialises a scratch registry, starts `registry serve` (this same binary) as
//! a child process with stand-in job programs, keeps one package-set job running and
//! logging throughout, and then has `connections` keep-alive connections request one
//! finished publish job (with its log lines) as fast as they can. The client is a
//! minimal HTTP/1.1 loop so that it takes as little CPU from the server as possible;
//! client and server share the machine's cores.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// How long to measure, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Log lines of the job that is read (at most 100 are returned per request).
    #[arg(long, default_value_t = 50)]
    pub log_lines: usize,
    /// Client worker threads (the server runs with its default, one per core).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Request `GET /api/v1/status` instead, to see the HTTP floor without the database.
    #[arg(long)]
    pub status_only: bool,
    /// Read the running job (its log grows; always read from the database) instead of
    /// the finished one (answered from memory once settled).
    #[arg(long)]
    pub running: bool,
}

const RUNNING_JOB: &str = r#"i=0
while true; do i=$((i+1)); echo "building step $i"; sleep 0.01; done"#;

fn script(dir: &Path, name: &str, body: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))?;
    std::process::Command::new("chmod").arg("+x").arg(&path).status()?;
    Ok(path)
}

/// One HTTP/1.1 exchange on a kept-alive connection; returns the status.
async fn exchange(
    reader: &mut BufReader<TcpStream>,
    request: &[u8],
    body: &mut Vec<u8>,
) -> anyhow::Result<u16> {
    reader.get_mut().write_all(request).await?;
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let status: u16 = line.split_whitespace().nth(1).context("no status line")?.parse()?;
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            bail!("connection closed");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    body.resize(length, 0);
    reader.read_exact(body).await?;
    Ok(status)
}

async fn post(address: &str, path: &str, json: &str) -> anyhow::Result<String> {
    let mut reader = BufReader::new(TcpStream::connect(address).await?);
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    );
    let mut body = Vec::new();
    let status = exchange(&mut reader, request.as_bytes(), &mut body).await?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != 200 {
        bail!("POST {path} answered {status}: {text}");
    }
    let value: serde_json::Value = serde_json::from_str(&text)?;
    Ok(value["jobId"].as_str().context("no jobId")?.to_owned())
}

async fn get_json(address: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let mut reader = BufReader::new(TcpStream::connect(address).await?);
    let request = format!("GET {path} HTTP/1.1\r\nhost: {address}\r\n\r\n");
    let mut body = Vec::new();
    exchange(&mut reader, request.as_bytes(), &mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

/// CPU seconds (user + system) a process has used so far; Linux reports clock
/// ticks of 1/100 s in `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // After the command name: state is field 0, utime field 11, stime field 12.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?
        .block_on(bench(args))
}

async fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("registry-bench-{}", std::process::id()));
    let data = dir.join("data");
    registry_server::init::init(&data, None)?;
    let publish = script(
        &dir,
        "publish.sh",
        &format!(
            "i=0\nwhile [ $i -lt {} ]; do i=$((i+1)); echo \"NOTICE: publish step $i\"; done",
            args.log_lines
        ),
    )?;
    let packageset = script(&dir, "packageset.sh", RUNNING_JOB)?;
    let exe = std::env::current_exe()?;
    let mut server = Command::new(exe)
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(&data)
        .arg(format!("--job-command=publish={}", publish.display()))
        .arg(format!("--job-command=packageset={}", packageset.display()))
        .env("REGISTRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting the server")?;
    let mut lines = BufReader::new(server.stdout.take().context("no stdout")?).lines();
    let url = loop {
        match lines.next_line().await? {
            Some(line) if line.starts_with("Listening on http://") => {
                break line["Listening on http://".len()..].to_owned();
            }
            Some(_) => continue,
            None => bail!("the server exited before listening"),
        }
    };
    let address = url.trim_end_matches('/').to_owned();

    let set =
        post(&address, "/api/v1/package-sets", r#"{"payload":"{\"packages\":{\"aff\":\"8.0.0\"}}"}"#).await?;
    let job = post(&address, "/api/v1/publish", r#"{"name":"aff","ref":"v1.0.0","version":"1.0.0"}"#).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let value = get_json(&address, &format!("/api/v1/jobs/{job}")).await?;
        if value.get("finishedAt").is_some() {
            break;
        }
        if Instant::now() > deadline {
            bail!("the publish job did not finish: {value}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let set_state = get_json(&address, &format!("/api/v1/jobs/{set}")).await?;
    // Let the finished job settle, so that it is answered from memory as in production.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let sample =
        get_json(&address, &format!("/api/v1/jobs/{}", if args.running { &set } else { &job })).await?;
    let body_bytes = serde_json::to_string(&sample)?.len();

    let path = match (args.status_only, args.running) {
        (true, _) => "/api/v1/status".to_owned(),
        (false, true) => format!("/api/v1/jobs/{set}"),
        (false, false) => format!("/api/v1/jobs/{job}"),
    };
    let request = format!("GET {path} HTTP/1.1\r\nhost: {address}\r\n\r\n").into_bytes();
    let warmup = Duration::from_secs(1);
    let measure = Duration::from_secs(args.seconds);
    let server_pid = server.id().context("server pid")?.to_string();
    let start = Instant::now();
    let cpu = tokio::spawn({
        let server_pid = server_pid.clone();
        async move {
            tokio::time::sleep_until((start + warmup).into()).await;
            let before = (cpu_seconds(&server_pid), cpu_seconds("self"));
            tokio::time::sleep(measure).await;
            (cpu_seconds(&server_pid) - before.0, cpu_seconds("self") - before.1)
        }
    });
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let (address, request) = (address.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut reader = BufReader::new(TcpStream::connect(&address).await?);
            let mut body = Vec::with_capacity(16 * 1024);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= start + warmup + measure {
                    break;
                }
                match exchange(&mut reader, &request, &mut body).await {
                    Ok(200) if sent >= start + warmup => latencies.push(sent.elapsed().as_micros() as u32),
                    Ok(200) => {}
                    Ok(_) | Err(_) => errors += 1,
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await??;
        latencies.extend(l);
        errors += e;
    }
    let (server_cpu, client_cpu) = cpu.await?;
    let running_after = get_json(&address, &format!("/api/v1/jobs/{set}?level=DEBUG&order=DESC")).await?;
    server.kill().await.ok();
    let _ = std::fs::remove_dir_all(&dir);

    latencies.sort_unstable();
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let which = match (args.status_only, args.running) {
        (true, _) => "no job: the HTTP floor",
        (false, true) => "the running job",
        (false, false) => "a finished job",
    };
    println!(
        "GET {} ({which}) on loopback, {} s after 1 s warm-up",
        path.replace(&job, "{id}").replace(&set, "{id}"),
        args.seconds
    );
    println!("  machine: {cores} cores shared by server and client; {} connections", args.connections);
    println!("  response: {body_bytes} bytes ({} log lines)", sample["logs"].as_array().map_or(0, Vec::len));
    println!(
        "  while running: package-set job {} (started {}, still logging: {})",
        set,
        set_state.get("startedAt").and_then(|v| v.as_str()).unwrap_or("not started"),
        running_after["logs"][0]["message"].as_str().unwrap_or("?")
    );
    println!("  requests: {} ok, {errors} errors", latencies.len());
    let per_request = |cpu: f64| cpu * 1e6 / latencies.len().max(1) as f64;
    println!(
        "  CPU per request: server {:.0} µs, client {:.0} µs (server used {:.2} of {} cores)",
        per_request(server_cpu),
        per_request(client_cpu),
        server_cpu / measure.as_secs_f64(),
        cores
    );
    println!(
        "  projected server capacity with {cores} cores to itself: {:.0} requests/s",
        cores as f64 * 1e6 / per_request(server_cpu).max(1.0)
    );
    println!("  throughput: {:.0} requests/s", latencies.len() as f64 / measure.as_secs_f64());
    println!(
        "  latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    Ok(())
}

//! Issue #12's publish figure: the wall time of each publish job in a chain of
//! packages (each depends on the one before), once with the build cache, where every
//! dependency was built by the publish before, and once without it (the cache is
//! deleted before each publish), so every publish compiles its whole build plan.
//!
//! `cargo build --release -p registry-jobs --example publish_chain -p purs-standin &&
//! target/release/examples/publish_chain [LENGTH]` (default 12). The stand-in compiles
//! in microseconds; `PURS_STANDIN_DELAY_MS=N` makes it spend N ms per module, as a
//! real compiler would.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use registry_core::Manifest;
use registry_core::job::LogLevel;
use registry_workload::Variant;
use support::{Outcome, TestRegistry, files, manifest, request};

struct Step {
    wall: Duration,
    compiled: usize,
    restored: usize,
}

/// The number in the first INFO line of `outcome` that starts with `prefix`.
fn count(outcome: &Outcome, prefix: &str) -> usize {
    outcome
        .log
        .iter()
        .filter(|(level, _)| *level == LogLevel::Info)
        .find_map(|(_, m)| m.strip_prefix(prefix)?.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

async fn publish(reg: &TestRegistry, manifest: &Manifest, with_cache: bool) -> Step {
    reg.commit_source(
        manifest.name.as_str(),
        &files(manifest, Variant::Normal),
        &format!("v{}", manifest.version),
    );
    if !with_cache {
        let cache = reg.root().join("storage/_build-cache");
        if cache.exists() {
            std::fs::remove_dir_all(cache).unwrap();
        }
    }
    let started = Instant::now();
    let outcome = reg.publish(&request(manifest, true)).await;
    let wall = started.elapsed();
    if outcome.result.is_err() {
        panic!("publishing {} failed:\n{}", manifest.name, outcome.printed());
    }
    Step { wall, compiled: count(&outcome, "Compiled "), restored: count(&outcome, "Restored ") }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    match values.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let length: usize = match std::env::args().nth(1) {
        None => 12,
        Some(arg) => match arg.parse() {
            Ok(n) if n >= 2 => n,
            _ => {
                eprintln!("usage: publish_chain [LENGTH]   (LENGTH: packages in the chain, at least 2)");
                std::process::exit(2);
            }
        },
    };
    let chain: Vec<Manifest> = (0..length)
        .map(|i| {
            let name = format!("chain-{i}");
            if i == 0 {
                manifest(&name, "1.0.0", &[])
            } else {
                manifest(&name, "1.0.0", &[(&format!("chain-{}", i - 1), ">=1.0.0 <2.0.0")])
            }
        })
        .collect();
    let delay = std::env::var("PURS_STANDIN_DELAY_MS").unwrap_or_else(|_| "0".into());
    println!(
        "a chain of {length} publishes, each depending on the one before; stand-in delay {delay} ms per module"
    );
    let (cached, uncached) = (TestRegistry::new(), TestRegistry::new());
    println!(
        "{:>8} {:>12} {:>9} {:>9} {:>12} {:>9}",
        "package", "cache: s", "compiled", "restored", "no cache: s", "compiled"
    );
    let mut with = Vec::new();
    let mut without = Vec::new();
    for m in &chain {
        let a = publish(&cached, m, true).await;
        let b = publish(&uncached, m, false).await;
        println!(
            "{:>8} {:>12.3} {:>9} {:>9} {:>12.3} {:>9}",
            m.name.as_str(),
            a.wall.as_secs_f64(),
            a.compiled,
            a.restored,
            b.wall.as_secs_f64(),
            b.compiled
        );
        with.push(a);
        without.push(b);
    }
    // The first publish has no dependencies: both runs do the same work there.
    let walls = |steps: &[Step]| steps[1..].iter().map(|s| s.wall).collect::<Vec<_>>();
    let (m_with, m_without) = (median(walls(&with)), median(walls(&without)));
    let modules = |steps: &[Step]| steps.iter().map(|s| s.compiled).sum::<usize>();
    println!(
        "median publish with dependencies ({} jobs): with the cache {:.3} s, without {:.3} s ({:.2}x)",
        length - 1,
        m_with.as_secs_f64(),
        m_without.as_secs_f64(),
        m_without.as_secs_f64() / m_with.as_secs_f64().max(1e-9)
    );
    println!(
        "modules compiled over the chain: with the cache {}, without {}",
        modules(&with),
        modules(&without)
    );
}

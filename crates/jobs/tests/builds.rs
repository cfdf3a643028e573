//! Publish and matrix jobs compile through the build engine over the build cache in
//! storage: dependencies already built are restored, not compiled; whatever compiles
//! is stored under its key; a package that fails is not stored. Modules compiled are
//! counted from the engine's report and its "Compiled N modules" job-log line.

mod support;

use std::collections::BTreeMap;

use registry_core::job::LogLevel;
use registry_core::{Manifest, PackageName, Version};
use registry_jobs::matrix::{MatrixBuilder, MatrixIndex, MatrixJob, plan_after_matrix};
use registry_workload::Variant;
use support::*;

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn n(s: &str) -> PackageName {
    PackageName::parse(s).unwrap()
}

/// The number of modules `manifest`'s generated sources provide.
fn modules(manifest: &Manifest) -> usize {
    files(manifest, Variant::Normal).keys().filter(|p| p.starts_with("src/") && p.ends_with(".purs")).count()
}

fn cache_objects(reg: &TestRegistry) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![reg.root().join("storage/_build-cache")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else if entry.file_name().to_string_lossy().ends_with(".tar.gz") {
                found.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

fn compiled_line(outcome: &Outcome) -> String {
    let lines: Vec<&String> = outcome
        .log
        .iter()
        .filter(|(level, m)| {
            *level == LogLevel::Info && m.starts_with("Compiled ") && m.ends_with(" modules")
        })
        .map(|(_, m)| m)
        .collect();
    assert_eq!(lines.len(), 1, "one compile expected:\n{}", outcome.printed());
    lines[0].clone()
}

async fn publish_ok(reg: &TestRegistry, manifest: &Manifest) -> Outcome {
    reg.commit_source(
        manifest.name.as_str(),
        &files(manifest, Variant::Normal),
        &format!("v{}", manifest.version),
    );
    let outcome = reg.publish(&request(manifest, true)).await;
    outcome.ok();
    outcome
}

#[tokio::test(flavor = "multi_thread")]
async fn a_publish_whose_dependencies_are_built_compiles_only_its_own_modules() {
    let reg = TestRegistry::new();
    let alpha = manifest("alpha", "1.0.0", &[]);
    let beta = manifest("beta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let gamma = manifest("gamma", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0"), ("beta", ">=1.0.0 <2.0.0")]);

    let first = publish_ok(&reg, &alpha).await;
    assert_eq!(compiled_line(&first), format!("Compiled {} modules", modules(&alpha)));
    assert_eq!(cache_objects(&reg).len(), 1, "alpha's build result is stored");

    let second = publish_ok(&reg, &beta).await;
    assert!(
        second.log.iter().any(|(_, m)| m == "Restored 1 packages from the build cache"),
        "{}",
        second.printed()
    );
    assert_eq!(compiled_line(&second), format!("Compiled {} modules", modules(&beta)));

    let third = publish_ok(&reg, &gamma).await;
    assert!(
        third.log.iter().any(|(_, m)| m == "Restored 2 packages from the build cache"),
        "{}",
        third.printed()
    );
    assert_eq!(compiled_line(&third), format!("Compiled {} modules", modules(&gamma)));
    assert_eq!(cache_objects(&reg).len(), 3);

    // Without the cache the same kind of publish compiles its whole build plan.
    std::fs::remove_dir_all(reg.root().join("storage/_build-cache")).unwrap();
    let delta = manifest("delta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0"), ("beta", ">=1.0.0 <2.0.0")]);
    let fourth = publish_ok(&reg, &delta).await;
    assert!(!fourth.log.iter().any(|(_, m)| m.starts_with("Restored ")), "{}", fourth.printed());
    let all = modules(&alpha) + modules(&beta) + modules(&delta);
    assert_eq!(compiled_line(&fourth), format!("Compiled {all} modules"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_matrix_job_whose_plan_is_built_compiles_only_its_package_and_a_failure_stores_nothing() {
    let reg = TestRegistry::new();
    reg.install_compiler("0.15.14");
    reg.install_compiler("0.14.9");
    let alpha = manifest("alpha", "1.0.0", &[]);
    let beta = manifest("beta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    publish_ok(&reg, &alpha).await;
    publish_ok(&reg, &beta).await;
    let builder = MatrixBuilder::new();
    let job = |name: &str, compiler: &str, plan: &[(&str, &str)]| MatrixJob {
        name: n(name),
        version: v("1.0.0"),
        compiler: v(compiler),
        build_plan: plan.iter().map(|(n_, v_)| (n(n_), v(v_))).collect::<BTreeMap<_, _>>(),
    };

    let (env, _) = reg.job_env();
    let report = builder.compile(&env, &job("alpha", "0.15.14", &[])).await.unwrap();
    assert_eq!((report.modules_compiled, report.packages_compiled), (modules(&alpha), 1));

    // beta's plan (alpha) is built with 0.15.14: only beta compiles.
    let (env, log) = reg.job_env();
    let report = builder.compile(&env, &job("beta", "0.15.14", &[("alpha", "1.0.0")])).await.unwrap();
    assert_eq!((report.modules_compiled, report.packages_compiled), (modules(&beta), 1));
    assert!(log.lines().iter().any(|(_, m)| m == &format!("Compiled {} modules", modules(&beta))));

    // The same job again: everything is built already, the compiler does not run.
    let (env, _) = reg.job_env();
    let report = builder.compile(&env, &job("beta", "0.15.14", &[("alpha", "1.0.0")])).await.unwrap();
    assert!(!report.compiled, "{report:?}");
    assert_eq!((report.modules_compiled, report.packages_compiled), (0, 0));

    // On a worker whose kept directory is gone (another machine), both come from
    // the build cache instead.
    std::fs::remove_dir_all(reg.root().join("builds/matrix")).unwrap();
    let (env, _) = reg.job_env();
    let report = builder.compile(&env, &job("beta", "0.15.14", &[("alpha", "1.0.0")])).await.unwrap();
    assert!(!report.compiled, "{report:?}");
    assert_eq!((report.modules_compiled, report.packages_restored), (0, 2));

    // While another build holds the kept directory (a job that outlived its timeout),
    // a job builds in its own directory, from the cache, and says so.
    let lock =
        std::fs::File::options().write(true).open(reg.root().join("builds/matrix/matrix.lock")).unwrap();
    lock.lock().unwrap();
    let (env, log) = reg.job_env();
    let report = builder.compile(&env, &job("beta", "0.15.14", &[("alpha", "1.0.0")])).await.unwrap();
    assert_eq!((report.compiled, report.packages_restored), (false, 2), "{report:?}");
    assert!(
        log.lines().iter().any(|(_, m)| m.starts_with("Another matrix build holds ")),
        "{:?}",
        log.lines()
    );
    drop(lock);

    // A failed compile stores nothing (purs stops at ModuleNotFound before building
    // anything, so not even alpha with 0.14.9); a successful one stores its result.
    let ints = manifest("ints", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let mut source = files(&ints, Variant::Normal);
    source.insert("src/Ints/Prim.purs".into(), b"module Ints.Prim where\n\nimport Prim.Int\n".to_vec());
    reg.commit_source("ints", &source, "v1.0.0");
    reg.publish(&request(&ints, true)).await.ok();
    let before = cache_objects(&reg);
    let (env, _) = reg.job_env();
    let failure = builder.compile(&env, &job("ints", "0.14.9", &[("alpha", "1.0.0")])).await.unwrap_err();
    assert!(failure.0.starts_with("ints@1.0.0 does not compile with compiler 0.14.9"), "{failure}");
    assert_eq!(cache_objects(&reg), before);
    let (env, _) = reg.job_env();
    builder.compile(&env, &job("alpha", "0.14.9", &[])).await.unwrap();
    assert_eq!(cache_objects(&reg).len(), before.len() + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_over_a_chain_runs_dependencies_first_and_compiles_each_package_once() {
    let reg = TestRegistry::new();
    let alpha = manifest("alpha", "1.0.0", &[]);
    let beta = manifest("beta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    let gamma = manifest("gamma", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0"), ("beta", ">=1.0.0 <2.0.0")]);
    for m in [&alpha, &beta, &gamma] {
        publish_ok(&reg, m).await;
    }
    // A compiler the registry has not seen: the flood starts from the root.
    reg.install_compiler("0.15.14");
    let installed = reg.compilers().installed_versions();
    let plans = MatrixIndex::new();
    let builder = MatrixBuilder::new();
    let mut queue = std::collections::VecDeque::from([MatrixJob {
        name: n("alpha"),
        version: v("1.0.0"),
        compiler: v("0.15.14"),
        build_plan: BTreeMap::new(),
    }]);
    let mut ran = Vec::new();
    while let Some(job) = queue.pop_front() {
        let (env, log) = reg.job_env();
        let report = builder.compile(&env, &job).await.unwrap();
        builder.record(&env, &job).await.unwrap();
        let own = [&alpha, &beta, &gamma].into_iter().find(|m| m.name == job.name).unwrap();
        // Its whole plan was built by the jobs before it: only its own modules compile.
        assert_eq!(
            (report.modules_compiled, report.packages_compiled),
            (modules(own), 1),
            "{}:\n{:?}",
            job.name,
            log.lines()
        );
        for next in plan_after_matrix(&env, &plans, &installed, &job).await.unwrap() {
            queue.push_back(MatrixJob {
                name: next.name,
                version: next.version,
                compiler: next.compiler,
                build_plan: next.resolutions,
            });
        }
        ran.push(format!(
            "{} {:?}",
            job.name,
            job.build_plan.keys().map(|k| k.to_string()).collect::<Vec<_>>()
        ));
    }
    assert_eq!(ran, ["alpha []", "beta [\"alpha\"]", "gamma [\"alpha\", \"beta\"]"]);
    // The planning view was read once and followed the three records by diff.
    assert_eq!(plans.full_reads(), 1);
}

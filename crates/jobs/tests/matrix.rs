//! Compiler-matrix jobs in-process against real adapters on local repositories,
//! with the stand-in compiler installed under several versions: a job compiles the
//! installed build plan and records its compiler; planning after a publish and after
//! a matrix success proposes the jobs upstream would; a package that does not
//! compile with a compiler leaves the metadata untouched.

mod support;

use std::collections::BTreeMap;

use registry_adapters::activity::MemoryLog;
use registry_core::job::LogLevel;
use registry_core::{Manifest, PackageName, Version};
use registry_jobs::matrix::{MatrixBuilder, MatrixIndex, MatrixJob, plan_after_matrix, plan_after_publish};
use registry_jobs::publish::Published;
use registry_workload::{GitIdentity, Variant, write_git_repo};
use support::*;

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn n(s: &str) -> PackageName {
    PackageName::parse(s).unwrap()
}

fn compilers_of(reg: &TestRegistry, name: &str, version: &str) -> serde_json::Value {
    let text = reg.remote_file("registry.git", &format!("metadata/{name}.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["published"][version]["compilers"].clone()
}

fn printed(log: &MemoryLog) -> String {
    log.lines().iter().map(|(l, m)| format!("{l:?} {m}")).collect::<Vec<_>>().join("\n")
}

async fn publish(reg: &TestRegistry, manifest: &Manifest) -> Published {
    let (env, log) = reg.job_env();
    match reg.publisher.run(&env, &request(manifest, true)).await {
        Ok(published) => published,
        Err(failure) => panic!("publishing {} failed: {failure}\n{}", manifest.id(), printed(&log)),
    }
}

fn builder(_: &TestRegistry) -> MatrixBuilder {
    MatrixBuilder::new()
}

fn planned(plans: &std::collections::BTreeSet<registry_core::solver::MatrixSolverResult>) -> Vec<String> {
    plans
        .iter()
        .map(|p| {
            let plan: Vec<String> = p.resolutions.iter().map(|(n, v)| format!("{n}@{v}")).collect();
            format!("{}@{} with {} [{}]", p.name, p.version, p.compiler, plan.join(" "))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_matrix_job_records_its_compiler_and_its_dependants_follow() {
    let reg = TestRegistry::new();
    reg.install_compiler("0.15.14");
    let installed = reg.compilers().installed_versions();
    assert_eq!(installed, [v("0.15.14"), v("0.15.15")]);
    let alpha = manifest("alpha", "1.0.0", &[]);
    let beta = manifest("beta", "1.0.0", &[("alpha", ">=1.0.0 <2.0.0")]);
    for m in [&alpha, &beta] {
        write_git_repo(&reg.source_repo(m.name.as_str()), &[(m, Variant::Normal)], &GitIdentity::default())
            .unwrap();
    }

    // A publish reports what it wrote.
    let published = publish(&reg, &alpha).await;
    assert_eq!(
        published,
        Published {
            name: n("alpha"),
            version: v("1.0.0"),
            compiler: v("0.15.15"),
            dependencies: BTreeMap::new(),
            resolutions: BTreeMap::new(),
        }
    );
    // alpha has no dependencies, so it can be tried with the other compiler.
    // One planning view serves every call below: it follows the jobs' writes.
    let plans = MatrixIndex::new();
    let (env, _) = reg.job_env();
    let after_alpha = plan_after_publish(&env, &plans, &installed, &published).await.unwrap();
    assert_eq!(planned(&after_alpha), ["alpha@1.0.0 with 0.15.14 []"]);

    // beta needs alpha, known to work with 0.15.15 only: nothing to try yet.
    let published = publish(&reg, &beta).await;
    assert_eq!(published.resolutions, BTreeMap::from([(n("alpha"), v("1.0.0"))]));
    let (env, log) = reg.job_env();
    assert!(plan_after_publish(&env, &plans, &installed, &published).await.unwrap().is_empty());
    assert!(
        log.lines().contains(&(LogLevel::Info, "Failed to solve with compiler 0.15.14: beta@1.0.0".into())),
        "{}",
        printed(&log)
    );

    // alpha compiles with 0.15.14: recorded, in one commit naming the job.
    let job = MatrixJob {
        name: n("alpha"),
        version: v("1.0.0"),
        compiler: v("0.15.14"),
        build_plan: BTreeMap::new(),
    };
    let (env, log) = reg.job_env();
    builder(&reg).compile(&env, &job).await.unwrap();
    let metadata = builder(&reg).record(&env, &job).await.unwrap();
    assert_eq!(metadata.published[&v("1.0.0")].compilers, [v("0.15.14"), v("0.15.15")]);
    assert_eq!(compilers_of(&reg, "alpha", "1.0.0"), serde_json::json!(["0.15.14", "0.15.15"]));
    assert_eq!(
        reg.log_messages("registry.git")[0],
        format!("Update metadata for alpha\n\nJob ID: {}", env.job_id)
    );
    assert!(printed(&log).contains("Compilation succeeded with compiler 0.15.14"), "{}", printed(&log));

    // Now beta can be solved with 0.15.14, with alpha in its build plan.
    let after_matrix = plan_after_matrix(&env, &plans, &installed, &job).await.unwrap();
    assert_eq!(planned(&after_matrix), ["beta@1.0.0 with 0.15.14 [alpha@1.0.0]"]);
    assert!(printed(&log).contains("Cascade from alpha@1.0.0: 1 planned out of 1 dependants visited"));
    let plan = after_matrix.first().unwrap();
    let beta_job = MatrixJob {
        name: n("beta"),
        version: v("1.0.0"),
        compiler: v("0.15.14"),
        build_plan: plan.resolutions.clone(),
    };
    let (env, _) = reg.job_env();
    builder(&reg).compile(&env, &beta_job).await.unwrap();
    builder(&reg).record(&env, &beta_job).await.unwrap();
    assert_eq!(compilers_of(&reg, "beta", "1.0.0"), serde_json::json!(["0.15.14", "0.15.15"]));
    // beta already works with 0.15.14, so a second cascade from alpha goes through
    // it (to its dependants, none) and plans nothing.
    let (env, _) = reg.job_env();
    assert!(plan_after_matrix(&env, &plans, &installed, &job).await.unwrap().is_empty());

    // Recording a compiler already listed writes nothing.
    let commits = reg.log_messages("registry.git").len();
    let (env, log) = reg.job_env();
    builder(&reg).record(&env, &job).await.unwrap();
    assert_eq!(reg.log_messages("registry.git").len(), commits);
    assert!(printed(&log).contains("already lists compiler 0.15.14: nothing to write"));
    // The publish of beta and both matrix records were caught up from git diffs.
    assert_eq!(plans.full_reads(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_that_does_not_compile_keeps_its_metadata() {
    let reg = TestRegistry::new();
    // Prim.Int exists since 0.15.0: a package importing it fails with 0.14.9.
    reg.install_compiler("0.14.9");
    let ints = manifest("ints", "1.0.0", &[]);
    let mut source = files(&ints, Variant::Normal);
    source.insert("src/Ints/Prim.purs".into(), b"module Ints.Prim where\n\nimport Prim.Int\n".to_vec());
    reg.commit_source("ints", &source, "v1.0.0");
    let published = publish(&reg, &ints).await;
    let installed = reg.compilers().installed_versions();
    let (env, _) = reg.job_env();
    let plans = plan_after_publish(&env, &MatrixIndex::new(), &installed, &published).await.unwrap();
    assert_eq!(planned(&plans), ["ints@1.0.0 with 0.14.9 []"]);

    let before = reg.remote_file("registry.git", "metadata/ints.json").unwrap();
    let commits = reg.log_messages("registry.git").len();
    let job = MatrixJob {
        name: n("ints"),
        version: v("1.0.0"),
        compiler: v("0.14.9"),
        build_plan: BTreeMap::new(),
    };
    let (env, log) = reg.job_env();
    let failure = builder(&reg).compile(&env, &job).await.unwrap_err();
    assert!(
        failure.0.starts_with(
            "ints@1.0.0 does not compile with compiler 0.14.9: error ModuleNotFound in file \
             .registry/ints-1.0.0/src/Ints/Prim.purs at line 3"
        ),
        "{failure}"
    );
    assert!(failure.0.ends_with("The metadata of ints@1.0.0 is unchanged."), "{failure}");
    assert!(printed(&log).contains("Compilation failed with compiler 0.14.9:"), "{}", printed(&log));
    assert_eq!(reg.remote_file("registry.git", "metadata/ints.json").unwrap(), before);
    assert_eq!(reg.log_messages("registry.git").len(), commits);

    // A compiler that is not installed, and a tarball that is not what the
    // metadata says, fail before anything is compiled.
    let missing = MatrixJob { compiler: v("0.15.16"), ..job.clone() };
    let (env, _) = reg.job_env();
    let failure = builder(&reg).compile(&env, &missing).await.unwrap_err();
    assert!(failure.0.starts_with("Compiler 0.15.16 is not installed on this registry"), "{failure}");
    let tarball = reg.root().join("storage/ints/1.0.0.tar.gz");
    let mut bytes = std::fs::read(&tarball).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tarball, bytes).unwrap();
    let (env, _) = reg.job_env();
    let failure =
        builder(&reg).compile(&env, &MatrixJob { compiler: v("0.15.15"), ..job }).await.unwrap_err();
    assert!(failure.0.starts_with("Integrity check failed for ints@1.0.0: hash mismatch"), "{failure}");
}

//! The enqueueing of matrix jobs (upstream `JobExecutor` and `MatrixBuilder`,
//! inventory §2.3, §7.3, §7.4), through the [`JobQueue`] the server gives jobs:
//! * a publish that wrote a version queues the same version with every other
//!   installed compiler whose solve picks exactly that compiler, and its
//!   dependants with the publish compiler ([`plan_after_publish`](crate::matrix::plan_after_publish));
//! * a matrix job that succeeded queues its dependants with its compiler
//!   ([`plan_after_matrix`](crate::matrix::plan_after_matrix));
//! * `registry serve` queues, at start-up, every version without dependencies for a
//!   compiler newer than all of the newest prelude's ([`enqueue_new_compiler_jobs`]).
//!
//! The queue keeps one matrix job per package version and compiler, whatever its
//! outcome, so planning the same job again adds nothing and a failed one is never
//! run again. Planning happens after the job's durable effects: if it fails, the
//! job's log says so (WARN) and the job still succeeds, since what it wrote stands.

use std::collections::BTreeSet;
use std::sync::Arc;

use registry_adapters::{ActivityLog, GitRepo};
use registry_core::Version;
use registry_core::solver::MatrixSolverResult;

use crate::Failure;
use crate::matrix::{MatrixIndex, new_compiler_jobs};
use crate::queue::JobQueue;

/// Enqueues planned matrix jobs, one log line each; a planning failure is logged.
/// The jobs that are in the queue afterwards are noted in `plans`, so later
/// cascades do not solve them again.
pub async fn enqueue_follow_ups(
    queue: &dyn JobQueue,
    plans: &MatrixIndex,
    planned: Result<BTreeSet<MatrixSolverResult>, Failure>,
    log: &dyn ActivityLog,
) {
    let planned = match planned {
        Ok(planned) => planned,
        Err(why) => {
            return log.warn(&format!(
                "No matrix jobs were queued after this job, because planning them failed: {why} What this job \
                 wrote stands."
            ));
        }
    };
    let (mut in_queue, mut new) = (Vec::new(), Vec::new());
    let enqueued = enqueue_matrix_jobs(queue, &planned, &mut in_queue, &mut new, log).await;
    plans.note_queued(&in_queue, &new).await;
    if let Err(err) = enqueued {
        log.warn(&format!(
            "Queueing matrix jobs failed: {err}. Some of the planned jobs may be missing; what this job wrote stands."
        ));
    }
}

/// Enqueues each planned job with its resolutions as the build plan, collecting
/// in `in_queue` those the queue held already and in `new` those it takes now.
async fn enqueue_matrix_jobs(
    queue: &dyn JobQueue,
    planned: &BTreeSet<MatrixSolverResult>,
    in_queue: &mut Vec<MatrixSolverResult>,
    new: &mut Vec<MatrixSolverResult>,
    log: &dyn ActivityLog,
) -> Result<(), Failure> {
    for plan in planned {
        let enqueued = queue.enqueue_matrix(plan).await?;
        let what = format!("compiler {}, package {}@{}", plan.compiler, plan.name, plan.version);
        if enqueued.duplicate {
            in_queue.push(plan.clone());
            log.info(&format!(
                "Not enqueuing matrix job: {what}: job {} exists already (each version is tried once per compiler)",
                enqueued.job_id
            ));
        } else {
            new.push(plan.clone());
            log.info(&format!("Enqueuing matrix job: {what} (job {})", enqueued.job_id));
        }
    }
    Ok(())
}

/// Start-up: when the installed compilers include one newer than every compiler of
/// prelude's highest published version, queues a matrix job with an empty build
/// plan for every indexed version without dependencies; their successes cascade
/// through the registry. Returns how many jobs are new (none on a second start:
/// the queue already has them).
pub async fn enqueue_new_compiler_jobs(
    registry: &dyn GitRepo,
    index: &dyn GitRepo,
    queue: &dyn JobQueue,
    plans: &MatrixIndex,
    installed: &[Version],
    log: &Arc<dyn ActivityLog>,
) -> Result<usize, Failure> {
    let Some(found) = new_compiler_jobs(registry, index, installed, log).await? else { return Ok(0) };
    let mut added = 0;
    let (mut in_queue, mut new) = (Vec::new(), Vec::new());
    for (name, version) in found.roots {
        let plan = MatrixSolverResult {
            compiler: found.compiler,
            name: name.clone(),
            resolutions: Default::default(),
            version,
        };
        let enqueued = queue.enqueue_matrix(&plan).await?;
        if enqueued.duplicate {
            in_queue.push(plan);
        } else {
            new.push(plan);
            added += 1;
            log.info(&format!(
                "Enqueuing matrix job for new compiler {}, package {name}@{version}",
                found.compiler
            ));
        }
    }
    // Dependants of several roots' versions await the new ones (see MatrixIndex::new).
    plans.note_queued(&in_queue, &new).await;
    log.info(&format!("{added} matrix job(s) queued for compiler {}", found.compiler));
    Ok(added)
}

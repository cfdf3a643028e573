//! The progress line of a compiler's matrix jobs (a new compiler's flood), which
//! every matrix job logs when it has done its work: how many of the jobs queued so
//! far for its compiler are done, from the job store.

use registry_adapters::ActivityLog;
use registry_core::Version;
use registry_queue::MatrixProgress;

use crate::job_context::JobContext;

/// Logs how far `compiler`'s matrix jobs have got, counting this job, which the store
/// still has running, as succeeded: the line is logged once its work succeeded. A
/// store that cannot answer costs a WARN line, never the job.
pub async fn log_matrix_progress(ctx: &JobContext, compiler: Version) {
    match ctx.store.matrix_progress(&compiler).await {
        Ok(progress) => ctx.log.info(&progress_line(compiler, counting_this_job(progress))),
        Err(err) => {
            ctx.log.warn(&format!("The progress of compiler {compiler}'s matrix jobs is unknown: {err}"))
        }
    }
}

/// `progress` with one running job (this one) moved to the succeeded ones.
fn counting_this_job(mut progress: MatrixProgress) -> MatrixProgress {
    if progress.running > 0 {
        progress.running -= 1;
        progress.succeeded += 1;
    }
    progress
}

fn progress_line(compiler: Version, p: MatrixProgress) -> String {
    format!(
        "Compiler {compiler} matrix: {} of {} jobs queued so far are done ({} succeeded, {} failed), \
         {} waiting or running",
        p.done(),
        p.queued(),
        p.succeeded,
        p.failed,
        p.pending + p.running
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_this_job_as_done() {
        let stored = MatrixProgress { succeeded: 29, failed: 7, pending: 80, running: 4 };
        assert_eq!(
            progress_line(Version::new(0, 15, 16), counting_this_job(stored)),
            "Compiler 0.15.16 matrix: 37 of 120 jobs queued so far are done (30 succeeded, 7 failed), \
             83 waiting or running"
        );
    }
}

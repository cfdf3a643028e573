//! Runs an external program for each job of a kind.
//!
//! The program gets the job's JSON (as `GET /api/v1/jobs/{id}` shows it, without
//! logs) on standard input, `REGISTRY_JOB_ID` and `REGISTRY_JOB_TYPE` in its
//! environment, and the job's work directory as its working directory. Each line
//! it prints becomes a log line: INFO by default, or the level named by a
//! `DEBUG: `, `INFO: `, `WARN: `, `NOTICE: ` or `ERROR: ` prefix; standard error lines
//! are WARN. Exit status 0 means success. The program runs in its own process group,
//! killed whole on timeout or shutdown.

use std::path::PathBuf;
use std::process::Stdio;

use async_trait::async_trait;
use registry_adapters::ActivityLog;
use registry_adapters::process;
use registry_core::job::{Job, LogLevel};
use registry_core::json::Codec;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::job_context::{JobContext, JobFailure, JobHandler};

pub struct CommandHandler {
    program: PathBuf,
}

impl CommandHandler {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        CommandHandler { program: program.into() }
    }
}

fn split_level(line: &str) -> (LogLevel, &str) {
    for level in LogLevel::ALL {
        if let Some(rest) = line.strip_prefix(level.as_str()).and_then(|r| r.strip_prefix(": ")) {
            return (level, rest);
        }
    }
    (LogLevel::Info, line)
}

#[async_trait]
impl JobHandler for CommandHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let job = &ctx.job;
        let input = Job { logs: Vec::new(), ..job.clone() };
        let mut cmd = Command::new(&self.program);
        cmd.current_dir(&ctx.work_dir)
            .env("REGISTRY_JOB_ID", &job.info.job_id)
            .env("REGISTRY_JOB_TYPE", job.details.job_type().as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = process::spawn(&mut cmd).map_err(|e| {
            JobFailure(format!("Could not start the job program {}: {e}", self.program.display()))
        })?;
        let mut stdin = child.child.stdin.take().expect("stdin is piped");
        let stdout = child.child.stdout.take().expect("stdout is piped");
        let stderr = child.child.stderr.take().expect("stderr is piped");
        // A program that does not read its input must not block us.
        let payload = input.to_compact();
        let feed = async move {
            let _ = stdin.write_all(payload.as_bytes()).await;
            let _ = stdin.shutdown().await;
        };
        let log = ctx.log.clone();
        let out = async {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let (level, text) = split_level(&line);
                log.log(level, text);
            }
        };
        let err = async {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                ctx.log.warn(&line);
            }
        };
        tokio::join!(feed, out, err);
        let status =
            child.wait().await.map_err(|e| JobFailure(format!("Waiting for the job program failed: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(JobFailure(format!("The job program {} failed ({status}).", self.program.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_prefixes_are_recognised() {
        assert_eq!(split_level("NOTICE: hello"), (LogLevel::Notice, "hello"));
        assert_eq!(split_level("ERROR: x: y"), (LogLevel::Error, "x: y"));
        assert_eq!(split_level("NOTICE:no space"), (LogLevel::Info, "NOTICE:no space"));
        assert_eq!(split_level("plain"), (LogLevel::Info, "plain"));
    }
}

//! Running a child process to completion from blocking code, in its own process group,
//! with an optional time limit.
//!
//! The child (the compiler) is spawned as the leader of a new process group so that a
//! timeout, the cancellation of the thread's [`Scope`] or a restart after a crash can kill
//! everything it started (`kill(-pgid, SIGKILL)`), not just the direct child. A waiter
//! thread reaps the child; two reader threads drain its pipes so it never blocks on a full
//! pipe while we wait. Those threads can also hand each line to an observer as it arrives
//! (the compiler's progress lines), while still capturing the whole stream.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::groups::GroupGuard;
use crate::scope::Scope;

/// How long to keep reading output after the child is gone, in case something it started
/// escaped the process group and still holds the pipes open.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// A process that ran to completion (successfully or not).
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// The process group the child led (its pid).
    pub pgid: i32,
}

/// A process that could not be run to completion.
#[derive(Debug)]
pub enum RunError {
    /// The executable could not be started.
    Spawn(std::io::Error),
    /// The time limit passed; the whole process group was killed.
    TimedOut { stdout: String, stderr: String, pgid: i32 },
    /// The work this run belongs to was cancelled (its job ended): the group was
    /// killed, or the child was never started.
    Cancelled,
}

/// Receives one line of output (without its line ending) while the child runs.
pub type LineFn = Arc<dyn Fn(&str) + Send + Sync>;

/// Who sees the lines of each stream as they arrive; the streams are captured either way.
#[derive(Clone, Default)]
pub struct LineObservers {
    pub stdout: Option<LineFn>,
    pub stderr: Option<LineFn>,
}

/// Runs `command` (stdin closed, stdout and stderr captured) in a new process group.
///
/// With a `timeout`, a run that lasts longer gets its whole process group killed. After the
/// child exits, whatever is left in its group is killed too, so no stray helper outlives a
/// compiler run.
pub fn run(command: &mut Command, timeout: Option<Duration>) -> Result<Finished, RunError> {
    run_observed(command, timeout, LineObservers::default())
}

/// [`run`], handing every complete line (and a final unterminated one) of stdout and
/// stderr to `observers` from the reader threads, as soon as it is read.
pub fn run_observed(
    command: &mut Command,
    timeout: Option<Duration>,
    observers: LineObservers,
) -> Result<Finished, RunError> {
    command.process_group(0).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let scope = Scope::current();
    let mut spawn = || {
        let child = command.spawn();
        let pgid = child.as_ref().ok().map(|c| i32::try_from(c.id()).expect("process ids fit in i32"));
        // Recorded before the scope lock is released, so a crash from here on
        // leaves a record for the next start.
        (child.map(|c| (c, GroupGuard::new(pgid))), pgid)
    };
    let started = match &scope {
        Some(scope) => scope.admit(spawn).ok_or(RunError::Cancelled)?,
        None => spawn().0,
    };
    let (mut child, mut guard) = started.map_err(RunError::Spawn)?;
    let pgid = i32::try_from(child.id()).expect("process ids fit in i32");

    let stdout = Capture::start(child.stdout.take(), observers.stdout);
    let stderr = Capture::start(child.stderr.take(), observers.stderr);

    let (status_tx, status_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = status_tx.send(child.wait());
    });

    let waited = match timeout {
        Some(limit) => status_rx.recv_timeout(limit).ok(),
        None => status_rx.recv().ok(),
    };
    let cancelled = || scope.as_ref().is_some_and(Scope::is_cancelled);
    let status = match waited {
        Some(status) => status,
        None => {
            guard.kill_now();
            // The child is dead now; let the waiter reap it before reporting.
            let _ = status_rx.recv();
            if let Some(scope) = &scope {
                scope.release(pgid);
            }
            return Err(RunError::TimedOut { stdout: stdout.finish(), stderr: stderr.finish(), pgid });
        }
    };
    if let Some(scope) = &scope {
        scope.release(pgid);
    }
    // Whatever the child left in its group goes with it.
    guard.kill_now();
    if cancelled() {
        return Err(RunError::Cancelled);
    }
    match status {
        Ok(status) => Ok(Finished { status, stdout: stdout.finish(), stderr: stderr.finish(), pgid }),
        Err(e) => Err(RunError::Spawn(e)),
    }
}

/// Output of one pipe, collected by a reader thread as it arrives.
struct Capture {
    bytes: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(pipe: Option<impl Read + Send + 'static>, observer: Option<LineFn>) -> Capture {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done) = mpsc::channel();
        let sink = Arc::clone(&bytes);
        thread::spawn(move || {
            let mut lines = observer.map(|f| LineSplitter { observer: f, partial: Vec::new() });
            if let Some(mut pipe) = pipe {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
                    if let Some(lines) = &mut lines {
                        lines.feed(&buf[..n]);
                    }
                }
            }
            if let Some(lines) = &mut lines {
                lines.finish();
            }
            let _ = done_tx.send(());
        });
        Capture { bytes, done }
    }

    /// Waits for the pipe to close (at most [`DRAIN_GRACE`]) and returns what was read.
    fn finish(self) -> String {
        let _ = self.done.recv_timeout(DRAIN_GRACE);
        let bytes = self.bytes.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Cuts a byte stream into lines for an observer; a line may span several reads.
struct LineSplitter {
    observer: LineFn,
    partial: Vec<u8>,
}

impl LineSplitter {
    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.emit();
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }

    fn emit(&mut self) {
        let line = self.partial.strip_suffix(b"\r").unwrap_or(&self.partial);
        (self.observer)(&String::from_utf8_lossy(line));
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let finished = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), None).unwrap();
        assert_eq!(finished.status.code(), Some(3));
        assert_eq!(finished.stdout, "out\n");
        assert_eq!(finished.stderr, "err\n");
    }

    #[test]
    fn observers_see_each_line_while_the_streams_are_still_captured_whole() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let observers = LineObservers {
            stdout: None,
            stderr: Some(Arc::new(move |l: &str| sink.lock().unwrap().push(l.into()))),
        };
        // A line written in two pieces, a CRLF line, an empty line and an unterminated last line.
        let script =
            "printf 'one ' >&2; sleep 0.1; printf 'two\\n' >&2; printf 'x\\r\\n\\nlast' >&2; echo out";
        let finished = run_observed(Command::new("sh").args(["-c", script]), None, observers).unwrap();
        assert_eq!(*seen.lock().unwrap(), ["one two", "x", "", "last"]);
        assert_eq!(finished.stderr, "one two\nx\r\n\nlast");
        assert_eq!(finished.stdout, "out\n");
    }

    #[test]
    fn a_missing_executable_is_a_spawn_error() {
        match run(&mut Command::new("/nonexistent/purs-0_0_0"), None) {
            Err(RunError::Spawn(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            other => panic!("expected a spawn error, got {other:?}"),
        }
    }

    #[test]
    fn a_timeout_returns_promptly_with_the_output_so_far() {
        let started = Instant::now();
        let result = run(
            Command::new("sh").args(["-c", "echo started; sleep 30 & sleep 30"]),
            Some(Duration::from_millis(300)),
        );
        let elapsed = started.elapsed();
        match result {
            Err(RunError::TimedOut { stdout, .. }) => assert_eq!(stdout, "started\n"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }

    #[test]
    fn cancelling_the_scope_kills_a_running_group_and_refuses_new_children() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let scope = Scope::new();
        let worker = {
            let (scope, pids) = (scope.clone(), pids.clone());
            thread::spawn(move || {
                scope.enter(|| {
                    let script = format!("sleep 30 & echo $$ $! > {}; wait", pids.display());
                    let first = run(Command::new("sh").args(["-c", &script]), None);
                    let second = run(Command::new("sh").args(["-c", "echo never > never"]), None);
                    (first, second)
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&pids).map_or(true, |p| !p.ends_with('\n')) {
            assert!(Instant::now() < deadline, "the child did not start");
            thread::sleep(Duration::from_millis(10));
        }
        let pgid: i32 =
            std::fs::read_to_string(&pids).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(crate::live_members(pgid).len(), 2);
        let started = Instant::now();
        scope.cancel();
        assert_eq!(crate::live_members(pgid), Vec::<i32>::new(), "the group outlived the cancellation");
        let (first, second) = worker.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        assert!(matches!(first, Err(RunError::Cancelled)), "{first:?}");
        assert!(matches!(second, Err(RunError::Cancelled)), "{second:?}");
    }
}

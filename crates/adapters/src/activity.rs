//! Where adapters report what they did: the running job's log.

use registry_core::job::LogLevel;

/// A job's log as seen by an adapter.
pub trait ActivityLog: Send + Sync {
    fn log(&self, level: LogLevel, message: &str);

    fn debug(&self, message: &str) {
        self.log(LogLevel::Debug, message)
    }
    fn info(&self, message: &str) {
        self.log(LogLevel::Info, message)
    }
    fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message)
    }
    fn notice(&self, message: &str) {
        self.log(LogLevel::Notice, message)
    }
    /// A write that READONLY mode skipped, as one searchable NOTICE:
    /// `READONLY: would <what>`, where `what` says what would have happened.
    fn readonly_skip(&self, what: &str) {
        self.notice(&format!("{READONLY_PREFIX}{what}"))
    }
}

/// How every line about a write skipped in READONLY mode begins.
pub const READONLY_PREFIX: &str = "READONLY: would ";

/// Discards everything (for work done outside any job, e.g. `registry init`).
pub struct NullLog;

impl ActivityLog for NullLog {
    fn log(&self, _level: LogLevel, _message: &str) {}
}

/// Collects lines in memory (tests, and callers that print them afterwards).
#[derive(Default)]
pub struct MemoryLog(std::sync::Mutex<Vec<(LogLevel, String)>>);

impl MemoryLog {
    pub fn lines(&self) -> Vec<(LogLevel, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl ActivityLog for MemoryLog {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((level, message.to_owned()));
    }
}

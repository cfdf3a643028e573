//! Answers for finished jobs, kept in memory.
//!
//! A finished job never changes: no line is added to its log and its state is
//! final. So the answer to `GET /api/v1/jobs/{id}` for given query parameters can
//! be kept and served again without reading the database. An answer with the
//! default `until` (unbounded for log lines) is kept only once the job has been
//! finished for [`SETTLED`], a margin kept from when that default was "now".
//! (Rows changed behind the server's back, e.g. deleted by hand, stay visible here
//! until evicted or the server restarts.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

use registry_core::Timestamp;
use registry_core::job::LogLevel;
use registry_queue::{LogsQuery, Order};

/// How long after `finishedAt` the log is certainly in the past.
pub const SETTLED: i64 = 1_000;

const MAX_ENTRIES: usize = 4_096;
const MAX_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    job_id: String,
    level: LogLevel,
    since: Timestamp,
    /// `None`: the default (no upper bound).
    until: Option<Timestamp>,
    descending: bool,
}

impl Key {
    pub fn new(job_id: &str, query: &LogsQuery, until_given: bool) -> Self {
        Key {
            job_id: job_id.to_owned(),
            level: query.level,
            since: query.since,
            until: until_given.then_some(query.until),
            descending: query.order == Order::Desc,
        }
    }

    /// Whether an answer computed `now` for a job finished at `finished_at` may be kept.
    pub fn cacheable(&self, finished_at: Option<Timestamp>, now: Timestamp) -> bool {
        match finished_at {
            None => false,
            Some(_) if self.until.is_some() => true,
            Some(finished) => now.unix_millis() > finished.unix_millis() + SETTLED,
        }
    }
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Bytes>,
    order: VecDeque<Key>,
    bytes: usize,
}

/// A bounded first-in-first-out cache of response bodies.
#[derive(Default)]
pub struct FinishedJobs {
    entries: Mutex<Entries>,
}

impl FinishedJobs {
    pub fn get(&self, key: &Key) -> Option<Bytes> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).map.get(key).cloned()
    }

    pub fn insert(&self, key: Key, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.map.contains_key(&key) {
            return;
        }
        entries.bytes += body.len();
        entries.map.insert(key.clone(), body);
        entries.order.push_back(key);
        while entries.map.len() > MAX_ENTRIES || entries.bytes > MAX_BYTES {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some(body) = entries.map.remove(&oldest) {
                entries.bytes -= body.len();
            }
        }
    }
}

/// Answers for jobs still running, valid while the store's write generation is
/// the one they were read under (see `JobStore::generation`): clients polling the
/// same job share one database read per change of the store.
#[derive(Default)]
pub struct CurrentAnswers {
    entries: Mutex<HashMap<Key, (u64, Bytes)>>,
}

const MAX_CURRENT: usize = 1_024;

impl CurrentAnswers {
    pub fn get(&self, key: &Key, generation: u64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(g, _)| *g == generation).map(|(_, body)| body.clone())
    }

    pub fn insert(&self, key: Key, generation: u64, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CURRENT {
            // Stale answers are useless anyway; start afresh rather than track age.
            entries.retain(|_, (g, _)| *g == generation);
            if entries.len() >= MAX_CURRENT {
                entries.clear();
            }
        }
        entries.insert(key, (generation, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(until: i64) -> LogsQuery {
        LogsQuery {
            level: LogLevel::Info,
            since: Timestamp::from_unix_millis(0),
            until: Timestamp::from_unix_millis(until),
            order: Order::Asc,
        }
    }

    #[test]
    fn only_settled_or_bounded_answers_of_finished_jobs_are_kept() {
        let open = Key::new("j", &query(5_000), false);
        let finished = Some(Timestamp::from_unix_millis(4_000));
        assert!(!open.cacheable(None, Timestamp::from_unix_millis(9_000)), "running jobs change");
        assert!(
            !open.cacheable(finished, Timestamp::from_unix_millis(4_500)),
            "lines may still be ahead of now"
        );
        assert!(open.cacheable(finished, Timestamp::from_unix_millis(5_001)));
        let bounded = Key::new("j", &query(4_200), true);
        assert!(bounded.cacheable(finished, Timestamp::from_unix_millis(4_100)));
        assert_ne!(open, Key::new("j", &query(4_200), false).clone().with_level(LogLevel::Debug));
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = FinishedJobs::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.insert(Key::new(&i.to_string(), &query(0), true), Bytes::from_static(b"x"));
        }
        assert!(cache.get(&Key::new("0", &query(0), true)).is_none(), "oldest evicted");
        assert!(cache.get(&Key::new(&(MAX_ENTRIES + 9).to_string(), &query(0), true)).is_some());
    }

    impl Key {
        fn with_level(mut self, level: LogLevel) -> Self {
            self.level = level;
            self
        }
    }
}

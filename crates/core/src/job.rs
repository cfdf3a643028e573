//! Jobs and their log lines as the API serves them (upstream `Registry.API.V1`).
//!
//! Upstream encodes these records with record codecs, which emit keys in
//! alphabetical order; `Job::encode` does the same so responses match byte for byte.

use std::collections::BTreeMap;
use std::fmt;

use crate::json::{self, Codec, DecodeError, Map, Obj, Value};
use crate::operation::{AuthenticatedData, PackageSetUpdateData, PublishData};
use crate::{PackageName, Timestamp, Version};

/// The five kinds of job, in upstream's scheduling priority (highest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobType {
    Publish,
    Unpublish,
    Transfer,
    Matrix,
    PackageSet,
}

impl JobType {
    /// All kinds, highest priority first.
    pub const ALL: [JobType; 5] =
        [JobType::Publish, JobType::Unpublish, JobType::Transfer, JobType::Matrix, JobType::PackageSet];

    /// The `jobType` string of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::Publish => "publish",
            JobType::Unpublish => "unpublish",
            JobType::Transfer => "transfer",
            JobType::Matrix => "matrix",
            JobType::PackageSet => "packageset",
        }
    }

    pub fn parse(input: &str) -> Result<Self, String> {
        JobType::ALL.into_iter().find(|t| t.as_str() == input).ok_or_else(|| {
            format!("Unknown job type '{input}': expected publish, unpublish, transfer, matrix or packageset")
        })
    }

    /// Upstream's time limit for one run of a job of this kind.
    pub fn default_timeout_minutes(self) -> u64 {
        match self {
            JobType::Publish | JobType::Unpublish | JobType::Transfer => 10,
            JobType::Matrix => 60,
            JobType::PackageSet => 90,
        }
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Log levels, ordered by their stored priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    /// The user-facing level: the GitHub bridge relays these lines to issues.
    Notice,
    Error,
}

impl LogLevel {
    pub const ALL: [LogLevel; 5] =
        [LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Notice, LogLevel::Error];

    /// The integer stored in the `logs.level` column.
    pub fn priority(self) -> i64 {
        match self {
            LogLevel::Debug => 0,
            LogLevel::Info => 10,
            LogLevel::Warn => 20,
            LogLevel::Notice => 25,
            LogLevel::Error => 30,
        }
    }

    pub fn from_priority(priority: i64) -> Result<Self, String> {
        LogLevel::ALL
            .into_iter()
            .find(|l| l.priority() == priority)
            .ok_or_else(|| format!("Unknown log level priority {priority}: expected 0, 10, 20, 25 or 30"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Notice => "NOTICE",
            LogLevel::Error => "ERROR",
        }
    }

    /// Exact upper-case names only, as upstream's route parser.
    pub fn parse(input: &str) -> Result<Self, String> {
        LogLevel::ALL.into_iter().find(|l| l.as_str() == input).ok_or_else(|| {
            format!("Unknown log level '{input}': expected DEBUG, INFO, WARN, NOTICE or ERROR")
        })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub job_id: String,
    pub level: LogLevel,
    pub message: String,
    pub timestamp: Timestamp,
}

impl LogLine {
    /// Appends `print_compact(&self.encode())` to `out` without building a value:
    /// job responses carry up to 100 lines, and this is the API's hot path.
    pub fn write_compact(&self, out: &mut String) {
        out.push_str("{\"jobId\":");
        push_json_string(out, &self.job_id);
        out.push_str(",\"level\":\"");
        out.push_str(self.level.as_str());
        out.push_str("\",\"message\":");
        push_json_string(out, &self.message);
        out.push_str(",\"timestamp\":\"");
        out.push_str(&self.timestamp.to_string());
        out.push_str("\"}");
    }
}

/// A JSON string literal, escaped exactly as `print_compact` escapes it.
fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).expect("a string always serializes"));
}

impl Codec for LogLine {
    fn encode(&self) -> Value {
        sorted_object(vec![
            ("jobId", Value::String(self.job_id.clone())),
            ("level", Value::String(self.level.as_str().to_owned())),
            ("message", Value::String(self.message.clone())),
            ("timestamp", self.timestamp.encode()),
        ])
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        Ok(LogLine {
            job_id: obj.req_str("jobId")?.to_owned(),
            level: obj.req("level", |v| json::parsed(v, LogLevel::parse))?,
            message: obj.req_str("message")?.to_owned(),
            timestamp: obj.req("timestamp", Timestamp::decode)?,
        })
    }
}

/// The answer to a request that queued a job (`POST /api/v1/publish`, …): `{"jobId": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCreated {
    pub job_id: String,
}

impl Codec for JobCreated {
    fn encode(&self) -> Value {
        sorted_object(vec![("jobId", Value::String(self.job_id.clone()))])
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        Ok(JobCreated { job_id: Obj::new(value)?.req_str("jobId")?.to_owned() })
    }
}

/// The state every job has, whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    pub job_id: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// False until the job finished successfully.
    pub success: bool,
}

/// What a job is about, per kind, with the payload it was submitted with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobDetails {
    Publish {
        package_name: PackageName,
        package_version: Version,
        payload: PublishData,
    },
    Unpublish {
        package_name: PackageName,
        package_version: Version,
        payload: AuthenticatedData,
    },
    Transfer {
        package_name: PackageName,
        payload: AuthenticatedData,
    },
    /// Build `package_name@package_version` with `compiler_version`, using the build
    /// plan computed when the job was queued.
    Matrix {
        package_name: PackageName,
        package_version: Version,
        compiler_version: Version,
        payload: BTreeMap<PackageName, Version>,
    },
    PackageSet {
        payload: PackageSetUpdateData,
    },
}

impl JobDetails {
    pub fn job_type(&self) -> JobType {
        match self {
            JobDetails::Publish { .. } => JobType::Publish,
            JobDetails::Unpublish { .. } => JobType::Unpublish,
            JobDetails::Transfer { .. } => JobType::Transfer,
            JobDetails::Matrix { .. } => JobType::Matrix,
            JobDetails::PackageSet { .. } => JobType::PackageSet,
        }
    }

    /// The payload as stored in the kind's table and served in the job JSON.
    pub fn payload_json(&self) -> Value {
        match self {
            JobDetails::Publish { payload, .. } => payload.encode(),
            JobDetails::Unpublish { payload, .. } | JobDetails::Transfer { payload, .. } => payload.encode(),
            JobDetails::Matrix { payload, .. } => {
                Value::Object(payload.iter().map(|(n, v)| (n.to_string(), v.encode())).collect())
            }
            JobDetails::PackageSet { payload } => payload.encode(),
        }
    }

    /// A short human description, e.g. `publish prelude@6.0.1`.
    pub fn describe(&self) -> String {
        match self {
            JobDetails::Publish { package_name, package_version, .. }
            | JobDetails::Unpublish { package_name, package_version, .. } => {
                format!("{} {package_name}@{package_version}", self.job_type())
            }
            JobDetails::Transfer { package_name, .. } => format!("transfer {package_name}"),
            JobDetails::Matrix { package_name, package_version, compiler_version, .. } => {
                format!("matrix {package_name}@{package_version} with purs {compiler_version}")
            }
            JobDetails::PackageSet { payload } => format!("package set update {}", payload.canonical()),
        }
    }
}

/// A job with its logs, as `GET /api/v1/jobs/{jobId}` serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub info: JobInfo,
    pub details: JobDetails,
    pub logs: Vec<LogLine>,
}

/// Builds an object whose keys are in alphabetical order.
fn sorted_object(mut fields: Vec<(&str, Value)>) -> Value {
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

impl Codec for Job {
    fn encode(&self) -> Value {
        let info = &self.info;
        let mut fields = vec![
            ("jobId", Value::String(info.job_id.clone())),
            ("jobType", Value::String(self.details.job_type().as_str().to_owned())),
            ("createdAt", info.created_at.encode()),
            ("success", Value::Bool(info.success)),
            ("logs", Value::Array(self.logs.iter().map(LogLine::encode).collect())),
            ("payload", self.details.payload_json()),
        ];
        if let Some(t) = info.started_at {
            fields.push(("startedAt", t.encode()));
        }
        if let Some(t) = info.finished_at {
            fields.push(("finishedAt", t.encode()));
        }
        match &self.details {
            JobDetails::Publish { package_name, package_version, .. }
            | JobDetails::Unpublish { package_name, package_version, .. } => {
                fields.push(("packageName", package_name.encode()));
                fields.push(("packageVersion", package_version.encode()));
            }
            JobDetails::Transfer { package_name, .. } => fields.push(("packageName", package_name.encode())),
            JobDetails::Matrix { package_name, package_version, compiler_version, .. } => {
                fields.push(("packageName", package_name.encode()));
                fields.push(("packageVersion", package_version.encode()));
                fields.push(("compilerVersion", compiler_version.encode()));
            }
            JobDetails::PackageSet { .. } => {}
        }
        sorted_object(fields)
    }

    /// Same bytes as `print_compact(&self.encode())`, with the log lines written
    /// directly (see [`LogLine::write_compact`]).
    fn to_compact(&self) -> String {
        let without_logs = Job { logs: Vec::new(), info: self.info.clone(), details: self.details.clone() };
        let printed = json::print_compact(&without_logs.encode());
        if self.logs.is_empty() {
            return printed;
        }
        let mut logs = String::with_capacity(self.logs.len() * 160);
        logs.push('[');
        for (i, line) in self.logs.iter().enumerate() {
            if i > 0 {
                logs.push(',');
            }
            line.write_compact(&mut logs);
        }
        logs.push(']');
        // Keys are sorted, so the first `"logs":[]` is the job's own field: every key
        // before it is fixed, and an empty array cannot occur inside a string.
        printed.replacen("\"logs\":[]", &format!("\"logs\":{logs}"), 1)
    }

    fn decode(value: &Value) -> Result<Self, DecodeError> {
        let obj = Obj::new(value)?;
        let job_type = obj.req("jobType", |v| json::parsed(v, JobType::parse))?;
        let info = JobInfo {
            job_id: obj.req_str("jobId")?.to_owned(),
            created_at: obj.req("createdAt", Timestamp::decode)?,
            started_at: obj.opt("startedAt", Timestamp::decode)?,
            finished_at: obj.opt("finishedAt", Timestamp::decode)?,
            success: obj.req("success", json::as_bool)?,
        };
        let logs = obj.req("logs", |v| json::array_of(v, LogLine::decode))?;
        let name = || obj.req("packageName", PackageName::decode);
        let version = || obj.req("packageVersion", Version::decode);
        let details = match job_type {
            JobType::Publish => JobDetails::Publish {
                package_name: name()?,
                package_version: version()?,
                payload: obj.req("payload", PublishData::decode)?,
            },
            JobType::Unpublish => JobDetails::Unpublish {
                package_name: name()?,
                package_version: version()?,
                payload: obj.req("payload", AuthenticatedData::decode)?,
            },
            JobType::Transfer => JobDetails::Transfer {
                package_name: name()?,
                payload: obj.req("payload", AuthenticatedData::decode)?,
            },
            JobType::Matrix => JobDetails::Matrix {
                package_name: name()?,
                package_version: version()?,
                compiler_version: obj.req("compilerVersion", Version::decode)?,
                payload: obj.req("payload", decode_build_plan)?,
            },
            JobType::PackageSet => {
                JobDetails::PackageSet { payload: obj.req("payload", PackageSetUpdateData::decode)? }
            }
        };
        Ok(Job { info, details, logs })
    }
}

/// A matrix job's build plan: `{ "<package>": "<version>" }`.
pub fn decode_build_plan(value: &Value) -> Result<BTreeMap<PackageName, Version>, DecodeError> {
    let obj = Obj::new(value)?;
    obj.map()
        .iter()
        .map(|(key, v)| {
            let name = PackageName::parse(key).map_err(|e| DecodeError::new(e).at(key))?;
            Ok((name, Version::decode(v).map_err(|e| e.at(key))?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn the_answer_to_a_queued_request_names_its_job() {
        let created = JobCreated { job_id: "01-ab".into() };
        assert_eq!(created.to_compact(), r#"{"jobId":"01-ab"}"#);
        assert_eq!(JobCreated::from_json_str(r#"{"jobId":"01-ab"}"#).unwrap(), created);
        assert!(JobCreated::from_json_str(r#"{"error":"no"}"#).is_err());
    }

    #[test]
    fn matrix_job_keys_are_alphabetical_and_optional_times_omitted() {
        let job = Job {
            info: JobInfo {
                job_id: "j".into(),
                created_at: ts(0),
                started_at: None,
                finished_at: None,
                success: false,
            },
            details: JobDetails::Matrix {
                package_name: PackageName::parse("prelude").unwrap(),
                package_version: Version::new(6, 0, 1),
                compiler_version: Version::new(0, 15, 15),
                payload: BTreeMap::new(),
            },
            logs: vec![LogLine {
                job_id: "j".into(),
                level: LogLevel::Notice,
                message: "m".into(),
                timestamp: ts(1),
            }],
        };
        let printed = job.to_compact();
        assert_eq!(
            printed,
            r#"{"compilerVersion":"0.15.15","createdAt":"1970-01-01T00:00:00.000Z","jobId":"j","jobType":"matrix","logs":[{"jobId":"j","level":"NOTICE","message":"m","timestamp":"1970-01-01T00:00:00.001Z"}],"packageName":"prelude","packageVersion":"6.0.1","payload":{},"success":false}"#
        );
        assert_eq!(Job::from_json_str(&printed).unwrap(), job);
    }

    #[test]
    fn fast_printing_equals_printing_the_encoded_value() {
        let publish = PublishData::from_json_str(
            r#"{"name":"logs","ref":"v1","version":"1.0.0","resolutions":{"logs":"1.0.0"}}"#,
        )
        .unwrap();
        let line = |i: i64, message: &str| LogLine {
            job_id: "id \"quoted\"".into(),
            level: LogLevel::ALL[i as usize % 5],
            message: message.into(),
            timestamp: ts(i),
        };
        let job = Job {
            info: JobInfo {
                job_id: "j".into(),
                created_at: ts(0),
                started_at: Some(ts(1)),
                finished_at: None,
                success: false,
            },
            details: JobDetails::Publish {
                package_name: PackageName::parse("logs").unwrap(),
                package_version: Version::new(1, 0, 0),
                payload: publish,
            },
            logs: vec![
                line(1, "plain"),
                line(2, "quote \" backslash \\ newline \n tab \t ctrl \u{1} é \u{2028}"),
                line(3, "\"logs\":[]"),
            ],
        };
        assert_eq!(job.to_compact(), json::print_compact(&job.encode()));
        let empty = Job { logs: Vec::new(), ..job };
        assert_eq!(empty.to_compact(), json::print_compact(&empty.encode()));
    }

    #[test]
    fn levels_round_trip_through_priorities() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::from_priority(level.priority()), Ok(level));
            assert_eq!(LogLevel::parse(level.as_str()), Ok(level));
        }
        assert!(LogLevel::parse("info").is_err());
        assert_eq!(LogLevel::Notice.priority(), 25);
    }
}

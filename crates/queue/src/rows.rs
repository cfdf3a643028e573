//! What both stores share: job rows decoded into the core's types (so a row that
//! cannot be decoded names its job), the kind tables and the keys of signed payloads.

use registry_core::job::{JobDetails, JobInfo, JobType, decode_build_plan};
use registry_core::json::{self, Codec};
use registry_core::operation::{AuthenticatedData, PackageSetUpdateData, PublishData};
use registry_core::{PackageName, Timestamp, Version};

use crate::{NewJob, Order, StoreError};

pub(crate) fn table(kind: JobType) -> &'static str {
    match kind {
        JobType::Publish => "publish_jobs",
        JobType::Unpublish => "unpublish_jobs",
        JobType::Transfer => "transfer_jobs",
        JobType::Matrix => "matrix_jobs",
        JobType::PackageSet => "package_set_jobs",
    }
}

pub(crate) fn ts_param(t: Timestamp) -> String {
    t.to_string()
}

pub(crate) fn parse_ts(job_id: &str, text: &str) -> Result<Timestamp, StoreError> {
    Timestamp::parse_lenient(text).map_err(|reason| StoreError::Corrupt { job_id: job_id.to_owned(), reason })
}

pub(crate) fn corrupt(job_id: &str, what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { job_id: job_id.to_owned(), reason: format!("{what}: {reason}") }
}

/// The key of a signed payload in `used_signatures`.
pub(crate) fn payload_hash(data: &AuthenticatedData) -> String {
    registry_core::Sha256::of_bytes(data.raw_payload.as_bytes()).as_str().to_owned()
}

pub(crate) fn signed_payload(job: &NewJob) -> Option<&AuthenticatedData> {
    match job {
        NewJob::Unpublish(data) | NewJob::Transfer(data) => Some(data),
        _ => None,
    }
}

/// The raw columns of one job row, read without interpretation so that decoding
/// failures can name the job.
pub(crate) struct JobRow {
    pub job_id: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub success: bool,
    pub kind_columns: [Option<String>; 13],
}

pub(crate) fn decode_job_row(row: JobRow) -> Result<(JobInfo, JobDetails), StoreError> {
    let id = row.job_id.as_str();
    let info = JobInfo {
        job_id: row.job_id.clone(),
        created_at: parse_ts(id, &row.created_at)?,
        started_at: row.started_at.as_deref().map(|t| parse_ts(id, t)).transpose()?,
        finished_at: row.finished_at.as_deref().map(|t| parse_ts(id, t)).transpose()?,
        success: row.success,
    };
    let c = &row.kind_columns;
    let name = |s: &Option<String>| {
        PackageName::parse(s.as_deref().unwrap_or("")).map_err(|e| corrupt(id, "packageName", e))
    };
    let version = |what: &str, s: &Option<String>| {
        Version::parse(s.as_deref().unwrap_or("")).map_err(|e| corrupt(id, what, e))
    };
    let payload =
        |s: &Option<String>| json::parse(s.as_deref().unwrap_or("")).map_err(|e| corrupt(id, "payload", e));
    let details = if c[2].is_some() {
        JobDetails::Publish {
            package_name: name(&c[0])?,
            package_version: version("packageVersion", &c[1])?,
            payload: PublishData::decode(&payload(&c[2])?).map_err(|e| corrupt(id, "payload", e))?,
        }
    } else if c[5].is_some() {
        JobDetails::Unpublish {
            package_name: name(&c[3])?,
            package_version: version("packageVersion", &c[4])?,
            payload: AuthenticatedData::decode(&payload(&c[5])?).map_err(|e| corrupt(id, "payload", e))?,
        }
    } else if c[7].is_some() {
        JobDetails::Transfer {
            package_name: name(&c[6])?,
            payload: AuthenticatedData::decode(&payload(&c[7])?).map_err(|e| corrupt(id, "payload", e))?,
        }
    } else if c[11].is_some() {
        JobDetails::Matrix {
            package_name: name(&c[8])?,
            package_version: version("packageVersion", &c[9])?,
            compiler_version: version("compilerVersion", &c[10])?,
            payload: decode_build_plan(&payload(&c[11])?).map_err(|e| corrupt(id, "payload", e))?,
        }
    } else if c[12].is_some() {
        JobDetails::PackageSet {
            payload: PackageSetUpdateData::decode(&payload(&c[12])?)
                .map_err(|e| corrupt(id, "payload", e))?,
        }
    } else {
        return Err(corrupt(id, "kind", "no row in any job kind table"));
    };
    Ok((info, details))
}

pub(crate) fn order_sql(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

//! Commit messages written to the registry's git repositories.

/// Appends `\n\nJob ID: <id>` when the commit is made inside a job.
pub fn append_job_id(message: &str, job_id: Option<&str>) -> String {
    match job_id {
        Some(id) => format!("{message}\n\nJob ID: {id}"),
        None => message.to_owned(),
    }
}

pub fn update_manifest(name: &str, version: &str) -> String {
    format!("Update manifest for {name}@{version}")
}

pub fn remove_manifest(name: &str, version: &str) -> String {
    format!("Remove manifest entry for {name}@{version}")
}

pub fn update_metadata(name: &str) -> String {
    format!("Update metadata for {name}")
}

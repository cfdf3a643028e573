//! Transfer jobs: move a package to a new location (upstream `API.authenticated`).
//!
//! The signature must verify against pacchettibotti's key or one of the owner keys
//! in the package's metadata; then the metadata's `location` is replaced and the
//! change committed to the registry repository. Re-running a job whose change is
//! already there (a crash after the push) succeeds without a new commit.

use registry_adapters::{ActivityLog, FileChange};
use registry_core::auth::{self, AuthError};
use registry_core::commit;
use registry_core::job::JobDetails;
use registry_core::json::{self, Codec};
use registry_core::location::Owner;
use registry_core::metadata::Metadata;
use registry_core::operation::AuthenticatedOperation;

use crate::job_context::{JobContext, JobFailure, JobHandler};

pub struct TransferHandler {
    /// pacchettibotti, who may sign any package's operations; `None` if not configured.
    trustee: Option<Owner>,
}

impl TransferHandler {
    pub fn new(trustee: Option<Owner>) -> Self {
        TransferHandler { trustee }
    }
}

fn location_text(location: &registry_core::Location) -> String {
    json::print_compact(&location.encode())
}

/// Any key (trustee first, then owners) that verifies the signature is enough.
fn authenticate(
    trustee: Option<&Owner>,
    owners: &[Owner],
    raw_payload: &str,
    signature: &str,
) -> Result<(), AuthError> {
    match (trustee, owners.split_first()) {
        (Some(trustee), _) => auth::verify(trustee, owners, raw_payload, signature),
        (None, Some((first, rest))) => auth::verify(first, rest, raw_payload, signature),
        (None, None) => Err(AuthError::NoKeyVerifies { rejections: Vec::new() }),
    }
}

/// Another package whose metadata names `location` (upstream forgets this check).
async fn package_at(
    ctx: &JobContext,
    location: &registry_core::Location,
    except: &registry_core::PackageName,
) -> Result<Option<String>, JobFailure> {
    let own = format!("metadata/{except}.json");
    for path in ctx.adapters.registry.all_files().await? {
        let Some(other) = path.strip_prefix("metadata/").and_then(|p| p.strip_suffix(".json")) else {
            continue;
        };
        if path == own {
            continue;
        }
        let Some(text) = ctx.adapters.registry.read(&path).await? else { continue };
        // A metadata file that does not decode cannot claim a location; it is reported elsewhere.
        if Metadata::from_json_str(&text).is_ok_and(|m| &m.location == location) {
            return Ok(Some(other.to_owned()));
        }
    }
    Ok(None)
}

#[async_trait::async_trait]
impl JobHandler for TransferHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobFailure> {
        let JobDetails::Transfer { package_name: name, payload } = &ctx.job.details else {
            return Err(JobFailure("The transfer handler received a job of another kind.".into()));
        };
        let AuthenticatedOperation::Transfer(transfer) = &payload.operation else {
            return Err(JobFailure("Expected transfer operation.".into()));
        };
        let log: &dyn ActivityLog = ctx.log.as_ref();
        let path = format!("metadata/{name}.json");
        let text = ctx.adapters.registry.read(&path).await?.ok_or_else(|| {
            JobFailure(format!(
                "{name} cannot be transferred: the registry has no metadata for it (it was never published)."
            ))
        })?;
        let mut metadata = Metadata::from_json_str(&text)
            .map_err(|e| JobFailure(format!("The registry's metadata for {name} cannot be read: {e}")))?;

        let owners = metadata.owners.clone().unwrap_or_default();
        if let Err(err) =
            authenticate(self.trustee.as_ref(), &owners, &payload.raw_payload, &payload.signature)
        {
            return Err(JobFailure(if owners.is_empty() {
                format!(
                    "{name} lists no owners in its metadata, so only a trustee can sign for it, and the \
                     signature is not a trustee's: {err}"
                )
            } else {
                format!("Failed to authenticate the transfer of {name}: {err}")
            }));
        }
        log.info(&format!("The signature of the transfer of {name} is valid."));
        super::use_signature(ctx, payload).await?;

        if metadata.location == transfer.new_location {
            log.notice(&format!(
                "{name} is already at {}: nothing to change.",
                location_text(&metadata.location)
            ));
            return Ok(());
        }
        if let Some(other) = package_at(ctx, &transfer.new_location, name).await? {
            return Err(JobFailure(format!(
                "{name} cannot be transferred to {}: the package {other} is already published from that \
                 location. Each location belongs to one package; choose another repository (or subdir).",
                location_text(&transfer.new_location)
            )));
        }
        let old = location_text(&metadata.location);
        metadata.location = transfer.new_location.clone();
        let message =
            commit::append_job_id(&commit::update_metadata(name.as_str()), Some(&ctx.job.info.job_id));
        ctx.adapters.registry.commit(&[FileChange::write(path, metadata.to_pretty())], &message, log).await?;
        log.notice(&format!("Transferred {name} from {old} to {}.", location_text(&transfer.new_location)));
        Ok(())
    }
}

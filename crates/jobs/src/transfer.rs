//! Transfer jobs: move a package to a new location (upstream `API.authenticated`).
//!
//! The signature must verify against pacchettibotti's key or one of the owner keys
//! in the package's metadata; then the metadata's `location` is replaced and the
//! change committed to the registry repository. Re-running a job whose change is
//! already there (a crash after the push) succeeds without a new commit.

use registry_adapters::FileChange;
use registry_core::PackageName;
use registry_core::auth::{self, AuthError};
use registry_core::commit;
use registry_core::json::{self, Codec};
use registry_core::location::Owner;
use registry_core::metadata::Metadata;
use registry_core::operation::{AuthenticatedData, AuthenticatedOperation};

use crate::queue::JobQueue;
use crate::registry::metadata_path;
use crate::{Failure, JobEnv};

pub struct Transferer {
    /// pacchettibotti, who may sign any package's operations; `None` if not configured.
    trustee: Option<Owner>,
}

impl Transferer {
    pub fn new(trustee: Option<Owner>) -> Self {
        Transferer { trustee }
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
    env: &JobEnv,
    location: &registry_core::Location,
    except: &PackageName,
) -> Result<Option<String>, Failure> {
    let own = metadata_path(except);
    for path in env.registry.all_files().await? {
        let Some(other) = path.strip_prefix("metadata/").and_then(|p| p.strip_suffix(".json")) else {
            continue;
        };
        if path == own {
            continue;
        }
        let Some(text) = env.registry.read(&path).await? else { continue };
        // A metadata file that does not decode cannot claim a location; it is reported elsewhere.
        if Metadata::from_json_str(&text).is_ok_and(|m| &m.location == location) {
            return Ok(Some(other.to_owned()));
        }
    }
    Ok(None)
}

impl Transferer {
    /// Transfers `name` as the signed `payload` asks; `queue` records the use of the
    /// signature once it verified, before any effect.
    pub async fn run(
        &self,
        env: &JobEnv,
        queue: &dyn JobQueue,
        name: &PackageName,
        payload: &AuthenticatedData,
    ) -> Result<(), Failure> {
        let AuthenticatedOperation::Transfer(transfer) = &payload.operation else {
            return Err(Failure("Expected transfer operation.".into()));
        };
        let log = env.log();
        let path = metadata_path(name);
        let text = env.registry.read(&path).await?.ok_or_else(|| {
            Failure(format!(
                "{name} cannot be transferred: the registry has no metadata for it (it was never published)."
            ))
        })?;
        let mut metadata = Metadata::from_json_str(&text)
            .map_err(|e| Failure(format!("The registry's metadata for {name} cannot be read: {e}")))?;

        let owners = metadata.owners.clone().unwrap_or_default();
        if let Err(err) =
            authenticate(self.trustee.as_ref(), &owners, &payload.raw_payload, &payload.signature)
        {
            return Err(Failure(if owners.is_empty() {
                format!(
                    "{name} lists no owners in its metadata, so only a trustee can sign for it, and the \
                     signature is not a trustee's: {err}"
                )
            } else {
                format!("Failed to authenticate the transfer of {name}: {err}")
            }));
        }
        log.info(&format!("The signature of the transfer of {name} is valid."));
        queue.use_signature(payload).await?;

        if metadata.location == transfer.new_location {
            log.notice(&format!(
                "{name} is already at {}: nothing to change.",
                location_text(&metadata.location)
            ));
            return Ok(());
        }
        if let Some(other) = package_at(env, &transfer.new_location, name).await? {
            return Err(Failure(format!(
                "{name} cannot be transferred to {}: the package {other} is already published from that \
                 location. Each location belongs to one package; choose another repository (or subdir).",
                location_text(&transfer.new_location)
            )));
        }
        let old = location_text(&metadata.location);
        metadata.location = transfer.new_location.clone();
        let message = commit::append_job_id(&commit::update_metadata(name.as_str()), env.job());
        env.registry.commit(&[FileChange::write(path, metadata.to_pretty())], &message, log).await?;
        log.notice(&format!("Transferred {name} from {old} to {}.", location_text(&transfer.new_location)));
        Ok(())
    }
}

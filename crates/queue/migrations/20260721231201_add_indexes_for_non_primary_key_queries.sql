-- migrate:up

-- Duplicate checks on submission.
CREATE INDEX IF NOT EXISTS idx_publish_jobs_name_version ON publish_jobs (packageName, packageVersion);
CREATE INDEX IF NOT EXISTS idx_unpublish_jobs_name_version ON unpublish_jobs (packageName, packageVersion);
CREATE INDEX IF NOT EXISTS idx_transfer_jobs_name ON transfer_jobs (packageName);

-- Picking the next job to run.
CREATE INDEX IF NOT EXISTS idx_job_info_pending ON job_info (createdAt)
WHERE finishedAt IS NULL AND startedAt IS NULL;

-- migrate:down

DROP INDEX IF EXISTS idx_publish_jobs_name_version;
DROP INDEX IF EXISTS idx_unpublish_jobs_name_version;
DROP INDEX IF EXISTS idx_transfer_jobs_name;
DROP INDEX IF EXISTS idx_job_info_pending;

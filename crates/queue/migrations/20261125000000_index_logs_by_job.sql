-- migrate:up

-- Upstream reads a job's logs by scanning the whole table; with this index
-- `GET /api/v1/jobs/{jobId}` stays fast however many jobs have run.
CREATE INDEX IF NOT EXISTS idx_logs_job_timestamp ON logs (jobId, timestamp);

-- migrate:down

DROP INDEX IF EXISTS idx_logs_job_timestamp;

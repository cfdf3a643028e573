-- migrate:up

-- Upstream's tables (see ../migrations), in one migration, with what many workers
-- need: `seq` orders jobs created in the same millisecond (SQLite's rowid), and a
-- claim is a lease (`claimToken`, `leaseOwner`, `leaseExpires` on the database's clock,
-- so workers' clocks may disagree). Timestamps stay ISO-8601 text with milliseconds in
-- UTC, as upstream stores them: string order is time order.
CREATE TABLE job_info (
  jobId TEXT PRIMARY KEY NOT NULL,
  seq BIGSERIAL NOT NULL UNIQUE,
  createdAt TEXT NOT NULL,
  startedAt TEXT,
  finishedAt TEXT,
  success INTEGER NOT NULL DEFAULT 0,
  -- Times the job was interrupted: its worker died or lost its lease.
  resetCount INTEGER NOT NULL DEFAULT 0,
  -- Set by each claim; every write of the claimant names it, so a worker whose lease
  -- was taken over writes nothing more.
  claimToken TEXT,
  leaseOwner TEXT,
  leaseExpires TIMESTAMPTZ
);

CREATE TABLE publish_jobs (
  jobId TEXT PRIMARY KEY NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  payload TEXT NOT NULL
);

CREATE TABLE unpublish_jobs (
  jobId TEXT PRIMARY KEY NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  payload TEXT NOT NULL
);

CREATE TABLE transfer_jobs (
  jobId TEXT PRIMARY KEY NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  packageName TEXT NOT NULL,
  payload TEXT NOT NULL
);

CREATE TABLE matrix_jobs (
  jobId TEXT PRIMARY KEY NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  compilerVersion TEXT NOT NULL,
  payload TEXT NOT NULL
);

CREATE TABLE package_set_jobs (
  jobId TEXT PRIMARY KEY NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  payload TEXT NOT NULL,
  rawPayload TEXT NOT NULL,
  signature TEXT
);

CREATE TABLE logs (
  id BIGSERIAL PRIMARY KEY,
  jobId TEXT NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  level BIGINT NOT NULL,
  message TEXT NOT NULL,
  timestamp TEXT NOT NULL
);

CREATE TABLE used_signatures (
  payloadHash TEXT PRIMARY KEY NOT NULL,
  signature TEXT NOT NULL,
  jobId TEXT NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  usedAt TEXT NOT NULL
);

-- Package locks held by a claim (`holder` = its claimToken). A lock is free once its
-- claim's lease expired or its job finished: a frozen or dead worker holds no lock
-- past its lease (a session advisory lock would stay held by a stopped process
-- whose connection the kernel keeps open).
CREATE TABLE package_locks (
  packageName TEXT PRIMARY KEY NOT NULL,
  holder TEXT NOT NULL
);

CREATE INDEX idx_publish_jobs_name_version ON publish_jobs (packageName, packageVersion);
CREATE INDEX idx_unpublish_jobs_name_version ON unpublish_jobs (packageName, packageVersion);
CREATE INDEX idx_transfer_jobs_name ON transfer_jobs (packageName);
CREATE INDEX idx_matrix_jobs_key ON matrix_jobs (packageName, packageVersion, compilerVersion);
CREATE INDEX idx_job_info_pending ON job_info (createdAt, seq) WHERE finishedAt IS NULL AND startedAt IS NULL;
CREATE INDEX idx_job_info_running ON job_info (leaseExpires) WHERE finishedAt IS NULL AND startedAt IS NOT NULL;
CREATE INDEX idx_job_info_claim ON job_info (claimToken);
CREATE INDEX idx_logs_job_timestamp ON logs (jobId, timestamp);

-- migrate:down

DROP TABLE package_locks;
DROP TABLE used_signatures;
DROP TABLE logs;
DROP TABLE package_set_jobs;
DROP TABLE matrix_jobs;
DROP TABLE transfer_jobs;
DROP TABLE unpublish_jobs;
DROP TABLE publish_jobs;
DROP TABLE job_info;

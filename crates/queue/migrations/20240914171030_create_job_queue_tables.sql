-- migrate:up

-- What every job has, whatever its kind. Timestamps are ISO-8601 strings with
-- millisecond precision in UTC, so string order is time order.
CREATE TABLE job_info (
  jobId TEXT PRIMARY KEY NOT NULL,
  createdAt TEXT NOT NULL,
  startedAt TEXT,
  finishedAt TEXT,
  success INTEGER NOT NULL DEFAULT 0,
  -- Times the job was found running at start-up (the server died under it).
  resetCount INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE publish_jobs (
  jobId TEXT PRIMARY KEY NOT NULL,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  payload JSON NOT NULL,
  FOREIGN KEY (jobId) REFERENCES job_info (jobId) ON DELETE CASCADE
);

CREATE TABLE unpublish_jobs (
  jobId TEXT PRIMARY KEY NOT NULL,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  payload JSON NOT NULL,
  FOREIGN KEY (jobId) REFERENCES job_info (jobId) ON DELETE CASCADE
);

CREATE TABLE transfer_jobs (
  jobId TEXT PRIMARY KEY NOT NULL,
  packageName TEXT NOT NULL,
  payload JSON NOT NULL,
  FOREIGN KEY (jobId) REFERENCES job_info (jobId) ON DELETE CASCADE
);

-- payload is the build plan, fixed when the job is queued.
CREATE TABLE matrix_jobs (
  jobId TEXT PRIMARY KEY NOT NULL,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  compilerVersion TEXT NOT NULL,
  payload JSON NOT NULL,
  FOREIGN KEY (jobId) REFERENCES job_info (jobId) ON DELETE CASCADE
);

-- payload is the canonical operation JSON (used to find duplicates); rawPayload
-- is the text the client sent and signed.
CREATE TABLE package_set_jobs (
  jobId TEXT PRIMARY KEY NOT NULL,
  payload JSON NOT NULL,
  rawPayload TEXT NOT NULL,
  signature TEXT,
  FOREIGN KEY (jobId) REFERENCES job_info (jobId) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  jobId TEXT NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  level INTEGER NOT NULL,
  message TEXT NOT NULL,
  timestamp TEXT NOT NULL
);

-- migrate:down

DROP TABLE logs;
DROP TABLE package_set_jobs;
DROP TABLE matrix_jobs;
DROP TABLE transfer_jobs;
DROP TABLE unpublish_jobs;
DROP TABLE publish_jobs;
DROP TABLE job_info;

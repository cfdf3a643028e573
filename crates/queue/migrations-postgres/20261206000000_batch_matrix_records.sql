-- migrate:up

-- Matrix results waiting to be written to the registry repository together: each
-- finished matrix job files its result here, and whichever worker holds the writer's
-- lock (the `package_locks` row named `*matrix-records*`, held by a claim like any
-- package lock) writes every pending result in one commit and files each job's
-- outcome. A job reports success only once its outcome says its result was pushed.
-- A result whose holder's lease expired is left out: that job runs again elsewhere.
CREATE TABLE matrix_records (
  jobId TEXT PRIMARY KEY NOT NULL,
  holder TEXT NOT NULL,
  packageName TEXT NOT NULL,
  packageVersion TEXT NOT NULL,
  compilerVersion TEXT NOT NULL,
  filedAt TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
  written BOOLEAN,
  outcome TEXT
);

CREATE INDEX idx_matrix_records_pending ON matrix_records (filedAt) WHERE outcome IS NULL;

-- migrate:down

DROP TABLE matrix_records;

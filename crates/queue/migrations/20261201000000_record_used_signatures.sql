-- migrate:up

-- Signed payloads (unpublish, transfer) that a job has acted on, so a signed request
-- is carried out once and cannot be replayed later (payloads carry no nonce or
-- expiry, and GET /api/v1/jobs publishes them). Keyed by the payload's SHA-256: a
-- signature is valid only for its payload, and an ECDSA signature can be rewritten
-- into another valid one for the same payload, so the payload must not come back.
-- A row whose job failed no longer counts: the request may be sent again.
CREATE TABLE IF NOT EXISTS used_signatures (
  payloadHash TEXT PRIMARY KEY NOT NULL,
  signature TEXT NOT NULL,
  jobId TEXT NOT NULL REFERENCES job_info (jobId) ON DELETE CASCADE,
  usedAt TEXT NOT NULL
);

-- migrate:down

DROP TABLE IF EXISTS used_signatures;

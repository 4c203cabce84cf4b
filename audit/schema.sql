-- mcp-warden audit store, schema version 2.
-- Events form a hash chain: hash = SHA-256("mcp-warden/audit/v1\0" || prev_hash (hex text) || canonical(event)),
-- where canonical(event) is the JSON array of the columns below from seq to extra, in this order.
-- mac = HMAC-SHA-256(key derived from the signing key, hash): only the key holder can recompute it.
-- Checkpoints sign the chain head with Ed25519 and are also appended to an anchor file outside this database.

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE IF NOT EXISTS events (
  seq            INTEGER PRIMARY KEY,   -- 1, 2, 3 … without gaps (after the prune base)
  id             TEXT    NOT NULL,      -- time-ordered random id (UUIDv7 layout)
  ts             TEXT    NOT NULL,      -- RFC 3339, UTC, milliseconds
  event          TEXT    NOT NULL,      -- exchange | server_request | notification | bad_input | auth_failure | …
  session        TEXT,
  principal_sub  TEXT,
  client_id      TEXT,
  issuer         TEXT,
  server         TEXT,
  method         TEXT,
  target         TEXT,
  decision       TEXT,                  -- allow | deny | ask | shadow-deny …
  rule           TEXT,
  reason         TEXT,
  status         TEXT,                  -- ok | error | denied | timeout | cancelled | failed | dropped
  latency_ms     REAL,
  bytes_in       INTEGER,
  bytes_out      INTEGER,
  args           TEXT,                  -- per audit.capture: NULL (none, hash) or redacted JSON, size-capped
  args_sha256    TEXT,
  result_sha256  TEXT,
  redactions     TEXT,                  -- JSON object rule → count
  policy_version TEXT,
  extra          TEXT,                  -- JSON object: direction, transport, era, error code, counts …
  prev_hash      TEXT    NOT NULL,
  hash           TEXT    NOT NULL,
  mac            TEXT    NOT NULL
) STRICT;

-- No secondary index: each one costs a B-tree page written on every commit, on the path of every call under
-- strict durability (schema version 2 dropped the two of version 1). Reviews scan in seq order instead.

CREATE TABLE IF NOT EXISTS checkpoints (
  seq        INTEGER PRIMARY KEY,       -- the chain length it covers (the last event's seq)
  ts         TEXT    NOT NULL,
  head       TEXT    NOT NULL,          -- hash of event #seq
  key_id     TEXT    NOT NULL,
  note       TEXT    NOT NULL,          -- the signed text
  signature  TEXT    NOT NULL           -- base64 Ed25519 signature of note
) STRICT;

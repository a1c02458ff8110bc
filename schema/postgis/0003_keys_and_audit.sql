-- API keys (src/auth.rs): only the SHA-256 of each token is kept.
CREATE TABLE IF NOT EXISTS machizu_api_keys (
  id text PRIMARY KEY,
  token_sha256 text NOT NULL UNIQUE,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('public', 'staff', 'admin')),
  layers text,                         -- comma-separated layer ids; NULL for all
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- The audit log of feature edits: who, when, what, before and after (GeoJSON in the store CRS).
CREATE TABLE IF NOT EXISTS machizu_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  action text NOT NULL CHECK (action IN ('create', 'replace', 'update', 'delete')),
  layer text NOT NULL,
  feature_id bigint NOT NULL,
  before jsonb,
  after jsonb
);
CREATE INDEX IF NOT EXISTS machizu_audit_feature ON machizu_audit (layer, feature_id);

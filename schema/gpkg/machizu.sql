-- machizu's own tables next to the GeoPackage core (idempotent; run at every open).

-- API keys (src/auth.rs): only the SHA-256 of each token is kept.
CREATE TABLE IF NOT EXISTS machizu_api_keys (
  id TEXT PRIMARY KEY NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('public', 'staff', 'admin')),
  layers TEXT,                         -- comma-separated layer ids; NULL for all
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  revoked_at DATETIME
);

-- The audit log of feature edits: who, when, what, before and after (GeoJSON in the store CRS).
CREATE TABLE IF NOT EXISTS machizu_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('create', 'replace', 'update', 'delete')),
  layer TEXT NOT NULL,
  feature_id INTEGER NOT NULL,
  before TEXT,
  after TEXT
);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('machizu_audit', 'attributes', 'machizu_audit', 'machizu audit log of feature edits');

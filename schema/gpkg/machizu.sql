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

-- Vehicles that report positions (src/live/vehicle.rs): only the SHA-256 of each device
-- credential is kept. `num` is the vehicle's feature id in the snowplow layers.
CREATE TABLE IF NOT EXISTS machizu_vehicles (
  num INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('plow', 'blower', 'spreader', 'patrol')),
  operator TEXT,
  label TEXT NOT NULL,
  public BOOLEAN NOT NULL,
  device_sha256 TEXT NOT NULL UNIQUE,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  revoked_at DATETIME
);

-- Every accepted position report (src/live/): device time and server time, in WGS 84, with its
-- quality flags (comma-separated; NULL when plausible) and the road it was matched to.
CREATE TABLE IF NOT EXISTS machizu_fixes (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  vehicle TEXT NOT NULL,
  device_time DATETIME NOT NULL,
  received_at DATETIME NOT NULL,
  lon REAL NOT NULL,
  lat REAL NOT NULL,
  speed_mps REAL,
  heading_deg REAL,
  altitude_m REAL,
  accuracy_m REAL,
  hdop REAL,
  battery_pct REAL,
  blade_down BOOLEAN,
  spreader_on BOOLEAN,
  extra TEXT,
  flags TEXT,
  road INTEGER,
  UNIQUE (vehicle, device_time)
);
CREATE INDEX IF NOT EXISTS machizu_fixes_time ON machizu_fixes (device_time);
CREATE INDEX IF NOT EXISTS machizu_fixes_road ON machizu_fixes (road, device_time) WHERE road IS NOT NULL;
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('machizu_fixes', 'attributes', 'machizu_fixes', 'machizu vehicle position reports (WGS 84)');

-- Route inference (src/network/, src/live/): the stretches of roads each plowing vehicle drove
-- between two fixes, in metres along the road, with the time it left each, keyed by the fix that
-- closed the route; and, per vehicle, the newest fix whose match is recorded (matching resumes
-- there after a restart).
CREATE TABLE IF NOT EXISTS machizu_road_passes (
  fix_id INTEGER NOT NULL,
  vehicle TEXT NOT NULL,
  road INTEGER NOT NULL,
  from_m REAL NOT NULL,
  to_m REAL NOT NULL,
  left_at DATETIME NOT NULL,
  PRIMARY KEY (fix_id, road, from_m)
);
CREATE INDEX IF NOT EXISTS machizu_road_passes_time ON machizu_road_passes (left_at);
CREATE TABLE IF NOT EXISTS machizu_match_progress (
  vehicle TEXT PRIMARY KEY NOT NULL,
  device_time DATETIME NOT NULL
);

-- Staff accounts of the web map (src/users.rs): argon2id password hashes (PHC strings),
-- failed sign-ins and lock-out.
CREATE TABLE IF NOT EXISTS machizu_users (
  name TEXT PRIMARY KEY NOT NULL,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('staff', 'admin')),
  password_hash TEXT NOT NULL,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until DATETIME,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  disabled_at DATETIME
);

-- Signed-in sessions of the web map: the cookie's token only as a SHA-256 hash, and the
-- session's CSRF token that every write must echo.
CREATE TABLE IF NOT EXISTS machizu_sessions (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_name TEXT NOT NULL REFERENCES machizu_users (name),
  csrf TEXT NOT NULL,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  expires_at DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_sessions_user ON machizu_sessions (user_name);

-- OGC SensorThings API (src/sensors/): Things, Locations, HistoricalLocations, Sensors,
-- ObservedProperties, Datastreams and FeaturesOfInterest, each a JSON body (its own properties
-- and its links) keyed by entity type and id; the engine holds them all in memory.
CREATE TABLE IF NOT EXISTS machizu_sta_entities (
  kind TEXT NOT NULL,
  id INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);
-- Every observation: the device's time (phenomenon_time, an interval when phenomenon_end is
-- set), the result's time (the server's time of receipt unless the device gave one), when the
-- server received it, the result as JSON and, when it is a number, also as one.
CREATE TABLE IF NOT EXISTS machizu_sta_observations (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  datastream INTEGER NOT NULL,
  foi INTEGER NOT NULL,
  phenomenon_time DATETIME NOT NULL,
  phenomenon_end DATETIME,
  result_time DATETIME,
  received_at DATETIME NOT NULL,
  result TEXT NOT NULL,
  result_number REAL,
  result_quality TEXT,
  valid_start DATETIME,
  valid_end DATETIME,
  parameters TEXT
);
CREATE INDEX IF NOT EXISTS machizu_sta_observations_time ON machizu_sta_observations (datastream, phenomenon_time);
CREATE INDEX IF NOT EXISTS machizu_sta_observations_foi ON machizu_sta_observations (foi);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('machizu_sta_observations', 'attributes', 'machizu_sta_observations', 'machizu SensorThings observations');
-- The devices that post observations and camera images for a SensorThings Thing (a station):
-- only the SHA-256 of each credential is kept.
CREATE TABLE IF NOT EXISTS machizu_sta_devices (
  id TEXT PRIMARY KEY NOT NULL,
  thing INTEGER NOT NULL,
  name TEXT NOT NULL,
  device_sha256 TEXT NOT NULL UNIQUE,
  created_at DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  revoked_at DATETIME
);
-- Changes of a datastream's state (src/sensors/state.rs): a threshold crossed up or down, 欠測
-- (no data) and its end. `from_state`/`to_state`: unknown, missing, or level:n (0: below every
-- threshold). `at`: the observation's phenomenon time, or when the silence began.
CREATE TABLE IF NOT EXISTS machizu_sta_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  datastream INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  at DATETIME NOT NULL,
  value REAL,
  recorded_at DATETIME NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_sta_events_datastream ON machizu_sta_events (datastream, id);
-- Hourly aggregates of numeric observations (kept for good; raw observations are thinned after
-- [sensors] raw_retention_days), and the newest observation id aggregated so far.
CREATE TABLE IF NOT EXISTS machizu_sta_hourly (
  datastream INTEGER NOT NULL,
  hour DATETIME NOT NULL,
  n INTEGER NOT NULL,
  lo REAL NOT NULL,
  hi REAL NOT NULL,
  total REAL NOT NULL,
  PRIMARY KEY (datastream, hour)
);
CREATE TABLE IF NOT EXISTS machizu_sta_aggregated (
  one INTEGER PRIMARY KEY NOT NULL CHECK (one = 1),
  last_id INTEGER NOT NULL
);
-- Camera stills (src/store/cameras.rs): each camera's (a Thing's) newest image of each hour.
-- The bytes are files in the data directory, camera-images/{sha256}.jpg, kept once by content.
CREATE TABLE IF NOT EXISTS machizu_camera_images (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  thing INTEGER NOT NULL,
  taken_at DATETIME NOT NULL,
  hour TEXT NOT NULL,
  received_at DATETIME NOT NULL,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_camera_images_thing ON machizu_camera_images (thing, taken_at);
CREATE INDEX IF NOT EXISTS machizu_camera_images_sha256 ON machizu_camera_images (sha256);

-- Notices to residents (src/store/notices.rs): each notice's current version as a JSON
-- document; every CAP message that went out for it (what later messages reference); and the
-- audit log of every step (create, publish, update, cancel) with the document before and after.
CREATE TABLE IF NOT EXISTS machizu_notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
  ends_at DATETIME NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  created_by TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_notices_current ON machizu_notices (status, ends_at);
CREATE TABLE IF NOT EXISTS machizu_notice_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  notice INTEGER NOT NULL REFERENCES machizu_notices (id),
  version INTEGER NOT NULL,
  msg_type TEXT NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
  sent DATETIME NOT NULL,
  fanned_out_at DATETIME               -- when its push deliveries were queued
);
CREATE INDEX IF NOT EXISTS machizu_notice_messages_notice ON machizu_notice_messages (notice);
CREATE TABLE IF NOT EXISTS machizu_notice_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  at DATETIME NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  notice INTEGER NOT NULL REFERENCES machizu_notices (id),
  version INTEGER NOT NULL,
  before TEXT,
  after TEXT
);
CREATE INDEX IF NOT EXISTS machizu_notice_audit_notice ON machizu_notice_audit (notice);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('machizu_notices', 'attributes', 'machizu_notices', 'machizu notices to residents'),
  ('machizu_notice_messages', 'attributes', 'machizu_notice_messages', 'machizu CAP messages of notices'),
  ('machizu_notice_audit', 'attributes', 'machizu_notice_audit', 'machizu audit log of notices');

-- Web Push (src/store/push.rs): residents' browser subscriptions with their places, categories
-- and language, and nothing else; the delivery queue, a row per (CAP message, subscription).
CREATE TABLE IF NOT EXISTS machizu_push_subscriptions (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  endpoint TEXT NOT NULL UNIQUE,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL,
  places TEXT NOT NULL,                -- JSON [{lon, lat, radius_m, label}]
  categories TEXT NOT NULL,            -- comma-separated
  lang TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE TABLE IF NOT EXISTS machizu_push_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  message INTEGER NOT NULL REFERENCES machizu_notice_messages (id),
  subscription INTEGER NOT NULL,       -- no reference: a gone subscription's counts stay
  state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'gone')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at DATETIME NOT NULL,
  last_status INTEGER,
  UNIQUE (message, subscription)
);
CREATE INDEX IF NOT EXISTS machizu_push_deliveries_due ON machizu_push_deliveries (state, next_at);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('machizu_push_subscriptions', 'attributes', 'machizu_push_subscriptions', 'machizu Web Push subscriptions'),
  ('machizu_push_deliveries', 'attributes', 'machizu_push_deliveries', 'machizu Web Push delivery queue');

-- Layers made from files (src/store/layers.rs): each one's definition as JSON; its features are
-- in its own table, registered like the built-in layers'.
CREATE TABLE IF NOT EXISTS machizu_layer_defs (
  id TEXT PRIMARY KEY NOT NULL,
  definition TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description) VALUES
  ('machizu_layer_defs', 'attributes', 'machizu_layer_defs', 'machizu definitions of layers made from files');

-- A version per layer table, moved by triggers on every row change whoever makes it
-- (src/store/gpkg/sql/layer_version_triggers.sql): an engine snapshot (src/engine/snapshot) is
-- used at start only while its layer's version is the one it was built from.
CREATE TABLE IF NOT EXISTS machizu_layer_versions (
  layer TEXT PRIMARY KEY NOT NULL,
  version INTEGER NOT NULL
);

-- OGC SensorThings API (src/sensors/): Things, Locations, HistoricalLocations, Sensors,
-- ObservedProperties, Datastreams and FeaturesOfInterest, each a JSON body (its own properties
-- and its links) keyed by entity type and id; the engine holds them all in memory.
CREATE TABLE IF NOT EXISTS machizu_sta_entities (
  kind text NOT NULL,
  id bigint NOT NULL,
  body jsonb NOT NULL,
  PRIMARY KEY (kind, id)
);

-- Every observation: the device's time (phenomenon_time, an interval when phenomenon_end is
-- set), the result's time (the server's time of receipt unless the device gave one), when the
-- server received it, the result as JSON and, when it is a number, also as one.
CREATE TABLE IF NOT EXISTS machizu_sta_observations (
  id bigserial PRIMARY KEY,
  datastream bigint NOT NULL,
  foi bigint NOT NULL,
  phenomenon_time timestamptz NOT NULL,
  phenomenon_end timestamptz,
  result_time timestamptz,
  received_at timestamptz NOT NULL,
  result jsonb NOT NULL,
  result_number double precision,
  result_quality jsonb,
  valid_start timestamptz,
  valid_end timestamptz,
  parameters jsonb
);
CREATE INDEX IF NOT EXISTS machizu_sta_observations_time ON machizu_sta_observations (datastream, phenomenon_time);
CREATE INDEX IF NOT EXISTS machizu_sta_observations_foi ON machizu_sta_observations (foi);

-- The devices that post observations and camera images for a SensorThings Thing (a station):
-- only the SHA-256 of each credential is kept.
CREATE TABLE IF NOT EXISTS machizu_sta_devices (
  id text PRIMARY KEY,
  thing bigint NOT NULL,
  name text NOT NULL,
  device_sha256 text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Changes of a datastream's state (src/sensors/state.rs): a threshold crossed up or down, 欠測
-- (no data) and its end. `from_state`/`to_state`: unknown, missing, or level:n (0: below every
-- threshold). `at`: the observation's phenomenon time, or when the silence began.
CREATE TABLE IF NOT EXISTS machizu_sta_events (
  id bigserial PRIMARY KEY,
  datastream bigint NOT NULL,
  from_state text NOT NULL,
  to_state text NOT NULL,
  at timestamptz NOT NULL,
  value double precision,
  recorded_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_sta_events_datastream ON machizu_sta_events (datastream, id);

-- Hourly aggregates of numeric observations (kept for good; raw observations are thinned after
-- [sensors] raw_retention_days), and the newest observation id aggregated so far.
CREATE TABLE IF NOT EXISTS machizu_sta_hourly (
  datastream bigint NOT NULL,
  hour timestamptz NOT NULL,
  n bigint NOT NULL,
  lo double precision NOT NULL,
  hi double precision NOT NULL,
  total double precision NOT NULL,
  PRIMARY KEY (datastream, hour)
);
CREATE TABLE IF NOT EXISTS machizu_sta_aggregated (
  one integer PRIMARY KEY CHECK (one = 1),
  last_id bigint NOT NULL
);

-- Vehicles that report positions (src/live/vehicle.rs): only the SHA-256 of each device
-- credential is kept. `num` is the vehicle's feature id in the snowplow layers.
CREATE TABLE IF NOT EXISTS machizu_vehicles (
  num bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('plow', 'blower', 'spreader', 'patrol')),
  operator text,
  label text NOT NULL,
  public boolean NOT NULL,
  device_sha256 text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

-- Every accepted position report (src/live/): device time and server time, in WGS 84, with its
-- quality flags (comma-separated; NULL when plausible) and the road it was matched to.
CREATE TABLE IF NOT EXISTS machizu_fixes (
  id bigserial PRIMARY KEY,
  vehicle text NOT NULL,
  device_time timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  lon double precision NOT NULL,
  lat double precision NOT NULL,
  speed_mps double precision,
  heading_deg double precision,
  altitude_m double precision,
  accuracy_m double precision,
  hdop double precision,
  battery_pct double precision,
  blade_down boolean,
  spreader_on boolean,
  extra jsonb,
  flags text,
  road bigint,
  geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
  UNIQUE (vehicle, device_time)
);
CREATE INDEX IF NOT EXISTS machizu_fixes_time ON machizu_fixes (device_time);
CREATE INDEX IF NOT EXISTS machizu_fixes_road ON machizu_fixes (road, device_time) WHERE road IS NOT NULL;

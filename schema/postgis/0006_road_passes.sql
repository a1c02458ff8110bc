-- Route inference (src/network/, src/live/): the stretches of roads each plowing vehicle drove
-- between two fixes, in metres along the road, with the time it left each, keyed by the fix that
-- closed the route; and, per vehicle, the newest fix whose match is recorded (matching resumes
-- there after a restart).
CREATE TABLE IF NOT EXISTS machizu_road_passes (
  fix_id bigint NOT NULL,
  vehicle text NOT NULL,
  road bigint NOT NULL,
  from_m double precision NOT NULL,
  to_m double precision NOT NULL,
  left_at timestamptz NOT NULL,
  PRIMARY KEY (fix_id, road, from_m)
);
CREATE INDEX IF NOT EXISTS machizu_road_passes_time ON machizu_road_passes (left_at);

CREATE TABLE IF NOT EXISTS machizu_match_progress (
  vehicle text PRIMARY KEY,
  device_time timestamptz NOT NULL
);

-- $1: as in record_matches.sql; the passes (a pass recorded twice is kept once).
INSERT INTO machizu_road_passes (fix_id, vehicle, road, from_m, to_m, left_at)
SELECT fix_id, vehicle, road, from_m, to_m, "time"
FROM jsonb_to_recordset($1::jsonb -> 'passes') AS p(fix_id bigint, vehicle text, road bigint,
     from_m double precision, to_m double precision, "time" timestamptz)
ON CONFLICT DO NOTHING

-- ?1: as in record_matches.sql; the passes (a pass recorded twice is kept once).
INSERT INTO machizu_road_passes (fix_id, vehicle, road, from_m, to_m, left_at)
SELECT value ->> 'fix_id', value ->> 'vehicle', value ->> 'road', value ->> 'from_m', value ->> 'to_m', value ->> 'time'
FROM json_each(?1, '$.passes')
WHERE true
ON CONFLICT DO NOTHING

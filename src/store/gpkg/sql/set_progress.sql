-- ?1: as in record_matches.sql; the newest fix matched per vehicle.
INSERT INTO machizu_match_progress (vehicle, device_time)
SELECT value ->> 'vehicle', value ->> 'time' FROM json_each(?1, '$.progress')
WHERE true
ON CONFLICT (vehicle) DO UPDATE SET device_time = excluded.device_time

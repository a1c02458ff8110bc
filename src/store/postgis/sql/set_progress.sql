-- $1: as in record_matches.sql; the newest fix matched per vehicle.
INSERT INTO machizu_match_progress (vehicle, device_time)
SELECT vehicle, "time" FROM jsonb_to_recordset($1::jsonb -> 'progress') AS p(vehicle text, "time" timestamptz)
ON CONFLICT (vehicle) DO UPDATE SET device_time = excluded.device_time

-- How far matching got, per vehicle.
SELECT vehicle, to_char(device_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM machizu_match_progress

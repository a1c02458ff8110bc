-- Every sensor device ($1 NULL), or the one whose credential has the hash $1.
SELECT id, thing, name,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_sta_devices
WHERE $1::text IS NULL OR device_sha256 = $1
ORDER BY created_at, id

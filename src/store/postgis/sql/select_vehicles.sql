SELECT num, id, name, kind, operator, label, public,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_vehicles
WHERE $1::text IS NULL OR device_sha256 = $1
ORDER BY num

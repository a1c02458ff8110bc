-- When each road was last driven by a plowing vehicle (fixes matched to it), since $1.
SELECT road, to_char(max(device_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_fixes WHERE road IS NOT NULL AND device_time >= $1::timestamptz GROUP BY road

-- Playback: the fixes of one vehicle ($1) or all (NULL) with $2 <= device time < $3, in time order.
SELECT id, vehicle,
       to_char(device_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS device_time,
       to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
       lon, lat, speed_mps, heading_deg, altitude_m, accuracy_m,
       hdop, battery_pct, blade_down, spreader_on, extra::text AS extra, flags, road
FROM machizu_fixes
WHERE ($1::text IS NULL OR vehicle = $1) AND device_time >= $2::timestamptz AND device_time < $3::timestamptz
ORDER BY machizu_fixes.device_time, id
LIMIT $4 OFFSET $5

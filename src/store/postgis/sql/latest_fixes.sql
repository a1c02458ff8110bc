-- Each vehicle's newest plausible fix taken since $1.
SELECT DISTINCT ON (vehicle) id, vehicle,
       to_char(device_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS device_time,
       to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS received_at,
       lon, lat, speed_mps, heading_deg, altitude_m, accuracy_m,
       hdop, battery_pct, blade_down, spreader_on, extra::text AS extra, flags, road
FROM machizu_fixes
WHERE flags IS NULL AND machizu_fixes.device_time >= $1::timestamptz
ORDER BY vehicle, machizu_fixes.device_time DESC

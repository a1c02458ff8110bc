-- ?1: a JSON array of fixes (src/store/fleet.rs `FixRow`). Duplicates (same vehicle and device
-- time as a stored fix) are skipped; the rows written come back.
INSERT INTO machizu_fixes (vehicle, device_time, received_at, lon, lat, speed_mps, heading_deg, altitude_m,
                           accuracy_m, hdop, battery_pct, blade_down, spreader_on, extra, flags, road)
SELECT value ->> 'vehicle', value ->> 'time', value ->> 'received_at', value ->> 'lon', value ->> 'lat',
       value ->> 'speed_mps', value ->> 'heading_deg', value ->> 'altitude_m', value ->> 'accuracy_m',
       value ->> 'hdop', value ->> 'battery_pct', value ->> 'blade_down', value ->> 'spreader_on',
       CASE WHEN json_type(value, '$.extra') = 'object' THEN value -> 'extra' END,
       value ->> 'flags', value ->> 'road'
FROM json_each(?1)
WHERE true
ON CONFLICT (vehicle, device_time) DO NOTHING
RETURNING id, vehicle, device_time

-- Playback: the fixes of one vehicle (?1) or all (NULL) with ?2 <= device time < ?3, in time order.
SELECT id, vehicle, device_time, received_at, lon, lat, speed_mps, heading_deg, altitude_m, accuracy_m,
       hdop, battery_pct, blade_down, spreader_on, extra, flags, road
FROM machizu_fixes
WHERE (?1 IS NULL OR vehicle = ?1) AND device_time >= ?2 AND device_time < ?3
ORDER BY device_time, id
LIMIT ?4 OFFSET ?5

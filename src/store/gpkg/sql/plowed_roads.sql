-- When each road was last driven by a plowing vehicle (fixes matched to it), since ?1.
SELECT road, max(device_time) FROM machizu_fixes WHERE road IS NOT NULL AND device_time >= ?1 GROUP BY road

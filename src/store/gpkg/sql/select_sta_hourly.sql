-- Datastream ?1's hourly aggregates with ?2 <= hour < ?3.
SELECT hour, n, lo, hi, total FROM machizu_sta_hourly
WHERE datastream = ?1 AND hour >= ?2 AND hour < ?3
ORDER BY hour

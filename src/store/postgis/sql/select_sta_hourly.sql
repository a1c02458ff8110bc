-- Datastream $1's hourly aggregates with $2 <= hour < $3.
SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), n, lo, hi, total FROM machizu_sta_hourly
WHERE datastream = $1 AND hour >= $2::timestamptz AND hour < $3::timestamptz
ORDER BY hour

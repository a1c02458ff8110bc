-- Adds the numeric observations with ids after the last aggregated one, up to $1, to their
-- hours' aggregates (merging with what is there: late observations of an hour count too).
INSERT INTO machizu_sta_hourly (datastream, hour, n, lo, hi, total)
SELECT datastream, date_trunc('hour', phenomenon_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', count(*),
       min(result_number), max(result_number), sum(result_number)
FROM machizu_sta_observations
WHERE id > coalesce((SELECT last_id FROM machizu_sta_aggregated), 0) AND id <= $1 AND result_number IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (datastream, hour) DO UPDATE SET
  n = machizu_sta_hourly.n + excluded.n, lo = least(machizu_sta_hourly.lo, excluded.lo),
  hi = greatest(machizu_sta_hourly.hi, excluded.hi), total = machizu_sta_hourly.total + excluded.total

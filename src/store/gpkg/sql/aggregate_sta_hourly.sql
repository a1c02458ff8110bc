-- Adds the numeric observations with ids after the last aggregated one, up to ?1, to their
-- hours' aggregates (merging with what is there: late observations of an hour count too).
INSERT INTO machizu_sta_hourly (datastream, hour, n, lo, hi, total)
SELECT datastream, substr(phenomenon_time, 1, 13) || ':00:00.000Z', count(*), min(result_number),
       max(result_number), sum(result_number)
FROM machizu_sta_observations
WHERE id > coalesce((SELECT last_id FROM machizu_sta_aggregated), 0) AND id <= ?1 AND result_number IS NOT NULL
GROUP BY 1, 2
ON CONFLICT (datastream, hour) DO UPDATE SET
  n = n + excluded.n, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi), total = total + excluded.total

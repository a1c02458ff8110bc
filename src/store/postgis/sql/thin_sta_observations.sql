-- Deletes raw observations taken before $1 that are in the hourly aggregates already.
DELETE FROM machizu_sta_observations
WHERE phenomenon_time < $1::timestamptz AND id <= coalesce((SELECT last_id FROM machizu_sta_aggregated), 0)

-- Observations (followed by sta_observations_where.sql, then ORDER BY and LIMIT ?11 OFFSET ?12).
SELECT id, datastream, foi, phenomenon_time, phenomenon_end, result_time, received_at, result,
       result_quality, valid_start, valid_end, parameters
FROM machizu_sta_observations

-- The newest observation id.
SELECT coalesce(max(id), 0) FROM machizu_sta_observations

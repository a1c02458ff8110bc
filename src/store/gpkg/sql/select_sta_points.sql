-- A chart's points: datastream ?1's numeric results with ?2 <= phenomenon time < ?3, oldest
-- first, at most ?4 (two columns only: a day's chart reads about 1,440 rows).
SELECT phenomenon_time, result_number FROM machizu_sta_observations
WHERE datastream = ?1 AND phenomenon_time >= ?2 AND phenomenon_time < ?3 AND result_number IS NOT NULL
ORDER BY phenomenon_time
LIMIT ?4

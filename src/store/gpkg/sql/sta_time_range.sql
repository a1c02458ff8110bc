-- The first and last phenomenon time of datastream ?1 (both read from the index).
SELECT (SELECT min(phenomenon_time) FROM machizu_sta_observations WHERE datastream = ?1),
       (SELECT max(phenomenon_time) FROM machizu_sta_observations WHERE datastream = ?1)

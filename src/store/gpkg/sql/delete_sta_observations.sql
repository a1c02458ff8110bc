-- The observations of the datastreams in ?1, of the features of interest in ?2, and with the ids
-- in ?3 (three JSON arrays of ids).
DELETE FROM machizu_sta_observations
WHERE datastream IN (SELECT value FROM json_each(?1))
   OR foi IN (SELECT value FROM json_each(?2))
   OR id IN (SELECT value FROM json_each(?3))

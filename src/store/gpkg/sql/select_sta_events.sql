-- The events of the datastreams in ?1 (a JSON array of ids) with id > ?2, oldest first, at most ?3.
SELECT id, datastream, from_state, to_state, at, value, recorded_at
FROM machizu_sta_events
WHERE datastream IN (SELECT value FROM json_each(?1)) AND id > ?2
ORDER BY id
LIMIT ?3

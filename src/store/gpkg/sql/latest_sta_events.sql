-- The newest event of each datastream.
SELECT id, datastream, from_state, to_state, at, value, recorded_at
FROM machizu_sta_events
WHERE id IN (SELECT max(id) FROM machizu_sta_events GROUP BY datastream)

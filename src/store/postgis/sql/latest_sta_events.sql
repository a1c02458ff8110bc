-- The newest event of each datastream.
SELECT DISTINCT ON (datastream) id, datastream, from_state, to_state,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), value,
       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_sta_events
ORDER BY datastream, id DESC

-- The events of the datastreams in $1 (a JSON array of ids) with id > $2, oldest first, at most $3.
SELECT id, datastream, from_state, to_state,
       to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), value,
       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_sta_events
WHERE datastream IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint) AND id > $2
ORDER BY id
LIMIT $3

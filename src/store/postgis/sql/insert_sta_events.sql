-- $1: a JSON array of events (src/store/sensors.rs `EventRow`).
INSERT INTO machizu_sta_events (datastream, from_state, to_state, at, value, recorded_at)
SELECT (e ->> 'datastream')::bigint, e ->> 'from', e ->> 'to', (e ->> 'at')::timestamptz,
       (e ->> 'value')::double precision, (e ->> 'recorded_at')::timestamptz
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, n)
ORDER BY n

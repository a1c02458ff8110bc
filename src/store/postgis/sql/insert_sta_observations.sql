-- $1: a JSON array of observations (src/store/sensors.rs `ObservationRow`), written in order in
-- one statement; their new ids come back.
INSERT INTO machizu_sta_observations (datastream, foi, phenomenon_time, phenomenon_end, result_time, received_at,
                                      result, result_number, result_quality, valid_start, valid_end, parameters)
SELECT (o ->> 'datastream')::bigint, (o ->> 'foi')::bigint, (o ->> 'phenomenon_time')::timestamptz,
       (o ->> 'phenomenon_end')::timestamptz, (o ->> 'result_time')::timestamptz, (o ->> 'received_at')::timestamptz,
       o -> 'result', CASE WHEN jsonb_typeof(o -> 'result') = 'number' THEN (o ->> 'result')::double precision END,
       o -> 'result_quality', (o ->> 'valid_start')::timestamptz, (o ->> 'valid_end')::timestamptz, o -> 'parameters'
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(o, n)
ORDER BY n
RETURNING id

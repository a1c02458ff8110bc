-- ?1: a JSON array of observations (src/store/sensors.rs `ObservationRow`), written in order in
-- one statement; their new ids come back.
INSERT INTO machizu_sta_observations (datastream, foi, phenomenon_time, phenomenon_end, result_time, received_at,
                                      result, result_number, result_quality, valid_start, valid_end, parameters)
SELECT value ->> 'datastream', value ->> 'foi', value ->> 'phenomenon_time', value ->> 'phenomenon_end',
       value ->> 'result_time', value ->> 'received_at', value -> 'result',
       CASE WHEN json_type(value, '$.result') IN ('integer', 'real') THEN value ->> 'result' END,
       value -> 'result_quality', value ->> 'valid_start', value ->> 'valid_end', value -> 'parameters'
FROM json_each(?1)
ORDER BY key
RETURNING id

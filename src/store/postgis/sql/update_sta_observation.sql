-- $1: one observation (src/store/sensors.rs `ObservationRow`, with its id) replacing the stored one.
UPDATE machizu_sta_observations SET
  datastream = ($1::jsonb ->> 'datastream')::bigint, foi = ($1::jsonb ->> 'foi')::bigint,
  phenomenon_time = ($1::jsonb ->> 'phenomenon_time')::timestamptz,
  phenomenon_end = ($1::jsonb ->> 'phenomenon_end')::timestamptz,
  result_time = ($1::jsonb ->> 'result_time')::timestamptz, result = $1::jsonb -> 'result',
  result_number = CASE WHEN jsonb_typeof($1::jsonb -> 'result') = 'number' THEN ($1::jsonb ->> 'result')::double precision END,
  result_quality = $1::jsonb -> 'result_quality', valid_start = ($1::jsonb ->> 'valid_start')::timestamptz,
  valid_end = ($1::jsonb ->> 'valid_end')::timestamptz, parameters = $1::jsonb -> 'parameters'
WHERE id = ($1::jsonb ->> 'id')::bigint

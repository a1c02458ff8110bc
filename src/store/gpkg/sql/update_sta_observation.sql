-- ?1: one observation (src/store/sensors.rs `ObservationRow`, with its id) replacing the stored one.
UPDATE machizu_sta_observations SET
  datastream = ?1 ->> 'datastream', foi = ?1 ->> 'foi', phenomenon_time = ?1 ->> 'phenomenon_time',
  phenomenon_end = ?1 ->> 'phenomenon_end', result_time = ?1 ->> 'result_time', result = ?1 -> 'result',
  result_number = CASE WHEN json_type(?1, '$.result') IN ('integer', 'real') THEN ?1 ->> 'result' END,
  result_quality = ?1 -> 'result_quality', valid_start = ?1 ->> 'valid_start', valid_end = ?1 ->> 'valid_end',
  parameters = ?1 -> 'parameters'
WHERE id = ?1 ->> 'id'

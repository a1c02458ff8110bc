-- ?1: a JSON array of events (src/store/sensors.rs `EventRow`).
INSERT INTO machizu_sta_events (datastream, from_state, to_state, at, value, recorded_at)
SELECT value ->> 'datastream', value ->> 'from', value ->> 'to', value ->> 'at', value ->> 'value', value ->> 'recorded_at'
FROM json_each(?1)
ORDER BY key

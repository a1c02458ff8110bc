-- Every SensorThings entity except observations (src/sensors/model.rs), as JSON bodies.
SELECT kind, id, body FROM machizu_sta_entities ORDER BY kind, id

-- The hourly aggregates of the datastreams in ?1 (a JSON array of ids).
DELETE FROM machizu_sta_hourly WHERE datastream IN (SELECT value FROM json_each(?1))

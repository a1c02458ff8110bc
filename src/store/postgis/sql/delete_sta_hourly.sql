-- The hourly aggregates of the datastreams in $1 (a JSON array of ids).
DELETE FROM machizu_sta_hourly WHERE datastream IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)

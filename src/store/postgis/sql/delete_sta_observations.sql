-- The observations of the datastreams in $1, of the features of interest in $2, and with the ids
-- in $3 (three JSON arrays of ids).
DELETE FROM machizu_sta_observations
WHERE datastream IN (SELECT jsonb_array_elements_text($1::jsonb)::bigint)
   OR foi IN (SELECT jsonb_array_elements_text($2::jsonb)::bigint)
   OR id IN (SELECT jsonb_array_elements_text($3::jsonb)::bigint)

-- The selection shared by the observation queries: $1 a JSON array of datastream ids; $2 a
-- feature of interest; $3 <= id < $4; $5 <= phenomenon time < $6; $7 <= result time < $8;
-- $9 <= numeric result <= $10 (each NULL: no bound).
WHERE datastream = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint))
  AND ($2::bigint IS NULL OR foi = $2)
  AND ($3::bigint IS NULL OR id >= $3) AND ($4::bigint IS NULL OR id < $4)
  AND phenomenon_time >= coalesce($5::timestamptz, '-infinity') AND phenomenon_time < coalesce($6::timestamptz, 'infinity')
  AND ($7::timestamptz IS NULL OR result_time >= $7::timestamptz) AND ($8::timestamptz IS NULL OR result_time < $8::timestamptz)
  AND ($9::double precision IS NULL OR result_number >= $9) AND ($10::double precision IS NULL OR result_number <= $10)

-- The selection shared by the observation queries: ?1 a JSON array of datastream ids; ?2 a
-- feature of interest; ?3 <= id < ?4; ?5 <= phenomenon time < ?6; ?7 <= result time < ?8;
-- ?9 <= numeric result <= ?10 (each NULL: no bound).
WHERE datastream IN (SELECT value FROM json_each(?1))
  AND (?2 IS NULL OR foi = ?2)
  AND (?3 IS NULL OR id >= ?3) AND (?4 IS NULL OR id < ?4)
  AND phenomenon_time >= coalesce(?5, '') AND phenomenon_time < coalesce(?6, '9999-12-31T23:59:59.999Z')
  AND (?7 IS NULL OR result_time >= ?7) AND (?8 IS NULL OR result_time < ?8)
  AND (?9 IS NULL OR result_number >= ?9) AND (?10 IS NULL OR result_number <= ?10)

-- Notice ?1's next version, only if it is still at version ?6: ?2 status, ?3 ends_at, ?4 now,
-- ?5 doc (JSON). Returns the new version; no row when the notice is gone or changed.
UPDATE machizu_notices SET version = version + 1, status = ?2, ends_at = ?3, updated_at = ?4, doc = ?5
WHERE id = ?1 AND version = ?6
RETURNING version

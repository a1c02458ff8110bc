-- Notices: only ?1 (when not null); all (?2) or only those published and not ended at ?3.
-- Most recently changed first, at most ?4.
SELECT id, version, status, created_at, updated_at, created_by, doc
FROM machizu_notices
WHERE (?1 IS NULL OR id = ?1) AND (?2 OR (status = 'published' AND ends_at > ?3))
ORDER BY updated_at DESC, id DESC
LIMIT ?4

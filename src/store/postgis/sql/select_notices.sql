-- Notices: only $1 (when not null); all ($2) or only those published and not ended at $3.
-- Most recently changed first, at most $4.
SELECT id, version, status, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), created_by, doc::text
FROM machizu_notices
WHERE ($1::bigint IS NULL OR id = $1) AND ($2 OR (status = 'published' AND ends_at > NULLIF($3, '')::timestamptz))
ORDER BY updated_at DESC, id DESC
LIMIT $4

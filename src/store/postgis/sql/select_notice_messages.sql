-- The CAP messages of the notices select_notices.sql reads (same binds), oldest first.
SELECT m.notice, m.id, m.version, m.msg_type, to_char(m.sent AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_notice_messages m JOIN machizu_notices n ON n.id = m.notice
WHERE ($1::bigint IS NULL OR n.id = $1) AND ($2 OR (n.status = 'published' AND n.ends_at > NULLIF($3, '')::timestamptz))
ORDER BY m.id

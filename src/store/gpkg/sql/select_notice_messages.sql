-- The CAP messages of the notices select_notices.sql reads (same binds), oldest first.
SELECT m.notice, m.id, m.version, m.msg_type, m.sent
FROM machizu_notice_messages m JOIN machizu_notices n ON n.id = m.notice
WHERE (?1 IS NULL OR n.id = ?1) AND (?2 OR (n.status = 'published' AND n.ends_at > ?3))
ORDER BY m.id

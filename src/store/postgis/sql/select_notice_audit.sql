-- Notice $1's audit log, oldest first.
SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), actor, action, version, before::text, after::text
FROM machizu_notice_audit WHERE notice = $1 ORDER BY id

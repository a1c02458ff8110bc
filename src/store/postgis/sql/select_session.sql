-- A live session ($1: token hash, $2: now) of an account that is not disabled: the account's
-- columns as in select_users.sql, then the session's CSRF token.
SELECT u.name, u.display_name, u.role, u.password_hash, u.failed_logins::bigint,
       to_char(u.locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       to_char(u.disabled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), s.csrf
FROM machizu_sessions s JOIN machizu_users u ON u.name = s.user_name
WHERE s.token_hash = $1 AND s.expires_at > $2::timestamptz AND u.disabled_at IS NULL

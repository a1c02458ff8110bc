-- A live session (?1: token hash, ?2: now) of an account that is not disabled: the account's
-- columns as in select_users.sql, then the session's CSRF token.
SELECT u.name, u.display_name, u.role, u.password_hash, u.failed_logins, CAST(u.locked_until AS TEXT),
       CAST(u.created_at AS TEXT), CAST(u.disabled_at AS TEXT), s.csrf
FROM machizu_sessions s JOIN machizu_users u ON u.name = s.user_name
WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL

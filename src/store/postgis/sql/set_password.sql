-- A new password also lifts a lock-out.
UPDATE machizu_users SET password_hash = $2, failed_logins = 0, locked_until = NULL WHERE name = $1

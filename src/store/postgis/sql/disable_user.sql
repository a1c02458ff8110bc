UPDATE machizu_users SET disabled_at = now() WHERE name = $1 AND disabled_at IS NULL

UPDATE machizu_users SET disabled_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE name = ?1 AND disabled_at IS NULL

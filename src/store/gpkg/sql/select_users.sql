SELECT name, display_name, role, password_hash, failed_logins, CAST(locked_until AS TEXT),
       CAST(created_at AS TEXT), CAST(disabled_at AS TEXT)
FROM machizu_users
WHERE ?1 IS NULL OR name = ?1
ORDER BY name

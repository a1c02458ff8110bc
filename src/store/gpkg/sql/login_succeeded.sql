UPDATE machizu_users SET failed_logins = 0 WHERE name = ?1

DELETE FROM machizu_sessions WHERE expires_at <= ?1

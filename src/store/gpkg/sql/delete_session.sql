DELETE FROM machizu_sessions WHERE token_hash = ?1

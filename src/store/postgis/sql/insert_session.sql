INSERT INTO machizu_sessions (token_hash, user_name, csrf, expires_at) VALUES ($1, $2, $3, $4::timestamptz)

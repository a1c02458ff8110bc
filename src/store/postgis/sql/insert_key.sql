INSERT INTO machizu_api_keys (id, token_sha256, name, role, layers) VALUES ($1, $2, $3, $4, $5)
RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')

INSERT INTO machizu_api_keys (id, token_sha256, name, role, layers) VALUES (?1, ?2, ?3, ?4, ?5)
RETURNING CAST(created_at AS TEXT)

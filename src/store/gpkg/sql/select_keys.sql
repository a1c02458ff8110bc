SELECT id, name, role, layers, CAST(created_at AS TEXT), CAST(revoked_at AS TEXT)
FROM machizu_api_keys
WHERE ?1 IS NULL OR token_sha256 = ?1
ORDER BY created_at, id

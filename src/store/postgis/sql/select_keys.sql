SELECT id, name, role, layers,
       to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM machizu_api_keys
WHERE $1::text IS NULL OR token_sha256 = $1
ORDER BY created_at, id

SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor, action, layer, feature_id,
       before::text, after::text
FROM machizu_audit
WHERE ($1::text IS NULL OR layer = $1) AND ($2::bigint IS NULL OR feature_id = $2)
ORDER BY id DESC
LIMIT $3

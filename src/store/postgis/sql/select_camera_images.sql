-- Camera $1's images (or, with $1 null, image $2), newest first, at most $3.
SELECT id, thing, to_char(taken_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), sha256, bytes, width, height
FROM machizu_camera_images
WHERE ($1::bigint IS NULL OR thing = $1) AND ($2::bigint IS NULL OR id = $2)
ORDER BY taken_at DESC, id DESC
LIMIT $3

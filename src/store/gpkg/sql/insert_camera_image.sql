-- A camera image's row (its bytes are a file already).
INSERT INTO machizu_camera_images (thing, taken_at, hour, received_at, sha256, bytes, width, height)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
RETURNING id

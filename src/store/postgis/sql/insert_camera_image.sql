-- A camera image's row (its bytes are in machizu_camera_image_data).
INSERT INTO machizu_camera_images (thing, taken_at, hour, received_at, sha256, bytes, width, height)
VALUES ($1, $2::timestamptz, $3, $4::timestamptz, $5, $6, $7, $8)
RETURNING id

-- A camera image's bytes, once by content.
INSERT INTO machizu_camera_image_data (sha256, data) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING

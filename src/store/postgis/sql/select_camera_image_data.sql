-- The bytes of content hash $1.
SELECT data FROM machizu_camera_image_data WHERE sha256 = $1

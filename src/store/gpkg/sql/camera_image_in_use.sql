-- Whether any image row still has content hash ?1.
SELECT EXISTS (SELECT 1 FROM machizu_camera_images WHERE sha256 = ?1)

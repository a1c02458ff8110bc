-- The bytes of content hashes $1 that no image row has any more.
DELETE FROM machizu_camera_image_data d
WHERE d.sha256 = ANY($1) AND NOT EXISTS (SELECT 1 FROM machizu_camera_images i WHERE i.sha256 = d.sha256)

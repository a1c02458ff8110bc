-- Of camera ?1's images of hour ?2, all but the newest go; returns their ids and content hashes.
DELETE FROM machizu_camera_images
WHERE thing = ?1 AND hour = ?2 AND id <> (
  SELECT id FROM machizu_camera_images WHERE thing = ?1 AND hour = ?2 ORDER BY taken_at DESC, id DESC LIMIT 1
)
RETURNING id, sha256

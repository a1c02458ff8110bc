-- Camera ?1's images (or, with ?1 null, image ?2), newest first, at most ?3.
SELECT id, thing, taken_at, received_at, sha256, bytes, width, height FROM machizu_camera_images
WHERE (?1 IS NULL OR thing = ?1) AND (?2 IS NULL OR id = ?2)
ORDER BY taken_at DESC, id DESC
LIMIT ?3

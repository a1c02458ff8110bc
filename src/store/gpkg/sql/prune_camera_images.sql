-- Images taken before ?1 go, except each camera's newest; returns their ids and content hashes.
DELETE FROM machizu_camera_images AS i
WHERE taken_at < ?1 AND EXISTS (
  SELECT 1 FROM machizu_camera_images n
  WHERE n.thing = i.thing AND (n.taken_at > i.taken_at OR (n.taken_at = i.taken_at AND n.id > i.id))
)
RETURNING id, sha256

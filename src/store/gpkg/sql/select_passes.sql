-- The passes driven since ?1, oldest first.
SELECT fix_id, vehicle, road, from_m, to_m, left_at FROM machizu_road_passes WHERE left_at >= ?1 ORDER BY left_at, fix_id

-- The passes driven since $1, oldest first.
SELECT fix_id, vehicle, road, from_m, to_m,
       to_char(left_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM machizu_road_passes WHERE left_at >= $1::timestamptz ORDER BY left_at, fix_id

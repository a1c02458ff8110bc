UPDATE gpkg_contents SET
  min_x = min(coalesce(min_x, ?2), ?2), min_y = min(coalesce(min_y, ?3), ?3),
  max_x = max(coalesce(max_x, ?4), ?4), max_y = max(coalesce(max_y, ?5), ?5),
  last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
WHERE table_name = ?1

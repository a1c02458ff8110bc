-- Forget a layer's extent before its content is replaced (update_extent.sql widens it again).
UPDATE gpkg_contents SET min_x = NULL, min_y = NULL, max_x = NULL, max_y = NULL WHERE table_name = ?1

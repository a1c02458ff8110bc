SELECT COALESCE((SELECT version FROM machizu_layer_versions WHERE layer = ?1), 0)

UPDATE machizu_layer_defs SET definition = ?2, updated_at = ?3 WHERE id = ?1

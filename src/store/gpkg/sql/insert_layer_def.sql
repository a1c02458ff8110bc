INSERT INTO machizu_layer_defs (id, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)

INSERT INTO machizu_layer_defs (id, definition) VALUES ($1, $2::jsonb)

UPDATE machizu_layer_defs SET definition = $2::jsonb, updated_at = now() WHERE id = $1

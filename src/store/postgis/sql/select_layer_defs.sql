-- Stored layer definitions, oldest first; `$1` one id, or NULL for all.
SELECT id, definition::text FROM machizu_layer_defs WHERE $1::text IS NULL OR id = $1 ORDER BY created_at, id

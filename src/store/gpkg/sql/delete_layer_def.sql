DELETE FROM machizu_layer_defs WHERE id = ?1

INSERT OR IGNORE INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m)
VALUES (?1, 'geom', ?2, ?3, 0, 0)

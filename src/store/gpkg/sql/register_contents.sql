INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES (?1, 'features', ?2, ?3, ?4)
ON CONFLICT (table_name) DO UPDATE SET identifier = excluded.identifier, description = excluded.description

-- A removed layer's registration: its geometry column first (it refers to the contents row).
DELETE FROM gpkg_geometry_columns WHERE table_name = ?1;
DELETE FROM gpkg_contents WHERE table_name = ?1

INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, definition, description)
VALUES (?1, ?2, 'EPSG', ?2, ?3, ?4)

-- Per-layer triggers that move the layer's version (schema/gpkg/machizu.sql) with every row
-- inserted, updated or deleted, by machizu or by any other program that writes the GeoPackage
-- (QGIS, GDAL). SQLite triggers run per row. A version is the time of the change in
-- microseconds (or one more than the last, if that is later): a store restored from a backup,
-- or another store, never comes back to a version a snapshot was built from with other rows.
-- `{t}` is the layer table, substituted from the catalog. One statement per line group,
-- separated by blank lines, run in order.
INSERT OR IGNORE INTO machizu_layer_versions (layer, version)
  VALUES ('{t}', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))

CREATE TRIGGER IF NOT EXISTS "{t}_version_insert" AFTER INSERT ON "{t}" BEGIN
  UPDATE machizu_layer_versions
    SET version = max(version + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    WHERE layer = '{t}';
END

CREATE TRIGGER IF NOT EXISTS "{t}_version_update" AFTER UPDATE ON "{t}" BEGIN
  UPDATE machizu_layer_versions
    SET version = max(version + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    WHERE layer = '{t}';
END

CREATE TRIGGER IF NOT EXISTS "{t}_version_delete" AFTER DELETE ON "{t}" BEGIN
  UPDATE machizu_layer_versions
    SET version = max(version + 1, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))
    WHERE layer = '{t}';
END

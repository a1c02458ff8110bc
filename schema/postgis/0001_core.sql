-- machizu's PostGIS core: the extension and machizu's own key/value metadata.
-- Layer tables are created from the layer catalog at start (src/store/postgis/mod.rs).
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE IF NOT EXISTS machizu_meta (
  key text PRIMARY KEY,
  value text NOT NULL
);

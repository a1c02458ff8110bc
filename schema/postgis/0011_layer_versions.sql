-- A version per layer table that moves with every statement that changes its rows, whoever runs
-- it (machizu, QGIS, psql, an ETL job): an engine snapshot (src/engine/snapshot) records the
-- version it was built from and is used at start only while the version is the same. A version
-- is the time of the change in microseconds (or one more than the last, if that is later): a
-- database restored from a dump, or another database, never comes back to a version a snapshot
-- was built from with other rows. A layer gets its first version when machizu prepares it
-- (src/store/postgis/sql/layer_triggers.sql).
CREATE TABLE machizu_layer_versions (
  layer text PRIMARY KEY,
  version bigint NOT NULL
);

CREATE FUNCTION machizu_version_now() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
$$;

-- The change feed's function (0002_change_feed.sql), now also moving the layer's version in the
-- same transaction.
CREATE OR REPLACE FUNCTION machizu_notify_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT string_agg(fid::text, ',') INTO ids FROM new_rows;
  ELSIF TG_OP = 'UPDATE' THEN
    SELECT string_agg(fid::text, ',') INTO ids
      FROM (SELECT fid FROM old_rows UNION SELECT fid FROM new_rows) AS changed;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT string_agg(fid::text, ',') INTO ids FROM old_rows;
  ELSE
    ids := '*';
  END IF;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO machizu_layer_versions (layer, version) VALUES (TG_TABLE_NAME, machizu_version_now())
    ON CONFLICT (layer) DO UPDATE
    SET version = GREATEST(machizu_layer_versions.version + 1, machizu_version_now());
  IF length(ids) > 7900 - length(TG_TABLE_NAME) THEN
    ids := '*';
  END IF;
  PERFORM pg_notify('machizu_changes', TG_TABLE_NAME || ':' || ids);
  RETURN NULL;
END
$$;

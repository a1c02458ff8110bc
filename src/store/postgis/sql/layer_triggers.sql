-- Per-layer triggers for the change feed (functions in schema/postgis/0002_change_feed.sql).
-- `{t}` is the layer table, substituted from the catalog. One statement per line group,
-- separated by blank lines, run in order.
CREATE OR REPLACE TRIGGER "{t}_touch" BEFORE UPDATE ON "{t}"
  FOR EACH ROW EXECUTE FUNCTION machizu_touch();

CREATE OR REPLACE TRIGGER "{t}_notify_insert" AFTER INSERT ON "{t}"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION machizu_notify_changes();

CREATE OR REPLACE TRIGGER "{t}_notify_update" AFTER UPDATE ON "{t}"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION machizu_notify_changes();

CREATE OR REPLACE TRIGGER "{t}_notify_delete" AFTER DELETE ON "{t}"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION machizu_notify_changes();

CREATE OR REPLACE TRIGGER "{t}_notify_truncate" AFTER TRUNCATE ON "{t}"
  FOR EACH STATEMENT EXECUTE FUNCTION machizu_notify_changes();

INSERT INTO machizu_layer_versions (layer, version) VALUES ('{t}', machizu_version_now())
  ON CONFLICT (layer) DO NOTHING

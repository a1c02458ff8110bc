-- Layers made from files (src/store/layers.rs): each one's definition; its features are in its
-- own table with the change triggers of every layer. A made, changed or removed definition is
-- told on the change feed as `@layers:<id>` (no layer id starts with `@`), at commit, so
-- that every machizu process serving this database adds, changes or drops the layer.
CREATE TABLE machizu_layer_defs (
  id text PRIMARY KEY,
  definition jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION machizu_notify_layer_defs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('machizu_changes', '@layers:' || COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END
$$;

CREATE TRIGGER machizu_layer_defs_notify AFTER INSERT OR UPDATE OR DELETE ON machizu_layer_defs
  FOR EACH ROW EXECUTE FUNCTION machizu_notify_layer_defs();

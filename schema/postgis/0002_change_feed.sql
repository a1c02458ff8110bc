-- The change feed: whoever changes a layer table (machizu, QGIS, psql, an ETL job), every
-- machizu process hears of it through NOTIFY on channel `machizu_changes` when the transaction
-- commits. Triggers on each layer table are created from the catalog at start
-- (src/store/postgis/mod.rs); these are the functions they call.

-- Row versions for optimistic concurrency and change times, kept by the database so that
-- edits from other programs count too.
CREATE OR REPLACE FUNCTION machizu_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- One notification per statement, payload `<table>:<fid>,<fid>,…` naming every row the
-- statement inserted, updated (old and new fid) or deleted, or `<table>:*` when the list would
-- not fit a notification (8000 bytes) or the table was truncated. Listeners re-read the named
-- rows: a fid that is gone was deleted. Notifications from one transaction arrive together, at
-- commit; rolled-back work sends none.
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
  IF length(ids) > 7900 - length(TG_TABLE_NAME) THEN
    ids := '*';
  END IF;
  PERFORM pg_notify('machizu_changes', TG_TABLE_NAME || ':' || ids);
  RETURN NULL;
END
$$;

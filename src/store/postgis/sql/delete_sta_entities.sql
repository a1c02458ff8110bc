-- $1: a JSON array of {kind, id} to delete.
DELETE FROM machizu_sta_entities
WHERE (kind, id) IN (SELECT kind, id FROM jsonb_to_recordset($1::jsonb) AS r(kind text, id bigint))

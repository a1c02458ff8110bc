-- $1: a JSON array of {kind, id, body}: written, or replaced when the entity exists.
INSERT INTO machizu_sta_entities (kind, id, body)
SELECT kind, id, body FROM jsonb_to_recordset($1::jsonb) AS r(kind text, id bigint, body jsonb)
ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body

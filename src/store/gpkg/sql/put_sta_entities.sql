-- ?1: a JSON array of {kind, id, body}: written, or replaced when the entity exists.
INSERT INTO machizu_sta_entities (kind, id, body)
SELECT value ->> 'kind', value ->> 'id', value -> 'body' FROM json_each(?1)
WHERE true
ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body

-- ?1: a JSON array of {kind, id} to delete.
DELETE FROM machizu_sta_entities
WHERE (kind, id) IN (SELECT value ->> 'kind', value ->> 'id' FROM json_each(?1))

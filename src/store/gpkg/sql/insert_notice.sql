-- A new notice at version 1: ?1 status, ?2 ends_at, ?3 now, ?4 actor, ?5 doc (JSON).
INSERT INTO machizu_notices (version, status, ends_at, created_at, updated_at, created_by, doc)
VALUES (1, ?1, ?2, ?3, ?3, ?4, ?5)
RETURNING id

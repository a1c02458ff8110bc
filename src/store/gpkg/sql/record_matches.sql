-- ?1: a JSON object {"fixes": [{"id", "road"}], "passes": [PassRow], "progress": [{"vehicle", "time"}]}
-- (src/store/fleet.rs `Matches`): each fix's matched road, the stretches driven, and how far
-- matching got per vehicle. Run in one transaction with the statements after it.
UPDATE machizu_fixes SET road = m.value ->> 'road'
FROM json_each(?1, '$.fixes') AS m
WHERE machizu_fixes.id = m.value ->> 'id';

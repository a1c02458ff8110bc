-- $1: a JSON object {"fixes": [{"id", "road"}], "passes": [PassRow], "progress": [{"vehicle", "time"}]}
-- (src/store/fleet.rs `Matches`): each fix's matched road, the stretches driven, and how far
-- matching got per vehicle. Run in one transaction with the statements after it.
UPDATE machizu_fixes SET road = m.road
FROM jsonb_to_recordset($1::jsonb -> 'fixes') AS m(id bigint, road bigint)
WHERE machizu_fixes.id = m.id
